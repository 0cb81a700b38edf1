"""Identifiers: time-ordered, random-suffixed ids like `ap-01JD3Q7ZP4…` (a ULID)."""

from __future__ import annotations

import secrets

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now_ms: int) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, 80 random bits."""
    value = (now_ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_id(prefix: str, now_ms: int) -> str:
    return f"{prefix}-{ulid(now_ms)}"
