"""setright.yaml: finding it, validating it, and resolving its paths.

Relative paths and `sqlite:///` URLs are resolved against the folder holding
the config file, so commands behave the same from any subdirectory.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from setright.errors import ConfigError, InvalidInput, Problem
from setright.timeutil import parse_duration

if TYPE_CHECKING:
    from setright.yamlfile import YamlDocument

CONFIG_NAME = "setright.yaml"
DEFAULT_STORE_URL = "sqlite:///.setright/audit.db"
DEFAULT_AUDIT_TABLE = "setright_audit_log"


@dataclass(frozen=True)
class TargetConfig:
    name: str
    url: str
    path: Path
    changes: Path | None


@dataclass(frozen=True)
class Config:
    """Validated configuration with every path absolute."""

    root: Path
    path: Path | None
    store_url: str
    store_path: Path
    audit_table: str = DEFAULT_AUDIT_TABLE
    resolutions: Path = Path("resolutions")
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    max_attempts: int = 3
    redrive_max_age: float = 86400.0
    lock_ttl: float = 60.0
    require_ticket: bool = False
    require_committed: bool = True


def sqlite_path(url: str, root: Path) -> Path:
    """`sqlite:///rel/path` is relative to `root`; `sqlite:////abs/path` is absolute."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"unsupported URL {url!r}: only sqlite:///path URLs are supported")
    rest = url[len("sqlite:///"):].split("?", 1)[0]
    if not rest:
        raise ConfigError(f"URL {url!r} names no file")
    path = Path(rest)
    return path if path.is_absolute() else (root / path)


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

    path = path.resolve()
    shown = _shown_name(path)
    doc = load_yaml(path, shown)
    problems = schema_problems(doc, "config") or _duration_problems(doc)
    if problems:
        raise InvalidInput("invalid configuration", problems)
    data = doc.data
    root = path.parent
    store = data.get("store") or {}
    store_url = store_override or os.environ.get("SETRIGHT_STORE") or store.get("url", DEFAULT_STORE_URL)
    targets = {}
    for name, spec in (data.get("targets") or {}).items():
        changes = spec.get("changes")
        targets[name] = TargetConfig(
            name=name,
            url=spec["url"],
            path=sqlite_path(spec["url"], root),
            changes=(root / changes) if changes else None,
        )
    return Config(
        root=root,
        path=path,
        store_url=store_url,
        store_path=sqlite_path(store_url, root),
        audit_table=store.get("audit_table", DEFAULT_AUDIT_TABLE),
        resolutions=root / data.get("resolutions", "resolutions"),
        targets=targets,
        max_attempts=(data.get("run") or {}).get("max_attempts", 3),
        redrive_max_age=parse_duration((data.get("redrive") or {}).get("max_age", "1d")),
        lock_ttl=parse_duration((data.get("lock") or {}).get("ttl", "60s")),
        require_ticket=(data.get("policy") or {}).get("require_ticket", False),
        require_committed=(data.get("policy") or {}).get("require_committed", True),
    )


def _duration_problems(doc: YamlDocument) -> list[Problem]:
    """Durations the schema lets through as numbers: negative, infinite, NaN."""
    problems = []
    for section, key in (("lock", "ttl"), ("redrive", "max_age")):
        value = (doc.data.get(section) or {}).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                not math.isfinite(value) or value < 0):
            problems.append(doc.problem((section, key), "expected a duration such as 60s, 5m, "
                                        "1h or 1d (a number of seconds must be finite and >= 0)"))
    return problems


def store_only_config(store_url: str, cwd: Path) -> Config:
    """Defaults for a project with no setright.yaml, given only a store URL."""
    cwd = cwd.resolve()
    return Config(root=cwd, path=None, store_url=store_url, store_path=sqlite_path(store_url, cwd),
                  resolutions=cwd / "resolutions")


def resolve_config(config_path: Path | None, store_override: str | None, cwd: Path) -> Config:
    """The config the CLI runs with: --config, else the nearest setright.yaml, else --store alone."""
    if config_path is not None:
        if not config_path.is_file():
            raise ConfigError(f"config file {config_path} does not exist")
        return load_config(config_path, store_override=store_override)
    found = find_config(cwd)
    if found is not None:
        return load_config(found, store_override=store_override)
    store_url = store_override or os.environ.get("SETRIGHT_STORE")
    if store_url:
        return store_only_config(store_url, cwd)
    raise ConfigError(
        f"no {CONFIG_NAME} in {cwd.resolve()} or its parents",
        ["run 'setright init' to create one, or pass --store URL"],
    )


def _shown_name(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

