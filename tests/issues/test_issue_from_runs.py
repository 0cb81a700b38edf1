"""`issue list` / `issue get` on issues the runner really produced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runhelp import Project, mask, normalise
from setright.timeutil import FixedClock
from storehelp import T0


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One target per case, so every failure stands alone:
    sync: STARTED — the runner process died after operation 1 (SETRIGHT_FAULT), reaped later;
    cache: FAILED NON_TX at operation 2 of 3 (operation 1 committed);
    first: FAILED NON_TX at operation 1 (nothing committed);
    pay: ROLLBACK_FAILED;
    orders: FAILED transactional, retry budget of 2 spent (a redrive candidate);
    users: create-users APPLIED (not an issue)."""
    root = tmp_path_factory.mktemp("issues") / "proj"
    p = Project(root, targets=("sync", "cache", "first", "pay", "orders", "users"), ttl="1s",
                max_attempts=2, start_ms=T0)
    p.change("_0001__user-data-sync-v2", target="sync", transactional=False, author="platform-team",
             apply="CREATE TABLE profiles (id INTEGER, v INTEGER);\n"
                   "INSERT INTO profiles VALUES (1, 2);\nINSERT INTO profiles VALUES (2, 2);")
    p.change("_0001__cache-warming-q4", target="cache", transactional=False,
             apply="CREATE TABLE cache (k TEXT PRIMARY KEY);\nINSERT INTO cache VALUES ('a'), ('a');"
                   "\nINSERT INTO cache VALUES ('b');")
    p.change("_0001__first-fails", target="first", transactional=False,
             apply="INSERT INTO missing VALUES (1);\nCREATE TABLE later (id INTEGER);")
    p.change("_0001__payment-processing", target="pay", transactional=False,
             apply="CREATE TABLE payments (id INTEGER CHECK (id > 0));\n"
                   "INSERT INTO payments VALUES (-1);",
             rollback="DELETE FROM payments;\nDROP TABLE payment_audit;")
    p.change("_0001__orders-index", target="orders",
             apply="CREATE TABLE orders (id INTEGER);\nCREATE INDEX orders_x ON orders (customer);")
    p.change("_0001__create-users", target="users", apply="CREATE TABLE users (id INTEGER);")
    crashed = p.spawn("run", "-t", "sync", fault="crash-after:user-data-sync-v2:1")
    crashed.communicate(timeout=60)
    assert crashed.returncode != 0
    import time

    time.sleep(1.2)  # the dead runner's lease (ttl 1s) expires; the next run reaps it
    for target in ("sync", "cache", "first", "pay", "orders", "users"):
        p.spawn("run", "-t", target).communicate(timeout=60)
    return p


@pytest.fixture
def clock(project: Project) -> FixedClock:
    return FixedClock(project.now_ms() + 5_000)  # after the runs above, on their timeline


def get(project: Project, clock: FixedClock, *args: str) -> tuple[int, str]:
    result = project.cli("issue", *args, clock=clock)
    return result.exit_code, normalise(result.output)


def test_issue_list(project, clock, snapshot) -> None:
    code, out = get(project, clock, "list", "--exit-code")
    assert code == 3
    assert out == snapshot
    data = json.loads(project.cli("issue", "list", "--json", clock=clock).stdout)
    by_id = {i["change_id"]: i for i in data["issues"]}
    assert {k: (v["state"], v["reason"], v["operations_completed"], v["operations_total"],
                v["partial_state_possible"]) for k, v in by_id.items()} == {
        "user-data-sync-v2": ("STARTED", "started-never-completed", 1, 3, True),
        "cache-warming-q4": ("FAILED", "failed-non-transactional", 1, 3, True),
        "first-fails": ("FAILED", "failed-non-transactional", 0, 2, False),
        "payment-processing": ("ROLLBACK_FAILED", "rollback-failed", 1, 2, True),
        "orders-index": ("FAILED", "retry-budget-exhausted", 0, 2, False),
    }
    assert by_id["orders-index"]["task_attempt"] == 2


@pytest.mark.parametrize("change_id", ["user-data-sync-v2", "cache-warming-q4", "first-fails",
                                       "payment-processing", "orders-index"])
def test_issue_get(project, clock, change_id, snapshot) -> None:
    code, out = get(project, clock, "get", "-c", change_id)
    assert code == 0
    assert out == snapshot


def test_not_an_issue(project, clock) -> None:
    assert get(project, clock, "get", "-c", "create-users") == (
        0, "Change 'create-users' is not an issue: APPLIED\n")


def test_issue_get_json_carries_every_field(project, clock) -> None:
    data = json.loads(project.cli("issue", "get", "-c", "orders-index", "--json",
                                  clock=clock).stdout)
    assert data["redrive"]["possible"] is True
    assert data["attempt"] == data["max_attempts"] == 2
    assert "redrives:" in data["resolution_yaml"]
    for key in ("apply_id", "operations_completed", "operations_total", "current_statement",
                "partial_state_possible", "runner", "lease_expires_at", "guidance"):
        assert key in data


def test_no_issues_and_one_issue(tmp_path: Path, snapshot) -> None:
    p = Project(tmp_path / "small")
    p.change("_0001__fine", apply="CREATE TABLE fine (id INTEGER);")
    clock = FixedClock(T0)
    store = p.open_store(clock)
    p.run(store)
    assert p.cli("issue", "list", "--exit-code", clock=clock).output == "No issues found.\n"
    assert p.cli("issue", "get", clock=clock).output == "No issues found.\n"
    p.change("_0002__broken", transactional=False, apply="INSERT INTO missing VALUES (1);")
    p.run(store)
    store.close()
    result = p.cli("--ascii", "issue", "list", "--exit-code", clock=clock)
    assert result.exit_code == 3
    assert normalise(result.output) == snapshot


@pytest.mark.parametrize("columns", ["250", "80"])
def test_issue_list_fills_the_terminal_width(project, clock, monkeypatch, columns,
                                             snapshot) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    result = project.cli("issue", "list", clock=clock)
    code, out = result.exit_code, mask(result.output)  # mask keeps every width
    assert code == 0
    table = [line for line in out.splitlines() if line[:1] in "┌│├└"]
    widths = {len(line) for line in table}
    assert len(widths) == 1  # still one aligned table
    if columns == "250":
        # the error column grows: no error is cut, the longest is shown whole
        assert "…" not in out and widths.pop() > 48 + 60
        assert "rollback failed: OperationalError: no such table: payment_audit" in out
    else:
        assert widths.pop() <= 80 and "…" in out
    assert out == snapshot


def test_piped_output_without_columns_keeps_the_fixed_width(project, clock,
                                                            monkeypatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = get(project, clock, "list")[1]
    assert "│ operation 2 of 3 failed: IntegrityError: UNIQUE… │" in out


def test_next_names_the_next_issue_in_list_order(project, clock) -> None:
    """Following every `Next:` hint from the first issue visits each issue once, in
    `issue list` order, then comes back round."""
    order = [i["change_id"] for i in json.loads(
        project.cli("issue", "list", "--json", clock=clock).stdout)["issues"]]
    seen, args = [], ["get"]
    for _ in order:
        out = get(project, clock, *args)[1]
        seen.append(out.splitlines()[0].removeprefix("ISSUE: "))
        hint = out.splitlines()[-1]
        assert hint.startswith("Next: setright issue get -c ")
        assert hint.endswith(f"({len(order) - 1} more issues)")
        args = ["get", "-c", hint.split()[5]]
    assert seen == order
    assert args[-1] == order[0]
    data = json.loads(project.cli("issue", "get", "-c", order[1], "--json", clock=clock).stdout)
    assert data["next_issue"] == order[2]


def test_guidance_and_change_id_are_flamingock_aliases(project, clock) -> None:
    plain = get(project, clock, "get", "-c", "cache-warming-q4")
    assert get(project, clock, "get", "--change-id", "cache-warming-q4", "-g") == plain
    assert get(project, clock, "get", "--change-id", "cache-warming-q4", "--guidance") == plain
    assert "RESOLUTION GUIDANCE" in plain[1]


def test_a_killed_runner_is_redriven_as_lost_not_as_fixed(project, clock) -> None:
    out = get(project, clock, "get", "-c", "user-data-sync-v2")[1]
    assert 'note: "runner lost; re-run the remaining work"' in out
    assert "fixed the cause" not in out
    out = get(project, clock, "get", "-c", "orders-index")[1]
    assert 'note: "fixed the cause; re-run the failed work"' in out


def test_the_scaffold_carries_a_ticket_line(tmp_path: Path) -> None:
    """Commented when optional; an empty value that validate refuses under
    policy.require_ticket, until someone fills it in."""
    p = Project(tmp_path / "t")
    p.change("_0001__broken", transactional=False, apply="INSERT INTO missing VALUES (1);")
    clock = FixedClock(T0)
    store = p.open_store(clock)
    p.run(store)
    store.close()
    out = p.cli("issue", "get", clock=clock).output
    assert "    # ticket: OPS-1234  # optional: the incident or change ticket" in out
    config = p.config_path.read_text() + "policy: {require_ticket: true}\n"
    p.config_path.write_text(config)
    written = p.cli("issue", "get", "--write", clock=clock)
    assert written.exit_code == 0, written.output
    path = p.root / "resolutions" / "2026-11-22-broken.yaml"
    text = path.read_text()
    assert 'ticket: ""  # required by policy.require_ticket' in text.splitlines()
    refused = p.cli("validate", clock=clock)
    assert refused.exit_code == 1 and "ticket" in refused.output + refused.stderr
    path.write_text(text.replace('reason: ""', 'reason: "checked by hand"')
                    .replace('ticket: ""', "ticket: OPS-1"))
    accepted = p.cli("validate", clock=clock)
    assert accepted.exit_code == 0, accepted.output + accepted.stderr


def _listed_fields(project: Project, clock: FixedClock) -> tuple[list[dict], list[dict]]:
    """`list_issues` and the full `diagnose_issues`, as the fields `issue list` shows."""
    from setright.runner.reap import target_marker_reader
    from setright.store.diagnosis import diagnose_issues
    from setright.store.issue_list import IssueSummary, list_issues

    store = project.open_store(clock)
    try:
        markers = target_marker_reader(project.config().targets)
        listed = [s._asdict() for s in list_issues(store.conn, now_ms=clock.now_ms(),
                                                  markers=markers)]
        full = diagnose_issues(store.conn, store.audit_table, now_ms=clock.now_ms(),
                               redrive_max_age=86_400, markers=markers)
    finally:
        store.close()
    names = list(IssueSummary._fields)
    return listed, [{n: getattr(d, n) for n in names} for d in full]


def test_the_list_reads_set_based_what_the_full_diagnosis_says(project, clock) -> None:
    listed, full = _listed_fields(project, clock)
    assert len(listed) == 5
    assert listed == full
