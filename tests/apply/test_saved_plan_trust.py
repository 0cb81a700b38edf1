"""A saved plan cannot change what is applied: `apply FILE` re-derives every
action from the files the plan names and the store, and refuses any plan that says otherwise.

Each forged plan here has its digest recomputed (`plan_digest`), as anyone can: the digest
only catches accidents, the re-derivation is what protects the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planhelp import backfill_project, failed_apply_id, resolution_file, state_and_ledger
from runhelp import Project, normalise
from setright.planner.saved import plan_digest
from setright.timeutil import FixedClock



@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    return backfill_project(tmp_path / "proj", clock)


def errors(project: Project, text: str) -> str:
    """stderr without the 'not in a git work tree' warning, paths relative to the project."""
    text = normalise(text.replace(str(project.root), "<root>"))
    return "\n".join(ln for ln in text.splitlines() if not ln.startswith("Warning:"))


def save(project: Project, clock: FixedClock, *paths: str) -> Path:
    out = project.root / "plan.json"
    result = project.cli("plan", *paths, "-o", str(out), clock=clock)
    assert result.exit_code == 0, result.output
    return out


def forge(plan: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    """Edit the saved plan and recompute its digest, as an attacker (or a careless hand) can."""
    data = json.loads(plan.read_text())
    edit(data)
    data["digest"] = plan_digest(data)
    plan.write_text(json.dumps(data, indent=2))


def refused(project: Project, clock: FixedClock, plan: Path) -> str:
    """`apply PLAN` must refuse with one `Error:` and leave every state table as it was."""
    before = state_and_ledger(project, clock)
    result = project.cli("apply", str(plan), clock=clock)
    assert result.exit_code == 1, result.output
    text = errors(project, result.stderr)
    assert text.startswith("Error: ") and text.count("Error:") == 1, text
    assert "internal error" not in text and "Traceback" not in result.output
    assert state_and_ledger(project, clock) == before
    return text


def mark_backfill(project: Project, resolution: str = "APPLIED") -> Path:
    return resolution_file(project, "r.yaml", reason="verified by hand", ticket="OPS-7",
                           resolutions=[{"change": "backfill", "resolution": resolution,
                                         "expect": "FAILED"}])


# -- forged actions ------------------------------------------------------------


def test_a_forged_resolution_and_reason_are_refused(project, clock, snapshot) -> None:
    """The committed file says APPLIED; the plan file says ROLLED_BACK, reason 'forged'."""
    mark_backfill(project)
    plan = save(project, clock)

    def to_rolled_back(data: dict[str, Any]) -> None:
        [action] = data["actions"]
        action["entry"].update(resolution="ROLLED_BACK", reason="forged")
        action["after"] = "MANUAL_MARKED_AS_ROLLED_BACK"
    forge(plan, to_rolled_back)
    text = refused(project, clock, plan)
    assert text.splitlines()[0] == "Error: Saved plan does not match its resolution files"
    assert ("  resolution.change[\"backfill\"] (resolutions/r.yaml): entry.resolution "
            "'ROLLED_BACK' in the plan file, 'APPLIED' from resolutions/r.yaml") in text
    assert "entry.reason 'forged' in the plan file, 'verified by hand'" in text
    assert text == snapshot
    # the file as committed still applies, from the same saved plan's files
    assert project.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    store = project.open_store(clock)
    assert store.conn.execute("SELECT state FROM setright_change_state WHERE change_id = "
                              "'backfill'").fetchone() == ("MANUAL_MARKED_AS_APPLIED",)
    store.close()


def test_a_forged_ticket_alone_is_refused(project, clock) -> None:
    mark_backfill(project)
    plan = save(project, clock)
    forge(plan, lambda d: d["actions"][0]["entry"].update(ticket="OPS-1"))
    assert "entry.ticket 'OPS-1' in the plan file, 'OPS-7' from resolutions/r.yaml" in \
        refused(project, clock, plan)


def test_a_forged_outcome_cannot_write_what_the_store_says_is_satisfied(project, clock) -> None:
    resolution_file(project, "s.yaml", resolutions=[{"change": "seed", "resolution": "APPLIED"}])
    plan = save(project, clock)

    def to_change(data: dict[str, Any]) -> None:
        action = data["actions"][0]
        action.update(outcome="change", after="MANUAL_MARKED_AS_APPLIED")
        data["summary"] = {"resolve": 1, "redrive": 0, "satisfied": 0, "conflicts": 0}
    forge(plan, to_change)
    text = refused(project, clock, plan)
    assert "outcome change → satisfied: change 'seed' is already APPLIED" in text


def two_issue_project(root: Path, clock: FixedClock) -> Project:
    """Two targets, one FAILED change on each: two issues, two marks in one file."""
    p = Project(root, targets=("app", "jobs"))
    p.change("_0001__load", apply="INSERT INTO nowhere VALUES (1);")
    p.change("_0001__jobs", target="jobs", apply="INSERT INTO nowhere VALUES (1);")
    store = p.open_store(clock)
    p.run(store)
    store.close()
    resolution_file(p, "r.yaml", resolutions=[
        {"change": "load", "resolution": "ROLLED_BACK"},
        {"change": "jobs", "resolution": "ROLLED_BACK"}])
    return p


def test_dropping_an_action_is_refused(tmp_path: Path, clock, snapshot) -> None:
    project = two_issue_project(tmp_path / "two", clock)
    plan = save(project, clock)

    def drop_second(data: dict[str, Any]) -> None:
        del data["actions"][1]
        data["summary"]["resolve"] = 1
    forge(plan, drop_second)
    text = refused(project, clock, plan)
    assert text.splitlines()[1] == (
        '  plan file lists 1 action, the files give 2: missing resolution.change["jobs"] '
        "(resolutions/r.yaml)")
    assert text == snapshot


def test_an_action_the_files_do_not_have_is_refused(project, clock) -> None:
    mark_backfill(project)
    plan = save(project, clock)

    def add_seed(data: dict[str, Any]) -> None:
        extra = json.loads(json.dumps(data["actions"][0]))
        extra.update(address='resolution.change["seed"]', entry_key="resolution:seed")
        extra["entry"]["change"] = "seed"
        data["actions"].append(extra)
        data["summary"]["resolve"] = 2
    forge(plan, add_seed)
    text = refused(project, clock, plan)
    assert ('plan file lists 2 actions, the files give 1: resolution.change["seed"] '
            "(resolutions/r.yaml) is not an unapplied entry of its file") in text


def test_reordered_actions_are_refused(tmp_path: Path, clock) -> None:
    project = two_issue_project(tmp_path / "two", clock)
    plan = save(project, clock)
    forge(plan, lambda d: d["actions"].reverse())
    assert "the plan file lists its actions in another order than the files" in \
        refused(project, clock, plan)


def test_a_forged_redrive_work_list_is_refused(project, clock) -> None:
    store = project.open_store(clock)
    apply_id = failed_apply_id(store)
    store.close()
    project.query("CREATE TABLE fix_me (id INTEGER)")
    resolution_file(project, "r.yaml", redrives=[{"apply": apply_id}])
    plan = save(project, clock)
    forge(plan, lambda d: d["actions"][0]["remaining_work"][0].update(from_seq=1))
    assert "remaining_work[0].from_seq 1 in the plan file, 2 now" in refused(project, clock, plan)


# -- fields that are checked, not trusted ----------------------------------------


@pytest.mark.parametrize("field, value", [
    ("applyable", False), ("errored", True), ("format_version", "1.7"),
    ("format_version", "2.0"), ("format_version", 1),
], ids=["applyable-false", "errored-true", "format-1.7", "format-2.0", "format-int"])
def test_summary_fields_are_checked_not_trusted(project, clock, field, value, snapshot) -> None:
    mark_backfill(project)
    plan = save(project, clock)
    forge(plan, lambda d: d.update({field: value}))
    text = refused(project, clock, plan)
    assert f"$.{field}" in text
    assert text == snapshot


def test_a_plan_with_conflicts_marked_applyable_is_refused(project, clock) -> None:
    resolution_file(project, "r.yaml", resolutions=[{"change": "nope", "resolution": "APPLIED"}])
    listed = project.cli("plan", "--json", clock=clock)
    data = json.loads(listed.stdout)
    assert (data["errored"], data["actions"][0]["outcome"]) == (True, "conflict")
    plan = project.root / "plan.json"
    plan.write_text(listed.stdout)
    forge(plan, lambda d: d.update(errored=False, applyable=True))
    assert "$.errored: is false, but the plan's actions and errors make it true" in \
        refused(project, clock, plan)
    forge(plan, lambda d: d.update(errored=True, applyable=False))
    assert refused(project, clock, plan).startswith(
        "Error: this plan has conflicts or errors and cannot be applied")


# -- hostile shapes: each a normal Error naming the plan field ---------------------


def _remove_resolution(d: dict[str, Any]) -> None:
    del d["actions"][0]["entry"]["resolution"]


def _no_files(d: dict[str, Any]) -> None:
    d["resolution_files"] = []


def _unknown_action_field(d: dict[str, Any]) -> None:
    d["actions"][0]["surprise"] = 1


def _guard_is_a_list(d: dict[str, Any]) -> None:
    d["actions"][0]["guard"] = []


def _entry_is_a_number(d: dict[str, Any]) -> None:
    d["actions"][0]["entry"] = 5


def _actions_is_a_string(d: dict[str, Any]) -> None:
    d["actions"] = "everything"


def _no_address(d: dict[str, Any]) -> None:
    del d["actions"][0]["address"]


def _deep_guard(d: dict[str, Any]) -> None:
    inner: dict[str, Any] = {}
    d["actions"][0]["guard"]["data"] = inner
    for _ in range(40):
        inner["x"] = {}
        inner = inner["x"]


def _files_not_a_list(d: dict[str, Any]) -> None:
    d["resolution_files"] = {"path": "resolutions/r.yaml"}


def _serial_is_text(d: dict[str, Any]) -> None:
    d["store"]["serial"] = "many"


HOSTILE = {  # edit → the plan field the error must name
    _remove_resolution: "entry.resolution", _no_files: "$.actions[0].file",
    _unknown_action_field: "$.actions[0]", _guard_is_a_list: "$.actions[0].guard",
    _entry_is_a_number: "$.actions[0].entry", _actions_is_a_string: "$.actions",
    _no_address: "$.actions[0]", _deep_guard: "$.actions[0].guard.data.x",
    _files_not_a_list: "$.resolution_files", _serial_is_text: "$.store.serial",
}


@pytest.mark.parametrize("edit", HOSTILE, ids=lambda f: f.__name__.strip("_"))
def test_hostile_plan_shapes_are_normal_errors(project, clock, edit, snapshot) -> None:
    mark_backfill(project)
    plan = save(project, clock)
    forge(plan, edit)
    text = refused(project, clock, plan)
    assert HOSTILE[edit] in text
    shown = project.cli("show", str(plan), clock=clock)    # refuses, or renders and warns
    assert shown.exit_code in (0, 1) and "internal error" not in shown.output
    assert HOSTILE[edit] in shown.stderr
    if shown.exit_code == 1:
        assert errors(project, shown.stderr) == text
    assert text == snapshot


def test_a_100000_level_nested_plan_is_a_normal_error(project, clock) -> None:
    plan = project.root / "plan.json"
    plan.write_text("[" * 100_000 + "]" * 100_000)
    assert refused(project, clock, plan) == (
        "Error: invalid plan file: <root>/plan.json: nested deeper than 24 levels; "
        "not a plan setright wrote")
    plan.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    assert "nested deeper than 24 levels" in refused(project, clock, plan)


def test_a_number_too_long_to_read_is_a_normal_error(project, clock) -> None:
    plan = save(project, clock)
    text = plan.read_text()
    forged = re.sub(r'(": )\d+', lambda m: m[1] + "9" * 5000, text, count=1)
    assert forged != text
    plan.write_text(forged)
    assert refused(project, clock, plan) == (
        "Error: invalid plan file: <root>/plan.json: holds a number too long to read; "
        "not a plan setright wrote")
    shown = project.cli("show", str(plan), clock=clock)
    assert shown.exit_code == 1 and "internal error" not in shown.output


# -- show reports what apply would refuse, in the same words --------------------------


def test_show_warns_with_the_lines_apply_refuses_with(project, clock, snapshot) -> None:
    """An unapplied change file of a planned redrive is edited after the plan was saved."""
    store = project.open_store(clock)
    apply_id = failed_apply_id(store)
    store.close()
    project.query("CREATE TABLE fix_me (id INTEGER)")
    resolution_file(project, "r.yaml", reason="created fix_me", redrives=[{"apply": apply_id}])
    plan = save(project, clock)
    clean = project.cli("show", str(plan), clock=clock)
    assert (clean.exit_code, clean.stderr) == (0, "")
    project.change("_0003__add-index", apply="CREATE INDEX t_v ON t (v, id);")
    shown = project.cli("show", str(plan), clock=clock)
    assert shown.exit_code == 0
    warning = errors(project, shown.stderr.replace("Warning: Saved plan", "Warned: Saved plan"))
    assert warning.splitlines()[0] == (
        "Warned: Saved plan is stale; 'setright apply <root>/plan.json' would refuse it:")
    text = refused(project, clock, plan)
    assert text.splitlines()[0] == "Error: Saved plan is stale"
    assert text.splitlines()[1:-1] == warning.splitlines()[1:]
    assert text.splitlines()[-1] == "  nothing was written; make a new plan"
    assert "the fresh plan of its target changed" in text
    assert warning == snapshot


def test_show_names_a_forged_plan(project, clock) -> None:
    mark_backfill(project)
    plan = save(project, clock)
    forge(plan, lambda d: d["actions"][0]["entry"].update(reason="forged"))
    shown = project.cli("show", str(plan), clock=clock)
    assert shown.exit_code == 0
    assert shown.stderr.splitlines()[0].startswith(
        "Warning: Saved plan does not match its resolution files; 'setright apply ")
    assert "entry.reason 'forged' in the plan file, 'verified by hand'" in shown.stderr


def test_a_saved_plan_with_no_actions_still_checks_its_files(project, clock) -> None:
    """Drop every action: nothing to lock, but the files still give one — refused."""
    mark_backfill(project)
    plan = save(project, clock)

    def empty(data: dict[str, Any]) -> None:
        data.update(actions=[], applyable=False,
                    summary={"resolve": 0, "redrive": 0, "satisfied": 0, "conflicts": 0})
    forge(plan, empty)
    assert "plan file lists 0 actions, the files give 1: missing resolution.change" in \
        refused(project, clock, plan)


def test_a_forged_file_reason_in_the_plan_is_refused(project, clock) -> None:
    """The plan shows each file's reason and ticket to its reviewers: they must be the file's."""
    mark_backfill(project)
    plan = save(project, clock)
    forge(plan, lambda d: d["resolution_files"][0].update(reason="forged", ticket=None))
    text = refused(project, clock, plan)
    assert text.splitlines()[:3] == [
        "Error: Saved plan does not match its resolution files",
        "  resolution_files[0].reason 'forged' in the plan file, 'verified by hand' from "
        "resolutions/r.yaml",
        "  resolution_files[0].ticket None in the plan file, 'OPS-7' from resolutions/r.yaml"]


def test_a_forged_plan_id_is_refused(project, clock) -> None:
    """Found by `make stress` (fuzz_plan): `plan_id: "failed"` with the digest recomputed
    was applied and recorded as the plan id of every event and ledger row it wrote."""
    mark_backfill(project)
    plan = save(project, clock)
    forge(plan, lambda d: d.update(plan_id="failed"))
    text = refused(project, clock, plan)
    assert "plan_id" in text, text


# -- which files a plan may name: only the resolutions folder's ---------------------------


def _outside(project: Project, tmp_path: Path, name: str = "b.yaml") -> Path:
    """A valid resolution file in another repository (a sibling of the project)."""
    other = tmp_path / "other-repo" / "resolutions"
    other.mkdir(parents=True)
    (other / name).write_text(mark_backfill(project).read_text())
    (project.root / "resolutions" / "r.yaml").unlink()
    return other / name


def _in_project(project: Project, where: str) -> Path:
    """A valid resolution file at `where` in the project, and none in the folder."""
    path = project.root / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mark_backfill(project).read_text())
    (project.root / "resolutions" / "r.yaml").unlink()
    return path


NOT_IN_FOLDER = {  # what `plan PATH` is given → the file it names
    "another-repository": lambda p, tmp: _outside(p, tmp),
    "the-project-root": lambda p, tmp: _in_project(p, "r.yaml"),
    "a-subfolder": lambda p, tmp: _in_project(p, "resolutions/old/r.yaml"),
    "another-case": lambda p, tmp: _in_project(p, "Resolutions/r.yaml"),
    "dot-dot-out": lambda p, tmp: Path(str(_outside(p, tmp)).replace(
        str(tmp), f"{p.root}/resolutions/../..")),
    "not-yaml": lambda p, tmp: _in_project(p, "resolutions/r.txt"),
    "hidden": lambda p, tmp: _in_project(p, "resolutions/.r.yaml"),
    "a-subfolder-itself": lambda p, tmp: _in_project(p, "resolutions/old/r.yaml").parent,
    "a-missing-file-elsewhere": lambda p, tmp: tmp / "nowhere" / "r.yaml",
}


@pytest.mark.parametrize("where", NOT_IN_FOLDER)
def test_plan_refuses_a_path_that_is_not_in_the_resolutions_folder(
        project, clock, tmp_path: Path, where: str, snapshot) -> None:
    """Found by review: `plan resolutions/a.yaml /tmp/other-repo/b.yaml -o plan.json`
    saved both, and `apply` recorded another repository's file by its absolute path."""
    path = NOT_IN_FOLDER[where](project, tmp_path)
    if where == "another-case" and (project.root / "resolutions").samefile(path.parent):
        pytest.skip("a case-insensitive file system: Resolutions/ is resolutions/")
    before = state_and_ledger(project, clock)
    result = project.cli("plan", str(path), "-o", str(project.root / "plan.json"), clock=clock)
    assert result.exit_code == 1, result.output
    text = errors(project, result.stderr.replace(str(tmp_path), "<tmp>"))
    assert text.count("\n") == 0 and text.startswith("Error: ") and "resolutions/" in text
    assert str(path).replace(str(tmp_path), "<tmp>").replace(str(project.root), "<root>") \
        in text
    assert not (project.root / "plan.json").exists()
    assert state_and_ledger(project, clock) == before
    if where == "another-repository":
        assert text == snapshot


def test_plan_refuses_the_outside_file_among_good_ones(project, clock, tmp_path: Path) -> None:
    outside = _outside(project, tmp_path)
    mark_backfill(project)
    result = project.cli("plan", str(project.root / "resolutions" / "r.yaml"), str(outside),
                         "-o", str(project.root / "plan.json"), clock=clock)
    assert result.exit_code == 1 and not (project.root / "plan.json").exists()
    assert f"Error: {outside}: " in result.stderr


@pytest.mark.parametrize("spelling", [
    "resolutions/r.yaml", "./resolutions/r.yaml", "{root}/resolutions/r.yaml",
    "{link}/resolutions/r.yaml", "resolutions/../resolutions/r.yaml", "resolutions",
    "{root}/resolutions/", "resolutions/.", "{link}/resolutions",
])
def test_plan_takes_any_spelling_of_the_folder_and_its_files(
        project, clock, tmp_path: Path, monkeypatch, spelling: str) -> None:
    """However a file of the folder is typed, it is planned, and applied, by one name."""
    mark_backfill(project)
    (tmp_path / "link").symlink_to(project.root)
    monkeypatch.chdir(project.root)
    path = spelling.format(root=project.root, link=tmp_path / "link")
    plan = save(project, clock, path)
    assert [f["path"] for f in json.loads(plan.read_text())["resolution_files"]] == \
        ["resolutions/r.yaml"]
    assert project.cli("apply", str(plan), clock=clock).exit_code == 0
    ledger = state_and_ledger(project, clock)["ledger"]
    assert [row[0] for row in ledger] == ["resolutions/r.yaml"]


def _forge_name(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["resolution_files"][0]["path"] = name
        data["actions"][0]["file"] = name
    return edit


@pytest.mark.parametrize("where", ["absolute", "dot-dot", "other-folder", "dot", "doubled-slash"])
def test_a_saved_plan_naming_a_file_outside_the_folder_is_refused(
        project, clock, tmp_path: Path, where: str, snapshot) -> None:
    """A plan file is only JSON: one naming a file elsewhere (made by an older setright, or
    by hand) is refused by `apply` and `show`, never read and recorded under that name."""
    mark_backfill(project)
    plan = save(project, clock)
    outside = _outside(project, tmp_path)
    inside = _in_project(project, "other/r.yaml")
    mark_backfill(project)
    name = {"absolute": str(outside), "dot-dot": "../other-repo/resolutions/b.yaml",
            "other-folder": "other/r.yaml", "dot": "resolutions/./r.yaml",
            "doubled-slash": "resolutions//r.yaml"}[where]
    assert inside.exists()
    forge(plan, _forge_name(name))
    text = refused(project, clock, plan).replace(str(tmp_path), "<tmp>")
    assert text.count("\n") == 0 and "resolution_files[0].path" in text, text
    shown = project.cli("show", str(plan), clock=clock)
    assert shown.exit_code == 1 and "internal error" not in shown.output
    assert errors(project, shown.stderr).replace(str(tmp_path), "<tmp>") == text
    assert text == snapshot


def test_a_lone_surrogate_in_a_saved_plan_is_a_normal_error(project, clock, snapshot) -> None:
    """Found by review: `"checked by \\ud800hand"` in a plan (valid JSON, digest recomputed
    or not) was `internal error: UnicodeEncodeError` from `show` and `apply`."""
    mark_backfill(project)
    plan = save(project, clock)
    text = plan.read_text()
    assert text.count('"verified by hand"') == 2
    plan.write_text(text.replace('"verified by hand"', '"verified by \\ud800hand"', 1))
    refusal = refused(project, clock, plan)
    assert refusal.count("\n") == 0 and "lone surrogate (\\ud800)" in refusal
    assert "$.resolution_files[0].reason" in refusal
    shown = project.cli("show", str(plan), clock=clock)
    assert shown.exit_code == 1 and "internal error" not in shown.output
    assert errors(project, shown.stderr) == refusal
    assert refusal == snapshot
    plan.write_text(text.replace('"ticket": "OPS-7"', '"ticket\\udfff": "OPS-7"', 1))
    assert "$.resolution_files[0].ticket\\udfff: holds a lone surrogate (\\udfff)" in \
        refused(project, clock, plan)
    plan.write_text(text.replace('"verified by hand"', '"verified by \\ud83d\\ude00"', 1))
    assert "surrogate" not in refused(project, clock, plan)   # a pair is one character
