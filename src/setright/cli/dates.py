"""`--since DATE`, read the same way by every command that takes it."""

from __future__ import annotations

import click


def read_since(_ctx: object, _param: object, value: str | None) -> int | None:
    """A click callback: an ISO-8601 date or date-time (UTC unless it names a zone) → epoch
    milliseconds. A bare number is refused, not read as milliseconds: no one types those."""
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 date or date-time "
                                 "(use e.g. 2026-11-01 or 2026-11-01T09:30:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
