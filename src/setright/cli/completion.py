"""Shell completion of change ids, apply ids and target names (click `shell_complete`).

Completion runs on every Tab press, so it must never fail loudly and never
write: it opens the audit store read-only (SQLite: `mode=ro`), only when it
already exists (a missing store is never created), and any error at all —
no config, a broken config, a locked or foreign database — completes nothing.
Enable it with `eval "$(_SETRIGHT_COMPLETE=bash_source setright)"` (README).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

#: candidates offered at most, newest or first first
LIMIT = 200


def _config(ctx: click.Context) -> Any:
    """The project's config, from the root command's --config/--store as typed so far."""
    from setright.config import resolve_config

    params = ctx.find_root().params
    return resolve_config(params.get("config_path"), params.get("store_url"), Path.cwd())


@contextmanager
def _read_only_store(ctx: click.Context) -> Iterator[tuple[Any, str]]:
    """A read-only connection to the existing store and its audit table name."""
    from setright.db import impl_for

    config = _config(ctx)
    conn = impl_for(config.store).connect(config.store, read_only=True)
    try:
        yield conn, config.audit_table
    finally:
        conn.close()


#: what a completion may insert: a word no shell reads as more than itself. An id from the
#: audit log with a quote, a space, `$(…)`, a backtick or a line break (anyone who can write
#: that table can plant one) is never put on the operator's command line; it can be typed.
_SHELL_WORD = re.compile(r"[A-Za-z0-9._:@%+=,/-]+")


def _shell_safe(word: Any) -> bool:
    return isinstance(word, str) and _SHELL_WORD.fullmatch(word) is not None


def _prefixed(conn: Any, sql: str, incomplete: str) -> list[str]:
    """Rows of `sql` (one `?` for the prefix length, one for the prefix)."""
    return [row[0] for row in conn.execute(sql, (len(incomplete), incomplete))
            if _shell_safe(row[0])]


def complete_change_ids(ctx: click.Context, param: click.Parameter,
                        incomplete: str) -> list[CompletionItem]:
    """Change ids the audit log knows, in the order they first appeared."""
    try:
        with _read_only_store(ctx) as (conn, audit_table):
            if not audit_table.replace("_", "").isalnum():
                return []
            from setright.db import impl_of

            ids = _prefixed(conn, f"SELECT change_id FROM {impl_of(conn).quote(audit_table)} "
                            "WHERE substr(change_id, 1, ?) = ? GROUP BY change_id "
                            f"ORDER BY min(id) LIMIT {LIMIT}", incomplete)
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []
    return [CompletionItem(i) for i in ids]


def complete_apply_ids(ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[CompletionItem]:
    """Apply ids, newest first, with their target and state as help text."""
    try:
        with _read_only_store(ctx) as (conn, _):
            rows = conn.execute(
                "SELECT id, target, state FROM setright_applies WHERE substr(id, 1, ?) = ? "
                f"ORDER BY created_at DESC, id DESC LIMIT {LIMIT}",
                (len(incomplete), incomplete)).fetchall()
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []
    return [CompletionItem(r[0], help=f"{r[1]} {r[2]}") for r in rows if _shell_safe(r[0])]


def complete_targets(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[CompletionItem]:
    """Target names from setright.yaml, in its order."""
    try:
        names = list(_config(ctx).targets)
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]



#: (command path, parameter name) -> completer; `attach` fails loudly if one is missing,
#: so a renamed option cannot silently lose its completion.
COMPLETERS = {
    ("issue get", "change_id"): complete_change_ids,
    ("audit fix", "change_id"): complete_change_ids,
    ("audit list", "change_id"): complete_change_ids,
    ("applies show", "apply_id"): complete_apply_ids,
    ("applies cancel", "apply_id"): complete_apply_ids,
    ("redrive", "apply_id"): complete_apply_ids,
    ("run", "targets"): complete_targets,
    ("status", "targets"): complete_targets,
}


def attach(command: click.Command, name: str) -> None:
    """Give the parameters in `COMPLETERS` under the top-level command `name` their
    completer, as the command is loaded.

    Done here, in one table, rather than with `shell_complete=` on each option, so
    the command modules stay about parsing (click keeps the callback in
    `_custom_shell_complete`, which its own `shell_complete=` argument sets).
    """
    for (path, parameter), completer in COMPLETERS.items():
        first, *rest = path.split()
        if first != name:
            continue
        found: click.Command | None = command
        for word in rest:
            assert isinstance(found, click.Group), path
            found = found.commands.get(word)
        assert found is not None, f"no command {path!r}"
        params = [p for p in found.params if p.name == parameter]
        assert params, f"no parameter {parameter!r} on {path!r}"
        params[0]._custom_shell_complete = completer
