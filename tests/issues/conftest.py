"""Issue tests reuse the runner's project harness (tests/runner/runhelp.py)."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "runner"), str(TESTS / "planner")]
