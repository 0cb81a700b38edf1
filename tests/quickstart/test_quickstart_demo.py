"""The quickstart runs end to end, and the README's tour is exactly what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tourhelp import REPO, load_script, normalise

DEMO = REPO / "examples" / "quickstart" / "demo.py"


def test_demo_completes_and_the_readme_tour_is_true(tmp_path: Path) -> None:
    tour = tmp_path / "tour.md"
    proc = subprocess.run([sys.executable, str(DEMO), "--keep", str(tmp_path / "qs"),
                           "--transcript", str(tour)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Demo complete: every target completed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    demo = load_script("examples/quickstart/demo.py")
    demo.check(tmp_path / "qs")  # the end state, asserted again from outside
    readme = demo.readme_tour(REPO / "README.md")
    assert normalise(readme) == normalise(tour.read_text()), (
        "README.md's tour differs from what the demo prints now: run "
        "'python examples/quickstart/demo.py --readme README.md' and read the diff")


def test_normalise_keeps_structure() -> None:
    a = "apply ap-01M828P5S5NGS7X03YSW23AD3H then ap-01M828P8JAARVJRQH9KZC1J62D"
    b = "apply ap-01M8000000000000000000000A then ap-01M8000000000000000000000B"
    assert normalise(a) == normalise(b) == "apply <ap1> then <ap2>"
    assert normalise("ap-01M828P5S5NGS7X03YSW23AD3H ap-01M828P5S5NGS7X03YSW23AD3H") == "<ap1> <ap1>"
