"""Output style: box drawing or ASCII, colour or none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Style:
    ascii: bool = False
    color: bool = False
    #: the terminal's width in columns; None when unknown (piped output without COLUMNS),
    #: and tables then keep their fixed column widths
    width: int | None = None

    def fit(self, others: list[int], default: int, minimum: int = 24) -> int:
        """Width of a table's one growing column: whatever the terminal leaves after the
        `others` columns' widths and the borders, never less than `minimum`; `default`
        when the width is unknown."""
        if self.width is None:
            return default
        borders = 1 + 3 * (len(others) + 1)   # "│ " … " │" around every column
        return max(minimum, self.width - sum(others) - borders)

    def paint(self, text: str, color: str) -> str:
        """Colour `text` when colour is on (`click.style` colour names)."""
        if not self.color:
            return text
        import click

        return click.style(text, fg=color)


_BOX = {"tl": "┌", "tm": "┬", "tr": "┐", "ml": "├", "mm": "┼", "mr": "┤",
        "bl": "└", "bm": "┴", "br": "┘", "h": "─", "v": "│"}
_ASCII = {"tl": "+", "tm": "+", "tr": "+", "ml": "+", "mm": "+", "mr": "+",
          "bl": "+", "bm": "+", "br": "+", "h": "-", "v": "|"}


def table(headers: list[str], rows: list[list[Any]], style: Style) -> str:
    """A bordered table; cells are shown with `str()`, `None` as empty."""
    chars = _ASCII if style.ascii else _BOX
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def rule(left: str, mid: str, right: str) -> str:
        return chars[left] + chars[mid].join(chars["h"] * (w + 2) for w in widths) + chars[right]

    def line(values: list[str]) -> str:
        v = chars["v"]
        return v + v.join(f" {val.ljust(w)} " for val, w in zip(values, widths, strict=True)) + v

    out = [rule("tl", "tm", "tr"), line(headers), rule("ml", "mm", "mr")]
    out += [line(r) for r in cells]
    out.append(rule("bl", "bm", "br"))
    return "\n".join(out)


def column_width(header: str, values: list[Any]) -> int:
    """The width `table` gives a column of these values."""
    return max([len(header)] + [len("" if v is None else str(v)) for v in values])


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False, default=str)
