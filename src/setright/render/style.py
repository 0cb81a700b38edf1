"""Output style: box drawing or ASCII, colour or none."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any, NamedTuple

from setright.render.terminal import shown_width


class Style(NamedTuple):
    """How output looks (a tuple: every command makes one, and a dataclass costs each
    process a compile of its methods)."""

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
        """Colour `text` when colour is on (red, green, yellow, cyan); the codes are
        sealed (`render/terminal.py`): only the output filter makes them real."""
        if not self.color:
            return text
        from setright.render.terminal import coloured

        return coloured(text, color)


_BOX = {"tl": "┌", "tm": "┬", "tr": "┐", "ml": "├", "mm": "┼", "mr": "┤",
        "bl": "└", "bm": "┴", "br": "┘", "h": "─", "v": "│"}
_ASCII = {"tl": "+", "tm": "+", "tr": "+", "ml": "+", "mm": "+", "mr": "+",
          "bl": "+", "bm": "+", "br": "+", "h": "-", "v": "|"}


def table(headers: list[str], rows: list[list[Any]], style: Style) -> str:
    """A bordered table; cells are shown with `str()`, `None` as empty, a line break in one
    as `\\n` (a value from the store may hold one: it must not start a row of its own)."""
    chars = _ASCII if style.ascii else _BOX
    cells = [[("" if c is None else str(c).replace("\n", "\\n")) for c in row] for row in rows]
    widths = [max([shown_width(h)] + [shown_width(r[i]) for r in cells])
              for i, h in enumerate(headers)]

    def rule(left: str, mid: str, right: str) -> str:
        return chars[left] + chars[mid].join(chars["h"] * (w + 2) for w in widths) + chars[right]

    def line(values: list[str]) -> str:
        v = chars["v"]
        return v + v.join(f" {val}{' ' * (w - shown_width(val))} "
                          for val, w in zip(values, widths, strict=True)) + v

    out = [rule("tl", "tm", "tr"), line(headers), rule("ml", "mm", "mr")]
    out += [line(r) for r in cells]
    out.append(rule("bl", "bm", "br"))
    return "\n".join(out)


def column_width(header: str, values: list[Any]) -> int:
    """The width `table` gives a column of these values."""
    return max([shown_width(header)] + [shown_width("" if v is None else str(v))
                                         for v in values])


def to_json(data: Any) -> str:
    """`json.dumps(data, indent=2, ensure_ascii=False, default=str)`, byte for byte.

    The standard library encodes with its pure-Python encoder whenever `indent`
    is set (seconds for a 10,000-issue list); this walks the containers itself
    and leaves every string to the C encoder.
    """
    out: list[str] = []
    _encode(data, out, "\n")
    return "".join(out)


_encode_string = json.encoder.encode_basestring   # the C one where present


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    """A dict key as `json` turns it into a string (it refuses any other type)."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


#: scalars by exact type (subclasses such as str enums take the general path)
_PLAIN: dict[type, Any] = {str: _encode_string, int: int.__repr__, bool: lambda v: "true" if v
                           else "false", type(None): lambda v: "null", float: _float}


_STR = frozenset({str})


#: scalars a column may encode once per distinct value (not int and bool together: 1 == True)
_MEMO = frozenset({str, int, bool, type(None)})
_INT_AND_BOOL = frozenset({int, bool})
_NONE = type(None)
_TEXT_OR_NULL = frozenset({str, _NONE})


def objects_json_parts(keys: Sequence[str], columns: Sequence[Sequence[Any]],
                       newline: str = "\n", *, before: str = "", after: str = "",
                       per_part: int = 1000) -> Iterator[str]:
    """`to_json` of the list of objects `{key: value}` given column by column (`columns[i]`
    holds every object's value of `keys[i]`), its lines starting at `newline`, `before`
    and `after` it text of the caller's; in parts of `per_part` objects: the 5 MB of
    10,000 issues are written part by part, in memory each part reuses (fresh memory
    costs a page fault a page).

    No object is built. Each column's scalars are encoded once per distinct value, a
    column with one value becomes part of the text between the others, and each part is
    one join of those texts and the varying columns' cells.
    """
    sizes = set(map(len, columns))
    if len(sizes) > 1 or len(columns) != len(keys):
        raise ValueError("one column of equal length per key")
    count = sizes.pop() if sizes else 0
    if not count:
        yield before + "[]" + after
        return
    inner = newline + "  "
    fields = inner + "  "
    texts, varying = ["{" + fields], []    # texts[i]: an object's text before varying[i]
    for n, (key, column) in enumerate(zip(keys, columns)):
        head = ("," + fields if n else "") + _encode_string(key) + ": "
        cells = _column_text(column, fields)
        if isinstance(cells, str):
            texts[-1] += head + cells
        else:
            quote = '"' if cells is _verbatim else ""
            texts[-1] += head + quote
            varying.append((cells, column))
            texts.append(quote)
    last = texts.pop() + inner + "}"      # after the last varying cell (or all of it)
    for start in range(0, count, per_part):
        size = min(per_part, count - start)
        streams: list[Any] = []
        for text, (encode, column) in zip(texts, varying):
            streams += [repeat(text, size), encode(column[start:start + size])]
        streams.append(repeat(last + "," + inner, size))
        pieces = list(chain.from_iterable(zip(*streams)))
        if start + size == count:
            pieces[-1] = last + newline + "]" + after
        if not start:   # after the end: one object with no varying cell is one piece
            pieces[0] = before + "[" + inner + pieces[0]
        yield "".join(pieces)


def _column_text(values: Sequence[Any], newline: str
                 ) -> str | Callable[[Sequence[Any]], Sequence[str]]:
    """The text of every value as `_encode` writes it at `newline`: one str when they are
    all the same, else what makes the texts of a slice of them (`_verbatim`: the values
    themselves, to be written between quotes). Scalars are encoded once per distinct
    value, in C; texts that need no escape are not encoded at all.

    Equal values of different types (1, True, 1.0) must not share one text: a column
    holding int and bool is encoded value by value."""
    first = values[0]
    if type(first) in _TEXT_OR_NULL and values.count(first) == len(values):
        return _PLAIN[type(first)](first)     # one value (the common case): no set to build
    types = set(map(type, values))
    if types == _STR:
        joined = "".join(values)   # nothing JSON escapes: no quote, backslash or control
        if joined.isprintable() and '"' not in joined and "\\" not in joined:
            return _verbatim
    if not _MEMO.issuperset(types) or _INT_AND_BOOL.issubset(types):
        return partial(_texts, newline=newline)
    distinct = set(values)
    if len(distinct) == len(values) and len(types) == 1:   # all different: no memo
        return partial(_mapped, _PLAIN[types.pop()])
    texts: dict[Any, str] = {}
    if _NONE in types:
        distinct.discard(None)
        texts[None] = "null"
    kinds = types - {_NONE}
    if len(kinds) == 1:
        texts.update(zip(distinct, map(_PLAIN[kinds.pop()], distinct)))
    else:
        texts.update({value: _PLAIN[type(value)](value) for value in distinct})
    if len(texts) == 1:
        return texts.popitem()[1]
    return partial(_mapped, texts.__getitem__)


def _verbatim(values: Sequence[str]) -> Sequence[str]:
    """Texts that need no escape, as they are (their quotes are in the objects' text)."""
    return values


def _mapped(encode: Callable[[Any], str], values: Sequence[Any]) -> list[str]:
    return list(map(encode, values))


def _texts(values: Sequence[Any], newline: str) -> list[str]:
    return [_text(value, newline) for value in values]


def _list_text(items: list[str], newline: str) -> str:
    """A list whose items are already encoded, one per line (they start at newline + 2)."""
    if not items:
        return "[]"
    inner = newline + "  "
    return "[" + inner + ("," + inner).join(items) + newline + "]"


#: how a value no column rule covers is written at a depth (`_text` by default)
Fallback = Callable[[Any, str], str]


def column_texts(values: Sequence[Any], newline: str, fallback: Fallback | None = None
                 ) -> list[str]:
    """Every value's text, each as `_encode` writes it at `newline`: column by column.

    A list's items are mostly alike (a plan's actions, a table's rows): values of one
    type are encoded together, strings and numbers in one C call; objects with the same
    str keys in the same order share one template, filled from one column per key (a
    column that is the same all the way down is written into it once); all the items of
    lists form one column. Anything else is written by `fallback` (default: `_encode`).
    """
    fallback = fallback or _text
    kinds = set(map(type, values))
    if len(kinds) > 1:
        return _mixed(values, newline, fallback)
    kind = kinds.pop() if kinds else str
    if kind is str:
        return list(map(_encode_string, values))
    if kind is _NONE:
        return ["null"] * len(values)
    if kind is int:
        return list(map(int.__repr__, values))
    if kind is list:
        return _lists(values, newline, fallback)
    if kind is dict:
        return _objects(values, newline, fallback)
    return [fallback(v, newline) for v in values]


def _mixed(values: Sequence[Any], newline: str, fallback: Fallback) -> list[str]:
    """`column_texts` of values of several types: each type's values as one column."""
    where: dict[type, list[int]] = {}
    for at, value in enumerate(values):
        where.setdefault(type(value), []).append(at)
    out = [""] * len(values)
    for places in where.values():
        texts = column_texts([values[i] for i in places], newline, fallback)
        for at, text in zip(places, texts, strict=True):
            out[at] = text
    return out


def _lists(values: Sequence[list[Any]], newline: str, fallback: Fallback) -> list[str]:
    """Lists, their items one a line: every item of every list as one column."""
    inner = newline + "  "
    glue = "," + inner
    texts = iter(column_texts(list(chain.from_iterable(values)), inner, fallback))
    sizes = set(map(len, values))
    if len(sizes) == 1:   # lists of one length (a message each): one template
        size = sizes.pop()
        if not size:
            return ["[]"] * len(values)
        template = "[" + inner + glue.join(["%s"] * size) + newline + "]"
        return [template % cells for cells in zip(*[texts] * size)]
    return ["[" + inner + glue.join(islice(texts, len(v))) + newline + "]" if v else "[]"
            for v in values]


def _objects(values: Sequence[dict[Any, Any]], newline: str, fallback: Fallback) -> list[str]:
    """Mappings: those with the same str keys in the same order share a template, filled
    from one column per key."""
    inner = newline + "  "
    out = [""] * len(values)
    shapes = list(map(tuple, values))
    alike: dict[tuple[Any, ...], list[int]] = {}
    if shapes.count(shapes[0]) == len(shapes):   # all alike (checked in C)
        alike[shapes[0]] = list(range(len(values)))
    else:
        for at, keys in enumerate(shapes):
            alike.setdefault(keys, []).append(at)
    for keys, where in alike.items():
        if not keys or not _STR.issuperset(map(type, keys)):
            for at in where:
                out[at] = fallback(values[at], newline)
            continue
        members = values if len(where) == len(values) else [values[at] for at in where]
        columns = [column_texts(list(map(itemgetter(k), members)), inner, fallback)
                   for k in keys]
        texts = filled_texts("{" + inner, "," + inner, newline + "}",
                             [_encode_string(k) + ": " for k in keys], columns)
        if len(where) == len(values):
            return texts
        for at, text in zip(where, texts, strict=True):
            out[at] = text
    return out


def filled_texts(start: str, glue: str, end: str, heads: list[str],
                 columns: list[list[str]]) -> list[str]:
    """`start + glue.join(head + cell ...) + end` for each row of `columns`: one template,
    in which a column that is the same all the way down (`null`, a shared state) is
    written once instead of filled in for every row."""
    parts, varying = [], []
    for head, column in zip(heads, columns, strict=True):
        if column.count(column[0]) == len(column):
            parts.append((head + column[0]).replace("%", "%%"))
        else:
            parts.append(head.replace("%", "%%") + "%s")
            varying.append(column)
    template = start + glue.join(parts) + end
    if not varying:
        return [template % ()] * len(columns[0])
    return [template % cells for cells in zip(*varying)]


def _text(value: Any, newline: str) -> str:
    out: list[str] = []
    _encode(value, out, newline)
    return "".join(out)


def _encode(value: Any, out: list[str], newline: str) -> None:
    """Append `value` to `out`, its nested lines starting with `newline` + two spaces."""
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append(_list_text(column_texts(value, newline + "  "), newline))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            head = separator + _encode_string(key if type(key) is str else _key(key)) + ": "
            plain = _PLAIN.get(type(item))
            if plain is not None:
                out.append(head + plain(item))
            else:
                out.append(head)
                _encode(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    else:
        _encode(str(value), out, newline)
