"""The summary of `store migrate`."""

from __future__ import annotations

from typing import Any

from setright.render.style import Style, table


def migration_summary(result: dict[str, Any], style: Style) -> str:
    """Per table: rows copied and the digest both sides agreed on (its first 12 digits)."""
    tables = result["tables"]
    body = [[t["table"], t["rows"], "ok " + t["digest"][:12]] for t in tables]
    total = sum(t["rows"] for t in tables)
    lines = [
        f"Copied the audit store {result['source']} to {result['destination']}"
        f" (lineage {result['lineage'] or 'none yet'}, serial {result['serial']}).",
        table(["Table", "Rows", "Digest"], body, style),
        f"{total} rows in {len(tables)} tables; every row count and digest matches the source.",
    ]
    if result["live_locks"]:
        count = result["live_locks"]
        lines.append(style.paint(
            f"Warning: {count} lock{'s were' if count != 1 else ' was'} live in the source "
            "when it was read: writes made there since are not in the copy.", "yellow"))
    lines.append("Next: point store.url (or SETRIGHT_STORE) at the new store and stop using "
                 "the old one; both have the same lineage.")
    return "\n".join(lines)
