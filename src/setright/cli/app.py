"""What every command needs: the config, the store, the output style, the actor.

Resolved lazily, so a command that does not touch the store never opens it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from setright.config import Config
    from setright.render.style import Style
    from setright.store import Store
    from setright.timeutil import Clock


@dataclass
class App:
    config_path: Path | None
    store_url: str | None
    ascii_only: bool
    color: bool
    verbose: bool
    cwd: Path
    clock: Any = None
    width: int | None = None           # the terminal's columns; None: fixed table widths
    _config: Any = field(default=None, repr=False)
    _store: Any = field(default=None, repr=False)

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

    def store(self) -> Store:
        """The opened store, with the audit log folded up to date."""
        if self._store is None:
            from setright.store import Store

            config = self.config()
            self._store = Store.open(config.store_path, config.audit_table, self.get_clock())
            self._store.refresh()
        return self._store

    def actor(self) -> str:
        """`SETRIGHT_ACTOR`, else `git config user.email`, else `user@host`."""
        if os.environ.get("SETRIGHT_ACTOR"):
            return os.environ["SETRIGHT_ACTOR"]
        try:
            email = subprocess.run(
                ["git", "config", "user.email"], capture_output=True, text=True,
                cwd=self.cwd, timeout=5, check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            email = ""
        if email:
            return email
        from setright.store.locks import default_owner

        return default_owner().rsplit(":", 1)[0]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
