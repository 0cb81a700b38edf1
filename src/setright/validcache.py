"""Which files passed schema validation before, so an unchanged file skips jsonschema.

Importing jsonschema costs more than a small command's whole run, and
validating 2,000 resolution files costs more than planning them. A file that
passed is recorded under a key over the schema (its name and text) and the
file's text; the same key later means the same verdict, and the validator is
never imported. Only passes are recorded: a file with a problem is validated,
and its problems reported, by jsonschema every time.

Where: `$XDG_CACHE_HOME/setright/validated` (default `~/.cache/…`), never in
the project (a reader leaves the project byte-identical) nor in the audit
store; `SETRIGHT_VALIDATION_CACHE=off` turns it off. An entry is an empty file
named by an HMAC of its key under a random secret created with the cache (mode
0600): only a process that knows the secret can name the entry of a key, so a
missing, renamed or hand-written entry is a miss, never a pass, and looking an
entry up is one `stat` (a plan looks up 2,000; opening and reading each cost
more). Every write is atomic (a temporary file, then a rename or a link) and
best-effort: a read-only or full disk only means validating every time, and
processes racing to write the same entry write the same (empty) file.

Trusted only when it is ours: on POSIX the folder must be a real directory (not
a symlink) owned by this user with no group or other permission bits, and the
secret a regular file of exactly 32 bytes, likewise ours and private, opened
without following a symlink or blocking on a FIFO. A folder or secret anyone
else could read or write would let them name entries, so anything else means no
cache: every file is validated, silently. The verdict is reached once per
process. A relative `XDG_CACHE_HOME` is ignored, as the XDG Base Directory spec
says (it would put the cache in the work tree); a home that does not expand to
an absolute path turns the cache off.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DISABLE_ENV = "SETRIGHT_VALIDATION_CACHE"
_SECRET_BYTES = 32
#: per folder: its secret, or why there is none (`_MISSING` may be created later,
#: `_UNTRUSTED` never is): the checks run once per process, not once per lookup
_secrets: dict[Path, bytes | str] = {}
_MISSING, _UNTRUSTED = "missing", "untrusted"
_dirs: dict[tuple[str | None, str | None, str | None], Path | None] = {}


def cache_dir() -> Path | None:
    """The cache's folder, or None when it is turned off.

    Worked out once per environment (asked once per file, 100,000 times a run), and
    not even read from the environment again inside `one_folder()`.
    """
    if _pinned:
        return _pinned[-1]
    environ = os.environ
    disabled, xdg_cache = environ.get(DISABLE_ENV), environ.get("XDG_CACHE_HOME")
    where = (disabled, xdg_cache, environ.get("HOME"))  # HOME: what `~` expands to
    if where not in _dirs:
        _dirs[where] = _cache_dir(disabled, xdg_cache)
    return _dirs[where]


#: the folders `one_folder()` blocks settled on, innermost last
_pinned: list[Path | None] = []


@contextmanager
def one_folder() -> Iterator[None]:
    """Inside: the cache's folder as it is on entry, without reading the environment per
    file (a command loading thousands of files does not change its environment)."""
    _pinned.append(cache_dir())
    try:
        yield
    finally:
        _pinned.pop()


def _cache_dir(disabled: str | None, xdg_cache: str | None) -> Path | None:
    if (disabled or "").lower() in ("off", "0", "no", "false"):
        return None
    if xdg_cache and os.path.isabs(xdg_cache):
        base = xdg_cache
    else:  # unset, empty or relative: the spec says to ignore a relative path
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no HOME and no passwd entry, or a relative HOME
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "setright" / "validated"


def validation_key(schema_name: str, schema_digest: str, text_digest: str) -> str:
    """The key of "this text, validated against this schema"."""
    material = f"setright-validated-v1\0{schema_name}\0{schema_digest}\0{text_digest}"
    return hashlib.sha256(material.encode()).hexdigest()


def _secret(folder: Path, *, create: bool) -> bytes | None:
    """The cache's HMAC secret (created on first write; None when there is none or the
    folder or secret is not ours alone)."""
    known = _secrets.get(folder)
    if isinstance(known, bytes):
        return known
    if known == _UNTRUSTED or (known == _MISSING and not create):
        return None
    value = _read_secret(folder)
    if value == _MISSING and create:
        try:
            _create_secret(folder)
        except OSError:
            return None      # unwritable: not cached, a later write may succeed
        value = _read_secret(folder)
    _secrets[folder] = value
    return value if isinstance(value, bytes) else None


def _private(info: os.stat_result) -> bool:
    """Owned by this user, and nobody else may read, write or enter it."""
    return info.st_uid == os.geteuid() and info.st_mode & 0o077 == 0


def _read_secret(folder: Path) -> bytes | str:
    """The secret, if folder and secret are ours alone; else `_MISSING` or `_UNTRUSTED`.

    The folder is opened without following a symlink and the secret read through it
    (no path swapped in between), opened without following a symlink (to /dev/zero
    reading never ends) or blocking (a FIFO never answers), and at most one byte past
    its size is read.
    """
    if os.name != "posix":  # no owner or mode bits to check
        try:
            value = (folder / "secret").read_bytes()
        except FileNotFoundError:
            return _MISSING
        except OSError:
            return _UNTRUSTED
        return value if len(value) == _SECRET_BYTES else _UNTRUSTED
    try:
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _MISSING
    except OSError:      # a symlink (ELOOP), not a folder, not ours to enter
        return _UNTRUSTED
    try:
        if not _private(os.fstat(directory)):
            return _UNTRUSTED
        try:
            fd = os.open("secret", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK,
                         dir_fd=directory)
        except FileNotFoundError:
            return _MISSING
        try:
            info = os.fstat(fd)
            if not (stat.S_ISREG(info.st_mode) and _private(info)
                    and info.st_size == _SECRET_BYTES):
                return _UNTRUSTED
            value = b""
            while len(value) <= _SECRET_BYTES:
                chunk = os.read(fd, _SECRET_BYTES + 1 - len(value))
                if not chunk:
                    break
                value += chunk
        finally:
            os.close(fd)
    except OSError:
        return _UNTRUSTED
    finally:
        os.close(directory)
    return value if len(value) == _SECRET_BYTES else _UNTRUSTED


def _create_secret(folder: Path) -> None:
    """Write a new secret whole, unless one is there (a concurrent process linked first,
    or it is not ours: then `_read_secret` refuses it)."""
    import secrets

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)   # umask only removes bits
    if _read_secret(folder) != _MISSING:
        return           # a folder not ours: write nothing into it
    temporary = folder / f"secret.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(_SECRET_BYTES))
    finally:
        os.close(fd)
    try:
        os.link(temporary, folder / "secret")  # fails if another process was first
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def _entry(folder: Path, secret: bytes, key: str) -> str:
    """The entry's path, named by the key's seal (text, not a `Path`: one per file checked)."""
    seal = hmac.digest(secret, key.encode(), "sha256").hex()
    return f"{os.fspath(folder)}{os.sep}{seal[:2]}{os.sep}{seal}"


def passed(key: str) -> bool:
    """Whether a file with this key passed validation before (its entry exists)."""
    folder = cache_dir()
    if folder is None:
        return False
    secret = _secret(folder, create=False)
    if secret is None:
        return False
    return os.path.isfile(_entry(folder, secret, key))


def record_pass(key: str) -> None:
    """Remember that a file with this key passed; silently nothing when the cache is unwritable."""
    import secrets  # only a writer needs it: a lookup is an HMAC and a stat

    folder = cache_dir()
    if folder is None:
        return
    try:
        secret = _secret(folder, create=True)
        if secret is None:
            return
        entry = Path(_entry(folder, secret, key))
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = entry.with_name(f"{entry.name}.{secrets.token_hex(8)}.tmp")
        try:
            temporary.write_bytes(b"")
            os.replace(temporary, entry)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError:
        return
