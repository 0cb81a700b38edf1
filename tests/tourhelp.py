"""For the tests that keep the examples' generated README sections true."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]

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


def load_script(relative: str) -> ModuleType:
    """Import an example script (they are not a package) by its path in the repository."""
    path = REPO / relative
    name = "example_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
