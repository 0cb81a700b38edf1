"""What every command needs: the config, the store, the output style, the actor.

Resolved lazily, so a command that does not touch the store never opens it.
A command asks for the store as a reader (read-only, never created) or as a
writer (created and upgraded if needed); docs/architecture.md lists which is which.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from setright.config import Config
    from setright.render.style import Style
    from setright.store import Store
    from setright.timeutil import Clock


class App:
    """One command's context (a plain class: a dataclass costs every process a compile of
    its generated methods)."""

    def __init__(self, config_path: Path | None, store_url: str | None, ascii_only: bool,
                 color: bool, verbose: bool, cwd: Path, clock: Any = None,
                 width: int | None = None) -> None:
        self.config_path = config_path
        self.store_url = store_url
        self.ascii_only = ascii_only
        self.color = color
        self.verbose = verbose
        self.cwd = cwd
        self.clock = clock
        self.width = width             # the terminal's columns; None: fixed table widths
        self._config: Any = None
        self._store: Any = None
        self._snapshot = ExitStack()
        #: whether the command recorded anything in the store (kept after `close`)
        self.wrote = False

    @property
    def style(self) -> Style:
        from setright.render.style import Style

        return Style(ascii=self.ascii_only, color=self.color, width=self.width)

    def get_clock(self) -> Clock:
        if self.clock is None:
            from setright.timeutil import SystemClock

            self.clock = SystemClock()
        return self.clock

    def config(self) -> Config:
        if self._config is None:
            from setright.config import resolve_config

            self._config = resolve_config(self.config_path, self.store_url, self.cwd)
        return self._config

    def reader(self) -> Store:
        """The store for a read command: opened read-only, never created.

        A missing store is `Error: no audit store at URL`. The command reads in one
        snapshot, held until `close()`, so every fact it reports is from one moment.
        """
        if self._store is None:
            from setright.store import Store

            config = self.config()
            store = Store.open_reader(config.store, config.audit_table, self.get_clock(),
                                       timezone=config.timezone)
            self._snapshot.callback(store.close)
            self._snapshot.enter_context(store.read())
            self._store = store
        if not self._store.readonly:  # pragma: no cover - a command asks for one or the other
            raise RuntimeError("this command already opened the store for writing")
        return self._store

    def writer(self, *, create: bool = False) -> Store:
        """The store for a write command: upgraded if needed, the audit log folded. Only a
        command that starts a store's history (`run`, `init`) creates a missing one (a
        SQLite file, or setright's tables in a server database): any other writer has
        nothing to act on there, so a mistyped `--store` is `Error: no audit store at
        URL`, not a new empty store left behind."""
        if self._store is None:
            from setright.store import Store

            config = self.config()
            if not create and config.store.path is not None and not _exists(config.store.path):
                from setright.db.url import no_store

                raise no_store(config.store, reader=False)
            store = Store.open(config.store, config.audit_table, self.get_clock(),
                               timezone=config.timezone, create=create)
            self._snapshot.callback(store.close)
            store.refresh()
            self._store = store
        if self._store.readonly:  # pragma: no cover - a command asks for one or the other
            raise RuntimeError("this command already opened the store read-only")
        return self._store

    def store_exists(self) -> bool:
        """Whether the SQLite store file is there; a server store is taken as there (its
        database is never created; `run` adds setright's tables to it)."""
        path = self.config().store.path
        return path is None or _exists(path)

    def warn_without_resolutions(self, paths: tuple[Path, ...]) -> None:
        """A command that reads the resolutions folder says when it does not exist: a
        mistyped `resolutions:` would otherwise read as "no files, all valid"."""
        config = self.config()
        if not paths and not config.resolutions.is_dir():
            import click

            from setright.resolutions.files import relative_name

            name = relative_name(config.resolutions, config.root)
            click.echo(f"Warning: the resolutions folder {name}"
                       " does not exist (resolutions: in setright.yaml); no file was read",
                       err=True)

    def actor(self) -> str:
        """`SETRIGHT_ACTOR`, else `git config user.email`, else `user@host`: one line of text
        without what a terminal acts on, as every name written to the audit log."""
        if os.environ.get("SETRIGHT_ACTOR"):
            return _plain_actor(os.environ["SETRIGHT_ACTOR"], "SETRIGHT_ACTOR")
        return _plain_actor(*self._default_actor())

    def _default_actor(self) -> tuple[str, str]:
        import subprocess

        try:
            email = subprocess.run(
                ["git", "config", "user.email"], capture_output=True, text=True,
                cwd=self.cwd, timeout=5, check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            email = ""
        if email:
            return email, "git config user.email"
        from setright.store.locks import default_owner

        return default_owner().rsplit(":", 1)[0], "this user@host"

    def close(self) -> None:
        """End the read snapshot (if any) and close the store."""
        self.wrote = self.wrote or bool(self._store is not None and self._store.state_writes)
        self._store = None
        self._snapshot.close()


def _plain_actor(actor: str, source: str) -> str:
    """The actor as given, or one error naming where it came from (it reaches the audit log
    and every terminal that reads it)."""
    from setright.cli.printable import printable

    if "\n" in actor or "\t" in actor or printable(actor) != actor or not actor.strip():
        from setright.errors import ConfigError

        raise ConfigError(f"{source} is not one line of plain text: '{printable(actor)}'",
                          ["it is recorded as the actor of every write; set SETRIGHT_ACTOR"
                           " to a name or an email"])
    return actor


def _exists(path: Path) -> bool:
    """`path.exists()`, False for a path the system cannot even look up (too long, say)."""
    try:
        return path.exists()
    except OSError:
        return False


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: for a command that builds tens of thousands of
    acyclic objects at once (an issue list, a plan), where every collection finds nothing
    and each full one walks them all (a tenth of a 10,000-entry plan's time).

    On the way out, whatever the block built moves to the oldest generation (freeze, then
    unfreeze), so the first collection after it does not walk it all once more."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def echo_json_parts(parts: Iterable[str]) -> None:
    """Write JSON text made in parts as each is made (megabytes: never one string and its
    copies). JSON escapes C0 controls itself; `printable` escapes what it leaves raw (DEL,
    C1 controls, bidirectional overrides) as `\\uXXXX`, still valid JSON, since only a
    string can hold them. `color=True` skips click's ANSI strip (a second regex over it all)."""
    import sys

    import click

    from setright.cli.printable import printable, unfiltered

    out = unfiltered(sys.stdout)
    for part in parts:
        if not part.isascii() or "\x7f" in part:   # the two scans cost ~0.2 ms a megabyte
            part = printable(part)                   # (the regex, ~8 ms)
        click.echo(part, file=out, nl=False, color=True)
