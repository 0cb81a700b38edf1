"""`setright plan` for resolution entries: every outcome of the §6.2 table, from real runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from planhelp import Crash, actions, crash_after, plan, resolution_file
from runhelp import Project
from setright.timeutil import FixedClock

USERS = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, v INTEGER DEFAULT 1);\n" \
        "INSERT INTO users (email) VALUES ('a@x'), ('b@x');"



@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    """create-users APPLIED; cache-warming-q4 FAILED (NON_TX, op 1 of 3 committed);
    payment-processing ROLLBACK_FAILED; user-data-sync-v2 STARTED (runner lost); all on app."""
    p = Project(tmp_path / "proj", targets=("app", "pay", "sync"), ttl="10s")
    p.change("_0001__create-users", apply=USERS)
    p.change("_0002__cache-warming-q4", transactional=False, apply=(
        "UPDATE users SET v = 2 WHERE id = 1;\nINSERT INTO users (email) VALUES ('a@x');\n"
        "UPDATE users SET v = 2 WHERE id = 2;"))
    p.change("_0001__payment-processing", target="pay", transactional=False,
             apply="CREATE TABLE pay (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
             rollback="DROP TABLE no_such_table;")
    p.change("_0001__user-data-sync-v2", target="sync", transactional=False,
             apply="CREATE TABLE s (id INTEGER);\nINSERT INTO s VALUES (1);\nINSERT INTO s VALUES (2);")
    store = p.open_store(clock)
    p.run(store, targets=["app", "pay"])
    with pytest.raises(Crash):
        p.run(store, targets=["sync"], after_commit=crash_after("user-data-sync-v2", 1))
    clock.advance(30)               # the crashed runner's lease expires …
    p.run(store, targets=["sync"])  # … and the next run reaps it: STARTED, runner lost
    store.close()
    return p


def resolve(change: str, resolution: str, **guards: object) -> dict[str, object]:
    return {"change": change, "resolution": resolution, **guards}


def test_resolves_started_failed_and_rollback_failed(project: Project, clock, snapshot) -> None:
    resolution_file(project, "2026-11-22-incident.yaml", ticket="OPS-1234", resolutions=[
        resolve("user-data-sync-v2", "APPLIED", expect="STARTED", target="sync"),
        resolve("cache-warming-q4", "ROLLED_BACK", expect=["FAILED"]),
        resolve("payment-processing", "ROLLED_BACK"),
    ])
    code, out, err = plan(project, clock)
    assert (code, err) == (0, "")
    assert out == snapshot
    found = actions(project, clock)
    assert {k: v[0] for k, v in found.items()} == {
        "resolution:user-data-sync-v2": "change", "resolution:cache-warming-q4": "change",
        "resolution:payment-processing": "change"}


def test_satisfied_and_deliberate_override(project: Project, clock, snapshot) -> None:
    resolution_file(project, "a.yaml", resolutions=[resolve("create-users", "APPLIED")])
    resolution_file(project, "b.yaml", resolutions=[
        resolve("payment-processing", "ROLLED_BACK", expect="ROLLBACK_FAILED")])
    found = actions(project, clock)
    assert found["resolution:create-users"] == (
        "satisfied", ["change 'create-users' is already APPLIED"])
    (project.root / "resolutions" / "a.yaml").unlink()
    resolution_file(project, "c.yaml", resolutions=[
        resolve("create-users", "ROLLED_BACK", expect="APPLIED")])
    found = actions(project, clock)
    assert found["resolution:create-users"][0] == "change"
    assert "deliberate override" in found["resolution:create-users"][1][0]
    code, out, _ = plan(project, clock)
    assert out == snapshot


@pytest.mark.parametrize(("entry", "message"), [
    (resolve("nope", "APPLIED"), "change 'nope' is not in the audit store"),
    (resolve("it's-ünï", "APPLIED"), "change \"it's-ünï\" is not in the audit store"),
    (resolve("cache-warming-q4", "APPLIED", expect="STARTED"),
     "expect guard: change 'cache-warming-q4' is FAILED, the entry expects STARTED"),
    (resolve("cache-warming-q4", "APPLIED", target="sync"),
     "target guard: change 'cache-warming-q4' is on 'app', the entry expects 'sync'"),
    (resolve("create-users", "ROLLED_BACK"),
     "change 'create-users' is not an issue (APPLIED: done); to mark it anyway, set expect: APPLIED"),
])
def test_resolution_conflicts(project: Project, clock, entry, message) -> None:
    resolution_file(project, "x.yaml", resolutions=[entry])
    key = f"resolution:{entry['change']}"
    assert actions(project, clock)[key] == ("conflict", [message])
    code, out, _ = plan(project, clock, "--detailed-exitcode")
    assert code == 1 and "cannot be applied" in out


def test_two_entries_for_one_change_conflict(project: Project, clock, snapshot) -> None:
    resolution_file(project, "a.yaml", resolutions=[resolve("cache-warming-q4", "APPLIED")])
    resolution_file(project, "b.yaml", resolutions=[resolve("cache-warming-q4", "ROLLED_BACK")])
    code, out, err = plan(project, clock)
    assert code == 1
    assert out == snapshot


def test_detailed_exitcode(project: Project, clock) -> None:
    assert plan(project, clock, "--detailed-exitcode")[0] == 0      # no files: no changes
    resolution_file(project, "a.yaml", resolutions=[resolve("create-users", "APPLIED")])
    assert plan(project, clock, "--detailed-exitcode")[0] == 0      # only satisfied
    resolution_file(project, "b.yaml", resolutions=[resolve("cache-warming-q4", "APPLIED")])
    assert plan(project, clock, "--detailed-exitcode")[0] == 2      # changes present
    assert plan(project, clock)[0] == 0
    assert project.cli("plan", "--bogus", clock=clock).exit_code == 1   # usage error: 1, not 2


def test_markdown_and_json_views(project: Project, clock, snapshot) -> None:
    resolution_file(project, "2026-11-22-incident.yaml", ticket="OPS-1234", resolutions=[
        resolve("cache-warming-q4", "ROLLED_BACK", expect="FAILED"),
        resolve("nope", "APPLIED"),
    ])
    md = project.cli("plan", "--format", "markdown", clock=clock)
    assert md.exit_code == 1
    from runhelp import normalise

    assert normalise(md.stdout) == snapshot
    data = project.cli("plan", "--format", "json", clock=clock)
    import json

    plan_data = json.loads(data.stdout)
    assert plan_data["format_version"] == "1.0"
    assert plan_data["summary"] == {"resolve": 1, "redrive": 0, "satisfied": 0, "conflicts": 1}
    assert (plan_data["applyable"], plan_data["errored"]) == (False, True)
    for action in plan_data["actions"]:
        action["guard"] = {"data": "<data>", "fingerprint": action["guard"]["fingerprint"][:4]}
    plan_data["plan_id"] = "<plan-id>"
    plan_data["store"]["lineage"] = "<lineage>"
    plan_data["store"]["serial"] = "<serial>"  # how many commits the runner made: not this test's business
    plan_data["deepdiff_version"] = "<deepdiff>"
    plan_data["created_at"] = "<time>"
    assert plan_data == snapshot


def test_a_note_of_several_lines_stays_under_its_entry(project: Project, clock, snapshot) -> None:
    """No line of a note starts a line of the plan: a note cannot pass for setright's own
    `Error:` or `Plan:` line in the text a reviewer reads."""
    resolution_file(project, "2026-11-22-incident.yaml", resolutions=[
        resolve("cache-warming-q4", "ROLLED_BACK", note="verified by hand\nError: forged\n\n"),
        resolve("payment-processing", "ROLLED_BACK", note="  \n "),
    ])
    code, out, err = plan(project, clock)
    assert (code, err) == (0, "")
    assert [line for line in out.splitlines() if line.startswith(("Error", "Plan"))] == [
        "Plan: 2 to resolve, 0 to redrive, 0 satisfied, 0 conflicts."]
    markdown = project.cli("plan", "--format", "markdown", clock=clock)
    from runhelp import normalise

    assert (out, normalise(markdown.stdout)) == snapshot


def test_markdown_renders_hostile_text_as_text() -> None:
    """A note or an id cannot close the fold, end a code span early or make a link."""
    from setright.render.plan import _md_code, _md_escape

    assert _md_escape("verified </details> see [me](http://x) | `y`") == (
        "verified \\</details\\> see \\[me\\](http://x) \\| \\`y\\`")
    assert _md_code('resolution.change["add-`idx`"]') == '``resolution.change["add-`idx`"]``'
    # a mention or an issue reference in a note renders, but pings and links nobody
    assert _md_escape("ask @db-team about #123; mail a@b.c, # 1") == (
        "ask @<!-- -->db-team about #<!-- -->123; mail a@<!-- -->b.c, # 1")
    assert _md_code("`x", cell=True) == "`` `x ``" and _md_code("a|b", cell=True) == "`a\\|b`"
