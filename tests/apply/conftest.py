"""Apply scenarios reuse the runner's project harness and the planner's scenario helpers."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "runner"), str(TESTS / "planner")]
