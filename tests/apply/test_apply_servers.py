"""Eight `setright apply` processes of one saved plan on a PostgreSQL and a MariaDB store:
exactly one writes, the others are refused with one Error line (the SQLite version, with
the full state comparison, is test_apply_processes.py)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from serverhelp import server_store_url  # noqa: F401 - fixture
from setright.db import parse_url
from setright.store import Store
from storehelp import write_gate
from test_apply_processes import INCIDENT, build_scenario, plan_id_of, refusal_kind, spawn

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


def store_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    store = Store.open_reader(parse_url(url, Path(".")))
    try:
        with store.read() as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        store.close()


def serial(url: str) -> int:
    store = Store.open_reader(parse_url(url, Path(".")))
    try:
        return store.serial
    finally:
        store.close()


def test_eight_concurrent_applies_of_one_saved_plan_on_a_server(
        tmp_path: Path, server_store_url: str) -> None:
    scenario = build_scenario(tmp_path / "p", marked=6, store_url=server_store_url)
    serial_before = serial(server_store_url)
    with write_gate(server_store_url):
        procs = [spawn(scenario, "apply", str(scenario.plan), pause=0.05) for _ in range(8)]
        time.sleep(2.0)   # every process reaches its first write and waits at the gate
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out, err))

    winners = [r for r in results if r[0] == 0]
    assert len(winners) == 1, results
    assert winners[0][1].splitlines()[-1] == scenario.summary, winners
    kinds = Counter(refusal_kind(*r) for r in results if r[0] != 0)
    assert sum(kinds.values()) == 7 and set(kinds) <= {"lock", "stale"}, kinds

    plan_id = plan_id_of(scenario.plan)
    marks = store_rows(server_store_url,
                       "SELECT change_id, state, count(*) FROM setright_audit_log"
                       " WHERE state LIKE 'MANUAL_MARKED_AS_%' GROUP BY change_id, state")
    assert sorted(marks) == sorted((c, s, 1) for c, s in scenario.marks.items())
    ledger = store_rows(server_store_url,
                        "SELECT resolution_file, entry_key, plan_id FROM setright_ledger")
    assert sorted(ledger) == sorted((f, k, plan_id) for f, k in scenario.entries)
    redrives = store_rows(server_store_url,
                          "SELECT count(*) FROM setright_events WHERE apply_id = ?"
                          " AND kind = 'apply' AND new_state = 'failed_retryable'",
                          scenario.apply_id)
    assert redrives == [(1,)]
    assert store_rows(server_store_url, "SELECT count(*) FROM setright_locks") == [(0,)]
    assert serial(server_store_url) == serial_before + 1   # one state-writing transaction
    assert INCIDENT in {f for f, _, _ in ledger}
