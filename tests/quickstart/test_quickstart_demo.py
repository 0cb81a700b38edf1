"""The quickstart runs end to end, and the README's tour is exactly what it prints."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "quickstart" / "demo.py"

_PATTERNS = [
    (re.compile(r"\bap-[0-9A-Z]{26}\b"), "ap"),
    (re.compile(r"\bpl-[0-9A-Z]{26}\b"), "pl"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]*Z?"), "time"),   # also cut short in a table cell
    (re.compile(r"\d{4}-\d{2}-\d{2}-"), "date-"),
    (re.compile(r"@ [0-9a-f]{12}\b"), "@ sha"),
    (re.compile(r"[\w.-]+@[\w.-]+:\d+"), "owner"),
]


def normalise(text: str) -> str:
    """Ids numbered by first appearance; times, dates, shas and owners replaced."""
    for pattern, name in _PATTERNS:
        seen: dict[str, str] = {}
        text = pattern.sub(lambda m, seen=seen, name=name: seen.setdefault(
            m.group(0), f"<{name}{len(seen) + 1}>" if name in ("ap", "pl") else f"<{name}>"),
            text)
    return text


def load_demo():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("quickstart_demo", DEMO)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_demo_completes_and_the_readme_tour_is_true(tmp_path: Path) -> None:
    tour = tmp_path / "tour.md"
    proc = subprocess.run([sys.executable, str(DEMO), "--keep", str(tmp_path / "qs"),
                           "--transcript", str(tour)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Demo complete: every target completed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    demo = load_demo()
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
