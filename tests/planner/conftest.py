"""Planner scenarios reuse the runner's project harness (tests/runner/runhelp.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runner"))
