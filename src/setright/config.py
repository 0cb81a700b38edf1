"""setright.yaml: finding it, validating it, and resolving its paths.

Relative paths and `sqlite:///` URLs are resolved against the folder holding
the config file, so commands behave the same from any subdirectory. Every
database URL (the store, each target) is parsed once, here, into a `DbUrl`
(`setright.db.parse_url`: `${VAR}` substitution, masking, the dialect).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from setright.db.url import DbUrl, parse_url
from setright.errors import ConfigError, InvalidInput, Problem
from setright.timeutil import parse_duration

if TYPE_CHECKING:
    from setright.yamlfile import YamlDocument

#: URLs the schema lets through to `parse_url` (config.v1.json: `database_url`)
SCHEMES = re.compile(r"(sqlite|postgresql|postgres|mysql|mariadb)://")
CONFIG_NAME = "setright.yaml"
DEFAULT_STORE_URL = "sqlite:///.setright/audit.db"
DEFAULT_AUDIT_TABLE = "setright_audit_log"
DEFAULT_FLAMINGOCK_LOCK_TABLE = "flamingockLock"


@dataclass(frozen=True)
class TargetConfig:
    """One target. `url` is the URL as written; `db_url` the parsed one (`path`: its
    SQLite file, None on a server)."""

    name: str
    url: str
    path: Path | None
    changes: Path | None
    db_url: DbUrl = field(default=None, compare=False)  # type: ignore[assignment]
    #: where `changes` is written (file:line:column), for errors about that folder
    changes_at: str | None = field(default=None, compare=False)
    #: where `url` is written, for errors about what it names
    url_at: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.db_url is None:
            object.__setattr__(self, "db_url", _as_db_url(self.url, self.path))


@dataclass(frozen=True)
class Config:
    """Validated configuration with every path absolute.

    `store` is the parsed store URL; `store_url` the text it came from (as configured,
    shown masked) and `store_path` its SQLite file (None on a server)."""

    root: Path
    path: Path | None
    store_url: str
    store_path: Path | None
    audit_table: str = DEFAULT_AUDIT_TABLE
    #: How zone-less audit timestamps read (Flamingock's TIMESTAMP on a server: the JVM's
    #: local time), an IANA name.
    timezone: str = "UTC"
    #: the lock table of a Flamingock runner sharing the audit store (a live lock there
    #: means its STARTED changes are running, not issues)
    flamingock_lock_table: str = DEFAULT_FLAMINGOCK_LOCK_TABLE
    resolutions: Path = Path("resolutions")
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    max_attempts: int = 3
    redrive_max_age: float = 86400.0
    lock_ttl: float = 60.0
    require_ticket: bool = False
    require_committed: bool = True
    store: DbUrl = field(default=None, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.store is None:
            object.__setattr__(self, "store", _as_db_url(self.store_url, self.store_path,
                                                         self.root))


def _as_db_url(text: str, path: Path | None, root: Path | None = None) -> DbUrl:
    """The DbUrl of a config built in code (tests, tools): a SQLite URL takes the `path`
    it was given; anything else is parsed."""
    if path is not None and text.lower().startswith("sqlite:"):
        return DbUrl("sqlite", text, path=path)
    return parse_url(text, root or Path.cwd())


def find_config(start: Path) -> Path | None:
    """setright.yaml in `start` or the nearest parent folder."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path, *, store_override: str | None = None) -> Config:
    """Load and validate a config file; raise `ConfigError` naming file:line:column."""
    from setright.schemas import schema_problems
    from setright.yamlfile import load_yaml

    # The project is the folder the file is found in: a setright.yaml that links to a
    # shared one elsewhere still configures this folder (its resolutions, its changes).
    root = Path(os.path.abspath(path)).parent.resolve()
    path = root / path.name
    shown = _shown_name(path)
    doc = load_yaml(path, shown)
    urls, url_problems = _parse_urls(doc, root)
    problems = schema_problems(doc, "config")
    if url_problems:
        problems = sorted(problems + url_problems, key=lambda p: (p.line or 0, p.column or 0))
    problems = (problems or _duration_problems(doc) or _timezone_problems(doc)
                or _folder_problems(doc, root))
    if problems:
        raise InvalidInput("invalid configuration", problems)
    data = doc.data
    store = data.get("store") or {}
    override = store_override or os.environ.get("SETRIGHT_STORE")
    store_url = override or store.get("url", DEFAULT_STORE_URL)
    if override:
        store_db = _parse_override(override, root, store_override)
    elif "url" in store:
        store_db = replace(urls[("store",)],
                           origin=doc.problem(("store", "url"), "").location())
    else:
        store_db = parse_url(store_url, root)
    targets = {}
    for name, spec in (data.get("targets") or {}).items():
        changes = spec.get("changes")
        db_url = urls[("targets", name)]
        targets[name] = TargetConfig(
            name=name,
            url=spec["url"],
            path=db_url.path,
            changes=(root / changes) if changes else None,
            db_url=db_url,
            changes_at=doc.problem(("targets", name, "changes"), "").location()
            if changes else None,
            url_at=doc.problem(("targets", name, "url"), "").location(),
        )
    return Config(
        root=root,
        path=path,
        store_url=store_url,
        store_path=store_db.path,
        store=store_db,
        audit_table=store.get("audit_table", DEFAULT_AUDIT_TABLE),
        timezone=store.get("timezone", "UTC"),
        flamingock_lock_table=store.get("flamingock_lock_table", DEFAULT_FLAMINGOCK_LOCK_TABLE),
        resolutions=root / data.get("resolutions", "resolutions"),
        targets=targets,
        max_attempts=(data.get("run") or {}).get("max_attempts", 3),
        redrive_max_age=parse_duration((data.get("redrive") or {}).get("max_age", "1d")),
        lock_ttl=parse_duration((data.get("lock") or {}).get("ttl", "60s")),
        require_ticket=(data.get("policy") or {}).get("require_ticket", False),
        require_committed=(data.get("policy") or {}).get("require_committed", True),
    )


def _parse_urls(doc: YamlDocument, root: Path
                ) -> tuple[dict[tuple[str, ...], DbUrl], list[Problem]]:
    """Every database URL of the file parsed once (key: its section), and the problems of
    those that do not parse, located in the file. Values the schema refuses are skipped."""
    parsed: dict[tuple[str, ...], DbUrl] = {}
    problems: list[Problem] = []
    places: list[tuple[tuple[str, ...], object]] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    store = data.get("store")
    if isinstance(store, dict) and "url" in store:
        places.append((("store",), store["url"]))
    targets = data.get("targets")
    for name, spec in (targets.items() if isinstance(targets, dict) else ()):
        if isinstance(spec, dict) and "url" in spec:
            places.append((("targets", name), spec["url"]))
    for where, text in places:
        if not isinstance(text, str) or not SCHEMES.match(text):
            continue  # the schema says what is wrong with it
        try:
            parsed[where] = parse_url(text, root)
        except ConfigError as exc:
            problems.append(doc.problem((*where, "url"), exc.message))
    return parsed, problems


def _folder_problems(doc: YamlDocument, root: Path) -> list[Problem]:
    """The folders the file names (`resolutions`, each target's `changes`) must be paths
    this system can look up: a name too long for it is a place in the file, not a crash
    later in whichever command first lists the folder."""
    data = doc.data
    places: list[tuple[tuple[str, ...], object]] = [(("resolutions",), data.get("resolutions"))]
    places += [(("targets", name, "changes"), spec.get("changes"))
               for name, spec in (data.get("targets") or {}).items() if isinstance(spec, dict)]
    problems = []
    for where, folder in places:
        if not isinstance(folder, str) or not folder:
            continue
        try:
            (root / folder).exists()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(doc.problem(where, f"this folder cannot be used: {reason}"))
            continue
        if where == ("resolutions",) and not _inside(root / folder, root):
            # applied files are recorded by their name in the project (ledger, plan, git)
            problems.append(doc.problem(where, "the resolutions folder must be inside the "
                                               "project (the folder of setright.yaml)"))
    return problems


def _inside(path: Path, root: Path) -> bool:
    """Whether `path` (symbolic links resolved) lies in `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _timezone_problems(doc: YamlDocument) -> list[Problem]:
    """`store.timezone` must be a zone Python's tz database knows."""
    name = (doc.data.get("store") or {}).get("timezone")
    if name is None:
        return []
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [doc.problem(("store", "timezone"),
                            f"unknown time zone {name!r} (an IANA name such as UTC or "
                            "Europe/Berlin)")]
    return []


#: The longest duration setright accepts (ten years): every later instant must stay a
#: timestamp the platform and the store can hold.
MAX_DURATION_S = 10 * 365 * 86400
#: A lease shorter than this is lost before its keeper can renew it (every ttl/3).
MIN_TTL_S = 1.0


def _duration_problems(doc: YamlDocument) -> list[Problem]:
    """Durations the schema lets through: negative, infinite, NaN, longer than ten years
    (a lock expiry or redrive deadline past any timestamp), and a ttl under a second."""
    problems = []
    for section, key in (("lock", "ttl"), ("redrive", "max_age")):
        value = (doc.data.get(section) or {}).get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and (not math.isfinite(value) or value < 0):
            problems.append(doc.problem((section, key), "expected a duration such as 60s, 5m, "
                                        "1h or 1d (a number of seconds must be finite and >= 0)"))
            continue
        try:
            seconds = parse_duration(value)
        except (ValueError, OverflowError):
            continue  # the schema's pattern reports it
        if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
            problems.append(doc.problem((section, key), "a duration of at most 3650d"))
        elif key == "ttl" and seconds < MIN_TTL_S:
            problems.append(doc.problem((section, key), "a lock ttl of at least 1s (a shorter"
                                        " lease expires before it can be renewed)"))
    return problems


def _override_origin(store_override: str | None) -> str:
    """Where a store URL given outside the file came from: --store wins over the variable."""
    return "--store" if store_override else "SETRIGHT_STORE"


def _parse_override(store_url: str, root: Path, store_override: str | None) -> DbUrl:
    """A store URL given outside the file, whose errors name where it was given."""
    return parse_given_url(store_url, root, _override_origin(store_override))


def parse_given_url(text: str, root: Path, origin: str) -> DbUrl:
    """A URL given on the command line or in the environment (`origin`: `--store`,
    `SETRIGHT_STORE`, `--to`): its errors, and those of connecting to it, name `origin`."""
    try:
        return replace(parse_url(text, root), origin=origin)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc.message}", exc.details) from None


def store_only_config(store_url: str, cwd: Path, store_override: str | None = None) -> Config:
    """Defaults for a project with no setright.yaml, given only a store URL."""
    cwd = cwd.resolve()
    store = _parse_override(store_url, cwd, store_override)
    return Config(root=cwd, path=None, store_url=store_url, store_path=store.path,
                  resolutions=cwd / "resolutions", store=store)


def resolve_config(config_path: Path | None, store_override: str | None, cwd: Path) -> Config:
    """The config the CLI runs with: --config, else the nearest setright.yaml, else --store alone."""
    if config_path is not None:
        if not config_path.is_file():
            raise ConfigError(f"config file {config_path} " + (
                "is not a regular file" if config_path.exists() else "does not exist"))
        return load_config(config_path, store_override=store_override)
    found = find_config(cwd)
    if found is not None:
        return load_config(found, store_override=store_override)
    store_url = store_override or os.environ.get("SETRIGHT_STORE")
    if store_url:
        return store_only_config(store_url, cwd, store_override)
    raise ConfigError(
        f"no {CONFIG_NAME} in {cwd.resolve()} or its parents",
        ["run 'setright init' to create one, or pass --store URL"],
    )


def _shown_name(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

