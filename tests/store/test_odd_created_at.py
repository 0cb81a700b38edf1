"""A Flamingock audit log with `created_at` values no runner should write (garbage, an
impossible date, a year past 9999 or before 1, int64's ends) is still read on every store:
such a row folds as -1 ms or at its real time, the other issues are still listed, and SQLite,
PostgreSQL and MariaDB/MySQL (a text `created_at`) list the same thing, word for word.
Nothing here reads the host's date or zone."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from runhelp import Project
from serverhelp import SQLITE_STORE, store_database
from setright.timeutil import FixedClock
from storehelp import FLAMINGOCK_DDL, T0

#: 10000-01-01T00:00:00.000Z, the first instant `datetime` cannot hold.
YEAR_10000_MS = 253_402_300_800_000
#: 10000-06-01T10:00:00.000Z (152 days into the leap year 10000, then ten hours).
JUNE_10000_MS = YEAR_10000_MS + 152 * 86_400_000 + 10 * 3_600_000
#: 0001-01-01T00:00:00.000Z, the first instant of year 1.
YEAR_ONE_MS = -62_135_596_800_000
#: -1 ms: what an unreadable `created_at` folds as.
UNREADABLE = "1969-12-31T23:59:59.999Z"

#: change id → (the text written into `created_at`, what `issue list` says its time is).
ODD_ROWS: dict[str, tuple[str, str]] = {
    "garbage": ("garbage", UNREADABLE),
    "empty": ("", UNREADABLE),
    "impossible": ("2026-13-45T99:99:99Z", UNREADABLE),
    "no-leap-day": ("2026-02-29T10:00:00Z", UNREADABLE),
    "hour-24": ("2026-01-01T24:00:00Z", UNREADABLE),
    "double-minus": ("--5", UNREADABLE),
    "infinite": ("1e400", UNREADABLE),
    "past-int64": ("9223372036854775808", UNREADABLE),
    # SQLite's NUMERIC affinity makes this a REAL, read cut towards zero
    "half-ms": ("1767261600000.5", "2026-01-01T10:00:00.000Z"),
    "padded": (" 1767261600000 ", "2026-01-01T10:00:00.000Z"),
    "nanos-offset": ("2026-01-01T11:00:00.123456789+01:00", "2026-01-01T10:00:00.123Z"),
    "zone-less": ("2026-01-01 10:00:00.5", "2026-01-01T10:00:00.500Z"),
    "year-10000": (str(YEAR_10000_MS), "10000-01-01T00:00:00.000Z"),
    "june-10000": (str(JUNE_10000_MS), "10000-06-01T10:00:00.000Z"),
    "offset-into-10000": ("9999-12-31T23:59:59-05:00", "10000-01-01T04:59:59.000Z"),
    "no-seconds": ("2026-01-01T10:00", "2026-01-01T10:00:00.000Z"),
    "lower-case": ("2026-01-01t10:00:00.5z", "2026-01-01T10:00:00.500Z"),
    "tab-padded": ("\t2026-01-01 10:00:00+0130\n", "2026-01-01T08:30:00.000Z"),
    # ISO 8601's astronomical years: year 0 is 1 BC, -0001 is 2 BC
    "bc-1": (str(YEAR_ONE_MS - 1), "0000-12-31T23:59:59.999Z"),
    "bc-2": (str(YEAR_ONE_MS - 366 * 86_400_000 - 1), "-0001-12-31T23:59:59.999Z"),
    # past PostgreSQL's timestamp range (4713 BC to 294276 AD) and int64's ends
    "bc-4714": (str(-210_866_803_200_001), "-4713-11-23T23:59:59.999Z"),
    "ad-294277": (str(9_224_318_016_000_000), "294277-01-01T00:00:00.000Z"),
    "int64-max": (str(2 ** 63 - 1), "292278994-08-17T07:12:55.807Z"),
    "int64-min": (str(-(2 ** 63)), "-292275055-05-16T16:47:04.192Z"),
}

INSERT = ("INSERT INTO flamingockAuditLog (execution_id, change_id, author, created_at, state,"
          " tx_strategy, target_system_id, recovery_strategy, error_trace)"
          " VALUES ('exec-1', ?, 'flamingock', ?, ?, 'NON_TX', 'app', 'MANUAL_INTERVENTION', ?)")


def rows() -> list[tuple[str, str, str, str | None]]:
    """A readable failure (the issue that must still be listed), then one FAILED row per
    odd time: each is its change's only row, so its time is the one listed."""
    out: list[tuple[str, str, str, str | None]] = [
        ("fine", str(T0 - 9000), "STARTED", None),
        ("fine", str(T0 - 8000), "FAILED", "java.sql.SQLException: boom"),
    ]
    out += [(change, text, "FAILED", "boom") for change, (text, _) in ODD_ROWS.items()]
    return out


def project_on(root: Path, store_url: str, **store: Any) -> Project:
    """A project whose store is `store_url`, with `store` settings added."""
    project = Project(root, store_url=store_url)
    config = yaml.safe_load(project.config_path.read_text())
    config["store"].update(store)
    project.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return project


@contextmanager
def flamingock_store(root: Path, backend: str) -> Iterator[str]:
    """A store URL whose Flamingock audit table holds `rows()`: on SQLite in Flamingock's own
    DDL (`created_at DATETIME`), on a server in its DDL with a text `created_at`."""
    with store_database(backend) as url:
        if backend == "sqlite":
            (root / ".setright").mkdir(parents=True)
            conn = sqlite3.connect(root / ".setright" / "audit.db")
            conn.executescript(FLAMINGOCK_DDL)
            conn.executemany(INSERT, rows())
            conn.commit()
            conn.close()
        else:
            from setright.db import impl_for, mysql, parse_url, postgres

            parsed = parse_url(url, root)
            server = impl_for(parsed).connect(parsed)
            try:
                if backend == "postgresql":
                    server.execute(postgres.flamingock_audit_ddl("flamingockAuditLog"))
                    server.execute("ALTER TABLE flamingockAuditLog ALTER COLUMN created_at"
                                   " TYPE text USING created_at::text")
                else:
                    server.execute(mysql.flamingock_audit_ddl("flamingockAuditLog"))
                    server.execute("ALTER TABLE flamingockAuditLog MODIFY created_at LONGTEXT")
                server.executemany(INSERT, rows())
            finally:
                server.close()
        yield url


def readings(root: Path, backend: str) -> dict[str, Any]:
    """What the readers print as JSON, each asserted to succeed."""
    with flamingock_store(root, backend) as url:
        project = project_on(root, url if backend != "sqlite" else SQLITE_STORE,
                             audit_table="flamingockAuditLog", timezone="UTC")
        out: dict[str, Any] = {}
        for args in (("issue", "list", "--json"), ("audit", "list", "--json"),
                     ("audit", "list", "--history", "--json")):
            result = project.cli(*args, clock=FixedClock(T0))
            assert result.exit_code == 0, result.output
            out[" ".join(args)] = json.loads(result.output)
        return out


def times(listed: dict[str, Any]) -> dict[str, str]:
    return {i["change_id"]: i["created_at"] for i in listed["issue list --json"]["issues"]}


def test_odd_times_on_sqlite_fold_and_list(tmp_path: Path) -> None:
    """Before: a year past 9999 failed every reader ("user-defined function raised
    exception", `datetime` stops at 9999)."""
    listed = readings(tmp_path, "sqlite")
    assert times(listed) == {"fine": "2026-11-22T11:59:52.000Z",
                             **{change: shown for change, (_, shown) in ODD_ROWS.items()}}
    history = {r["change_id"]: r["created_at"]
               for r in listed["audit list --history --json"]["rows"] if r["state"] == "FAILED"}
    assert history["year-10000"] == "10000-01-01T00:00:00.000Z"


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_odd_times_list_alike_on_sqlite_and_servers(tmp_path: Path, backend: str) -> None:
    """Before: one unreadable text failed every reader on PostgreSQL ("invalid input syntax
    for type timestamp") and a fraction past ms was rounded, not cut; a time past
    PostgreSQL's timestamp range failed every reader there ("interval out of range"), as
    one past ±292 thousand years did on MySQL ("BIGINT value is out of range"), which also
    read `1767261600000.5` and times without seconds as -1 and years past 9999 as NULL."""
    on_server = readings(tmp_path / backend, backend)
    assert on_server == readings(tmp_path / "sqlite", "sqlite")
    assert times(on_server)["garbage"] == UNREADABLE
    assert times(on_server)["june-10000"] == "10000-06-01T10:00:00.000Z"
    assert times(on_server)["bc-2"] == "-0001-12-31T23:59:59.999Z"
