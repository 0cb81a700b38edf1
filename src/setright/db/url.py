"""Database URLs: parsing, `${VAR}` substitution and masking, in one place.

Every URL setright is given (the store, each target) goes through `parse_url`,
and every URL setright prints goes through `mask_password` (`DbUrl.shown`),
which never carries a password; the errors that name a store by its URL
(`no_store`, `needs_upgrade`) live here too. `sqlite:///rel/path` is relative to the project root,
`sqlite:////abs/path` is absolute; server URLs are
`postgresql://user[:pw]@host[:port]/db` (also `postgres://`) and
`mysql://user[:pw]@host[:port]/db` (also `mariadb://`), with query
parameters passed on to the driver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from setright.errors import ConfigError, StoreError

#: URL scheme → dialect name (the key of the implementation registry, `db.impl`).
SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
DEFAULT_CONNECT_TIMEOUT = 10.0

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class DbUrl:
    """A parsed database URL. `path` is set for SQLite, host/database for servers."""

    dialect: str
    text: str = field(repr=False)          # as written, before substitution (may name ${VARS})
    path: Path | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    #: where the URL was given (`setright.yaml:3:9`, `SETRIGHT_STORE`, `--store`), for
    #: messages that send the reader back to it; None when not known
    origin: str | None = field(default=None, compare=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def shown(self) -> str:
        """The URL as written, with any literal password masked (never the substituted one)."""
        return mask_password(self.text)

    @property
    def where(self) -> str:
        """`host:port/db` (or the file) for messages about reaching the database."""
        if self.is_sqlite:
            return str(self.path)
        return f"{self.host}:{self.port}/{self.database}"

    @property
    def connect_timeout(self) -> float:
        value = dict(self.query).get("connect_timeout")
        try:
            return float(value) if value is not None else DEFAULT_CONNECT_TIMEOUT
        except ValueError:
            return DEFAULT_CONNECT_TIMEOUT

    def params(self) -> dict[str, str]:
        """Query parameters other than the ones setright itself interprets."""
        return {k: v for k, v in self.query if k != "connect_timeout"}


def sqlite_url(path: Path, text: str | None = None) -> DbUrl:
    """The DbUrl of a SQLite file given as a path (`text`: how messages name it)."""
    return DbUrl("sqlite", text or str(path), path=path)


def mask_password(text: str) -> str:
    """A URL fit to print, as configured: `scheme://user:***@host/...`.

    The one masking function: a server URL keeps its user (the role a message is
    about) and loses its password; a SQLite URL has no user, so any `user:pw@`
    written into one is dropped whole."""
    if text[:7].lower() == "sqlite:":
        return _USERINFO.sub("//", text)
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", text, flags=re.I)


_USERINFO = re.compile(r"//[^/@]*@")


#: the origins of a store URL given outside the config file
_OVERRIDES = ("--store", "SETRIGHT_STORE")


def no_store(url: DbUrl) -> StoreError:
    """A reader found nothing at `url`: it never creates a store, so say how to make one."""
    check = (f"check {url.origin}" if url.origin in _OVERRIDES else
             f"check store.url at {url.origin}" if url.origin else
             "check store.url, SETRIGHT_STORE or --store")
    return StoreError(f"no audit store at {url.shown}", [
        f"read commands never create one: {check},",
        "or create it with 'setright init' (any writer, such as 'setright run', does too)",
    ])


def needs_upgrade(url: DbUrl, version: int, current: int) -> StoreError:
    """A reader found a store too old to read as is; readers never upgrade it."""
    return StoreError(
        f"the audit store at {url.shown} needs an upgrade; run a writer "
        "(setright run / apply) or setright init",
        [f"its schema version is {version}; this setright reads {current}"])


def substitute(text: str, environ: Mapping[str, str], *, encode: bool) -> str:
    """Replace `${VAR}`; an unset variable is an error. `encode` percent-encodes the value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"URL {mask_password(text)!r} uses ${{{name}}}, which is not set")
        return quote(environ[name], safe="") if encode else environ[name]

    return _VAR.sub(value, text)


def parse_url(text: str, root: Path, environ: Mapping[str, str] | None = None) -> DbUrl:
    """Parse `text` (relative SQLite paths against `root`); raise `ConfigError` naming it."""
    environ = os.environ if environ is None else environ
    shown = mask_password(text)
    scheme, sep, _ = text.partition("://")
    dialect = SCHEMES.get(scheme.lower()) if sep else None
    if dialect is None:
        raise ConfigError(f"unsupported database URL {shown!r}",
                          ["use sqlite:///path.db, postgresql://user@host/db "
                           "or mysql://user@host/db"])
    if dialect == "sqlite":
        return _parse_sqlite(text, root, environ)
    return _parse_server(text, dialect, environ)


def _parse_sqlite(text: str, root: Path, environ: Mapping[str, str]) -> DbUrl:
    shown = mask_password(text)
    if not text.lower().startswith("sqlite:///"):
        raise ConfigError(f"URL {shown!r}: a SQLite URL is sqlite:///relative/path.db "
                          "or sqlite:////absolute/path.db")
    rest = substitute(text[len("sqlite:///"):], environ, encode=False).split("?", 1)[0]
    if not rest:
        raise ConfigError(f"URL {shown!r} names no file")
    path = Path(rest)
    return DbUrl("sqlite", text, path=path if path.is_absolute() else root / path)


def _parse_server(text: str, dialect: str, environ: Mapping[str, str]) -> DbUrl:
    shown = mask_password(text)
    scheme, _, rest = text.partition("://")
    # User and password are percent-encoded when substituted, so any character works there.
    authority, slash, tail = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        userinfo = substitute(user, environ, encode=True) + (
            ":" + substitute(password, environ, encode=True) if colon else "")
    hostport = substitute(hostport, environ, encode=False)
    tail = substitute(tail, environ, encode=False)
    expanded = f"{scheme}://{userinfo}{at}{hostport}{slash}{tail}"
    try:
        parts = urlsplit(expanded)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid database URL {shown!r}: {exc}") from None
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname:
        raise ConfigError(f"URL {shown!r} names no host")
    if not database or "/" in database:
        raise ConfigError(f"URL {shown!r} names no database",
                          [f"write it as {scheme}://user@host/DATABASE"])
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    timeout = dict(query).get("connect_timeout")
    if timeout is not None:
        try:
            if float(timeout) <= 0:
                raise ValueError
        except ValueError:
            raise ConfigError(f"URL {shown!r}: connect_timeout must be a positive number "
                              "of seconds") from None
    return DbUrl(
        dialect, text,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[dialect],
        database=database,
        query=query,
    )
