"""`setright history`: resolution-file entries and every `audit fix` / `redrive`, newest first,
with --limit, -c/--change-id, --since, --json and the pull request CI named."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from planhelp import resolution_file, two_target_project
from runhelp import Project, normalise
from setright.store import Store
from setright.store.history import ledger_history
from setright.timeutil import FixedClock, iso_from_ms
from storehelp import T0



@pytest.fixture
def project(tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Project:
    """Four entries: a file applied from PR 12 (a mark and a satisfied entry), a cli redrive one
    minute later, a cli override mark two minutes later (from PR 42)."""
    p, jobs_apply = two_target_project(tmp_path / "proj", clock)
    resolution_file(p, "2026-11-22-loose.yaml", ticket="OPS-2",
                    reason="rows of the first statement deleted by hand",
                    resolutions=[{"change": "loose", "resolution": "ROLLED_BACK",
                                  "expect": "FAILED"},
                                 {"change": "seed", "resolution": "APPLIED"}])
    monkeypatch.setenv("GITHUB_REF", "refs/pull/12/merge")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/db")
    assert p.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    for name in ("GITHUB_REF", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name)
    clock.advance(60)
    p.query("ALTER TABLE jobs ADD COLUMN missing INTEGER", target="jobs")
    done = p.cli("redrive", jobs_apply, "--reason", "column added by hand", "--ticket", "OPS-3",
                 "--yes", clock=clock)
    assert done.exit_code == 0, done.output
    clock.advance(60)
    monkeypatch.setenv("SETRIGHT_PR", "42")
    done = p.cli("audit", "fix", "-c", "seed", "-r", "ROLLED_BACK", "--expect", "APPLIED",
                 "--reason", "re-seed\nafter the restore", "--yes", clock=clock)
    monkeypatch.delenv("SETRIGHT_PR")
    assert done.exit_code == 0, done.output
    return p


def history(project: Project, clock: FixedClock, *args: str) -> tuple[int, str, str]:
    result = project.cli("history", *args, clock=clock)
    return result.exit_code, normalise(result.stdout), normalise(result.stderr)


def keys(project: Project, clock: FixedClock, *args: str) -> list[tuple[str, str]]:
    result = project.cli("history", "--json", *args, clock=clock)
    assert result.exit_code == 0, result.output
    return [(r["source"], r["entry_key"]) for r in json.loads(result.stdout)["history"]]


def test_history_lists_file_entries_and_cli_writes(project, clock, snapshot) -> None:
    code, out, err = history(project, clock)
    assert (code, err) == (0, "")
    assert out == snapshot


def test_history_json_has_the_same_entries(project, clock, snapshot) -> None:
    result = project.cli("history", "--json", clock=clock)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(r["source"], r["entry_key"], r["pull_request"]) for r in data["history"]] == [
        ("cli", "resolution:seed", "#42"),
        ("cli", f"redrive:{data['history'][1]['entry_key'].split(':', 1)[1]}", None),
        ("file", "resolution:seed", "https://github.com/acme/db/pull/12"),
        ("file", "resolution:loose", "https://github.com/acme/db/pull/12")]
    assert data["more"] == 0
    assert normalise(result.stdout) == snapshot


def test_limit_cuts_and_says_how_many_more(project, clock, snapshot) -> None:
    code, out, _ = history(project, clock, "--limit", "1")
    assert code == 0
    assert out == snapshot
    assert out.splitlines()[-1] == "3 more; use --limit N to see more (--limit 0: all)."
    data = json.loads(project.cli("history", "--json", "--limit", "3", clock=clock).stdout)
    assert (len(data["history"]), data["more"]) == (3, 1)
    assert len(keys(project, clock, "--limit", "0")) == 4


def test_change_id_keeps_entries_that_touched_the_change(project, clock) -> None:
    assert keys(project, clock, "-c", "seed") == [("cli", "resolution:seed"),
                                                  ("file", "resolution:seed")]
    assert keys(project, clock, "--change-id", "loose") == [("file", "resolution:loose")]
    # the redrive reopened task jobs-index: it touched that change
    assert [s for s, k in keys(project, clock, "-c", "jobs-index")] == ["cli"]
    code, out, _ = history(project, clock, "-c", "nope")
    assert (code, out) == (0, "No entry matches.\n")


def test_since_takes_a_date_or_a_date_time(project, clock) -> None:
    assert len(keys(project, clock, "--since", "2026-11-22")) == 4
    assert keys(project, clock, "--since", "2026-11-23") == []
    after_apply = iso_from_ms(T0 + 30_000)
    assert [s for s, _ in keys(project, clock, "--since", after_apply)] == ["cli", "cli"]
    assert [s for s, _ in keys(project, clock, "--since", "2026-11-22T13:01:30+01:00")] == [
        "cli"]                                                   # = T0 + 90 s
    assert [s for s, _ in keys(project, clock, "--since", "2026-11-22T12:01:00")] == [
        "cli", "cli"]                                            # naive: UTC, inclusive


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "1795348800000"],
                                  ["--limit", "-1"], ["--limit", "x"]])
def test_bad_filters_are_usage_errors(project, clock, args, snapshot) -> None:
    result = project.cli("history", *args, clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == snapshot


def test_empty_history(tmp_path: Path, clock) -> None:
    p = Project(tmp_path / "empty")
    p.open_store(clock).close()
    result = p.cli("history", clock=clock)
    assert (result.exit_code, result.stdout) == (
        0, "Nothing has been applied yet (no resolution file, audit fix or redrive).\n")


def _fill(conn: sqlite3.Connection, n: int) -> None:
    """n ledger rows from n plans (with a mark event each) and n cli marks."""
    at = [iso_from_ms(T0 + i) for i in range(n)]
    conn.executemany(
        "INSERT INTO setright_ledger (resolution_file, entry_key, file_digest, outcome, plan_id,"
        " actor, applied_at) VALUES (?, ?, 'sha256:x', 'change', ?, 'a', ?)",
        [(f"resolutions/{i}.yaml", f"resolution:c{i}", f"pl-f{i}", at[i]) for i in range(n)])
    conn.executemany(
        "INSERT INTO setright_events (at, change_id, kind, old_state, new_state, actor, source,"
        " reason, resolution, plan_id) VALUES (?, ?, 'mark', 'FAILED',"
        " 'MANUAL_MARKED_AS_APPLIED', 'a', ?, 'r', ?, ?)",
        [row for i in range(n) for row in (
            (at[i], f"c{i}", "file", f"resolutions/{i}.yaml#resolution:c{i}", f"pl-f{i}"),
            (at[i], f"c{i}", "cli", None, f"pl-c{i}"))])


def test_history_of_ten_thousand_entries_is_a_few_set_queries(tmp_path: Path, clock) -> None:
    store = Store.open(tmp_path / "audit.db", clock=clock)
    with store.write() as tx:
        _fill(tx, 10_000)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    page = ledger_history(store.conn, limit=50)
    assert (len(page.rows), page.more) == (50, 19_950)
    assert len(statements) <= 3                 # columns, the page, its events
    statements.clear()
    everything = ledger_history(store.conn)
    assert len(everything.rows) == 20_000 and everything.more == 0
    assert len(statements) <= 2 + 20_000 // 500  # events fetched in batches of plan ids
    assert all(len(r["events"]) == 1 for r in everything.rows)
    picked = ledger_history(store.conn, change_id="c9999")
    assert [r["source"] for r in picked.rows] == ["file", "cli"]  # a tie: file rows first
    store.close()


def test_a_long_reason_is_cut_in_text_and_whole_in_json(project, clock) -> None:
    from setright.render.history import REASON_WIDTH, history_text
    from setright.render.style import Style

    reason = "checked every row by hand; " * 10
    done = project.cli("audit", "fix", "-c", "seed", "-r", "APPLIED", "--reason", reason,
                       "--expect", "MANUAL_MARKED_AS_ROLLED_BACK", "--yes", clock=clock)
    assert done.exit_code == 0, done.output
    rows = json.loads(project.cli("history", "--json", "--limit", "1", clock=clock).stdout)[
        "history"]
    assert rows[0]["reason"] == reason
    [line] = [ln for ln in history_text(rows, Style(ascii=True, color=False)).splitlines()
              if ln.startswith("    reason: ")]
    assert len(line) == len("    reason: ") + REASON_WIDTH and line.endswith("...")
    arrows = history_text(rows, Style(ascii=True, color=False))
    assert "->" in arrows and "→" not in arrows and "…" not in arrows
