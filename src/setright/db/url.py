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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from setright.errors import ConfigError, StoreError
from setright.redact import looks_secret, mask_password, userinfo_end

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
#: the longest timeout a URL may ask for, a year (PyMySQL's own limit)
_LONGEST_WAIT = 365 * 24 * 3600


def _read_seconds(value: str) -> float:
    """A timeout parameter: a finite number of seconds above 0, at most a year."""
    number = float(value)
    if not 0 < number <= _LONGEST_WAIT:  # also false for nan
        raise ValueError(value)
    return number


def _read_flag(value: str) -> bool:
    """A yes/no parameter, spelled 1/0, true/false or yes/no; anything else is refused,
    so a mistyped `ssl_verify_cert` never turns verification off."""
    spelled = value.lower()
    if spelled in ("1", "true", "yes"):
        return True
    if spelled in ("0", "false", "no"):
        return False
    raise ValueError(value)


@dataclass(frozen=True)
class Parameter:
    """A URL query parameter setright reads before the driver sees it."""

    read: Callable[[str], Any]
    expected: str  # what a refused value should have been, for the message


_SECONDS = Parameter(_read_seconds, "a positive number of seconds")
_FLAG = Parameter(_read_flag, "true or false")
_TEXT = Parameter(str, "text")

#: the query parameters each server dialect's URLs may carry. MySQL's are all of them
#: (PyMySQL takes keywords, so an unknown one is refused here, where it is written);
#: a PostgreSQL URL passes any other parameter to libpq, which checks its own.
PARAMETERS: dict[str, dict[str, Parameter]] = {
    "postgresql": {"connect_timeout": _SECONDS},
    "mysql": {"connect_timeout": _SECONDS, "read_timeout": _SECONDS, "write_timeout": _SECONDS,
              "ssl_ca": _TEXT, "ssl_cert": _TEXT, "ssl_key": _TEXT,
              "ssl_verify_cert": _FLAG, "ssl_verify_identity": _FLAG},
}
#: dialects whose URLs may carry only the parameters of their table
_CLOSED = {"mysql": "MySQL"}


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
    query: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold a password
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
        return _read_seconds(value) if value is not None else DEFAULT_CONNECT_TIMEOUT

    def params(self) -> dict[str, Any]:
        """Query parameters other than `connect_timeout`, for the driver: the ones this
        dialect's table knows read into their types (`parse_url` checked them)."""
        known = PARAMETERS.get(self.dialect, {})
        return {k: known[k].read(v) if k in known else v
                for k, v in self.query if k != "connect_timeout"}


def sqlite_url(path: Path, text: str | None = None) -> DbUrl:
    """The DbUrl of a SQLite file given as a path (`text`: how messages name it)."""
    return DbUrl("sqlite", text or str(path), path=path)


#: the origins of a store URL given outside the config file (`--to`: a migration's
#: destination)
_OVERRIDES = ("--store", "SETRIGHT_STORE", "--to")


def check_store_url(url: DbUrl) -> str:
    """Where to fix a store URL: `check store.url at setright.yaml:2:14`, or the override."""
    return (f"check {url.origin}" if url.origin in _OVERRIDES else
            f"check store.url at {url.origin}" if url.origin else
            "check store.url, SETRIGHT_STORE or --store")


def no_store(url: DbUrl, *, reader: bool = True) -> StoreError:
    """Nothing at `url`, for a command that never creates a store (a reader, or a writer
    other than `run`): say where the URL came from and how to make one."""
    who = "read commands never create one" if reader else "only 'setright run' creates one"
    return StoreError(f"no audit store at {url.shown}", [
        f"{who}: {check_store_url(url)},",
        "or create it with 'setright init' (or 'setright run')",
    ])


def needs_upgrade(url: DbUrl, version: int, current: int) -> StoreError:
    """A reader found a store too old to read as is; readers never upgrade it."""
    return StoreError(
        f"the audit store at {url.shown} needs an upgrade; run a writer "
        "(setright run / apply) or setright init",
        [f"its schema version is {version}; this setright reads {current}"])


def too_new(shown: str, version: int, current: int) -> StoreError:
    """A store written by a newer setright: its tables may mean what this one cannot know,
    so it is neither read nor written (a migrate would drop what it does not know)."""
    return StoreError(
        f"the audit store {shown} was written by a newer setright; upgrade setright to use it",
        [f"its schema version is {version}; this setright knows versions up to {current}"])


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


def _check_parameters(query: tuple[tuple[str, str], ...], dialect: str, shown: str) -> None:
    """Refuse, where the URL is written, a parameter the dialect does not take or a value
    its reader refuses (a driver would only fail later, on connecting, or not at all)."""
    known = PARAMETERS[dialect]
    for key, value in query:
        parameter = known.get(key)
        if parameter is None:
            if dialect in _CLOSED:
                name = "***" if looks_secret(key) else repr(key)
                raise ConfigError(f"URL {shown!r}: unknown parameter {name} for "
                                  f"{_CLOSED[dialect]} (it takes {', '.join(sorted(known))})")
            continue
        try:
            parameter.read(value)
        except ValueError:
            raise ConfigError(f"URL {shown!r}: {key} must be {parameter.expected}") from None


def _parse_server(text: str, dialect: str, environ: Mapping[str, str]) -> DbUrl:
    shown = mask_password(text)
    scheme, _, rest = text.partition("://")
    # User and password are percent-encoded when substituted, so any character works there.
    authority, slash, tail = rest.partition("/")
    if userinfo_end(rest) > len(authority):   # a password's own `/` would start the path
        raise ConfigError(f"URL {shown!r}: its user or password holds a '/' or '?' that is "
                          "not percent-encoded, so it cannot be told from the host",
                          ["write '/' as %2F, '?' as %3F and '@' as %40 in them, or pass the "
                           "password as ${VARIABLE}"])
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
    _check_parameters(query, dialect, shown)
    return DbUrl(
        dialect, text,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[dialect],
        database=database,
        query=query,
    )
