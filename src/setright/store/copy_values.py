"""Values on their way from one store to another: fitted to the column, then compared.

A store's columns do not hold the same Python types on every database. SQLite
keeps whatever it is given (a Flamingock `created_at` may be integer ms in one
row and ISO-8601 text in the next, an INTEGER column may hold text); PostgreSQL
and MySQL refuse what does not fit the declared type, and PostgreSQL reads a
zone-less TIMESTAMP back as a `datetime`. So a copied value is first *fitted*
to its destination column's kind (`DefaultImpl.column_kinds`), losslessly or
not at all (a value that does not fit is an error naming the table, column and
row), and both sides are then compared in one *canonical* text form that no
longer knows which database a value came from: `5` and `'5'` are both `5`, a
timestamp is its epoch milliseconds, a flag is 0 or 1.

A table's digest is order-independent — the sum, modulo 2**256, of the SHA-256
of every canonical row, hashed with the row count — because two databases
sort text keys by different collations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from setright.db.zonecase import zone
from setright.errors import StoreError
from setright.timeutil import ms_from_any

Fitter = Callable[[Any], Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MODULUS = 2 ** 256


class Unfit(ValueError):
    """A value that the destination column cannot hold without changing it."""


def fitters(kinds: Sequence[str], timezone: str) -> list[Fitter]:
    """One converter per column kind; zone-less timestamps are wall-clock time in `timezone`
    (how setright reads Flamingock's zone-less `created_at`)."""
    tz = zone(timezone)

    def to_ms(value: datetime) -> int:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return (aware - _EPOCH) // _MS

    def plain(value: Any) -> Any:
        if value is None or type(value) in (int, str, float, bytes):
            return value
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, datetime):
            return to_ms(value)
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return str(value)

    def integer(value: Any) -> Any:
        value = plain(value)
        if value is None or type(value) is int:
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _is_integer(value):
            return int(value)
        raise Unfit(f"{value!r} is not an integer")

    def real(value: Any) -> Any:
        value = plain(value)
        if value is None or type(value) in (int, float):
            return value
        try:
            return float(value)
        except (TypeError, ValueError):
            raise Unfit(f"{value!r} is not a number") from None

    def text(value: Any) -> Any:
        value = plain(value)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise Unfit("bytes that are not UTF-8 text") from None
        return str(value)

    def boolean(value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        found = {"0": False, "1": True, "false": False, "true": True}.get(
            str(plain(value)).strip().lower())
        if found is None:
            raise Unfit(f"{value!r} is not a flag (0 or 1)")
        return found

    def timestamp(value: Any, *, aware: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime):
            ms = to_ms(value)
        else:
            ms = ms_from_any(plain(value))
            if ms is None:
                raise Unfit(f"{value!r} is not a time")
        moment = _EPOCH + ms * _MS
        return moment if aware else moment.astimezone(tz).replace(tzinfo=None)

    table: dict[str, Fitter] = {
        "any": plain, "integer": integer, "real": real, "text": text, "boolean": boolean,
        "timestamp": timestamp, "timestamptz": lambda v: timestamp(v, aware=True),
    }
    return [table.get(kind, plain) for kind in kinds]


def canonical(value: Any, tz_name: str = "UTC") -> str:
    """One value as text that no longer says which database it came from."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        return "v1" if value else "v0"
    if isinstance(value, int):
        return f"v{value}"
    if isinstance(value, (float, Decimal)):
        return f"v{_number(value)}"
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone(tz_name))
        return f"v{(aware - _EPOCH) // _MS}"
    if isinstance(value, date):
        return "v" + value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "b" + bytes(value).hex()
    return "v" + str(value)


class Digest:
    """An order-independent digest of a table's rows (see the module docstring)."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.rows = 0
        self._sum = 0
        self._tz = timezone

    def add(self, row: Sequence[Any]) -> None:
        tz = self._tz
        # `canonical`, with its commonest cases inline (a million rows: no call per value)
        line = "\x1f".join([
            "n" if v is None else "v" + v if type(v) is str else f"v{v}" if type(v) is int
            else canonical(v, tz) for v in row]).encode("utf-8", "surrogatepass")
        self._sum = (self._sum + int.from_bytes(hashlib.sha256(line).digest(), "big")) % _MODULUS
        self.rows += 1

    def hexdigest(self) -> str:
        return hashlib.sha256(f"{self.rows}:{self._sum:064x}".encode()).hexdigest()


#: The types every fitter of kind "any" passes on unchanged.
PLAIN_TYPES = frozenset({int, str, float, bytes, type(None)})


def is_plain(kinds: Sequence[str]) -> bool:
    """Whether every column keeps what it is given, so rows of `PLAIN_TYPES` need no fitting."""
    return all(kind == "any" for kind in kinds)


def fit_row(row: Sequence[Any], fit: Sequence[Fitter], table: str, columns: Sequence[str],
            key: Sequence[Any]) -> tuple[Any, ...]:
    """`row` fitted column by column; a value that does not fit is one error naming it."""
    try:
        return tuple(f(v) for f, v in zip(fit, row, strict=True))
    except Unfit:
        pass
    for f, v, column in zip(fit, row, columns, strict=True):
        try:
            f(v)
        except Unfit as exc:
            where = ", ".join(str(k) for k in key)
            raise StoreError(f"{table}.{column} of row ({where}) does not fit the destination: "
                             f"{exc}", ["nothing was written to the destination"]) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _number(value: float | Decimal) -> str:
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value))
        value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _is_integer(text: str) -> bool:
    """Integer text that reads back the same (`'05'`, `' 5'` and `'+5'` would not)."""
    digits = text[1:] if text[:1] == "-" else text
    return digits.isascii() and digits.isdigit() and str(int(text)) == text
