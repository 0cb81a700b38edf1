"""`setright plan` options as Terraform users type them, and summaries that say what is true."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planhelp import backfill_project, plan, resolution_file
from runhelp import Project, normalise
from setright.timeutil import FixedClock



@pytest.fixture
def project(tmp_path: Path, clock: FixedClock) -> Project:
    p = backfill_project(tmp_path / "proj", clock)
    resolution_file(p, "r.yaml", resolutions=[{"change": "backfill", "resolution": "APPLIED"}])
    return p


def files_in(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_file()}


# -- -o, -out, --format, --json ---------------------------------------------------------


@pytest.mark.parametrize("args", [["-out", "{}"], ["-out={}"], ["-o", "{}"], ["--out={}"],
                                  ["--out", "{}"]],
                         ids=["-out FILE", "-out=FILE", "-o FILE", "--out=FILE", "--out FILE"])
def test_terraform_out_spellings_save_to_the_named_file(project, clock, args) -> None:
    before = files_in(project.root)
    target = str(project.root / "plan.tfplan")
    result = project.cli("plan", *(a.format(target) for a in args), clock=clock)
    assert result.exit_code == 0, result.output
    assert files_in(project.root) - before == {"plan.tfplan"}     # never a file named `ut`
    saved = json.loads((project.root / "plan.tfplan").read_text())
    assert saved["summary"]["resolve"] == 1
    assert project.cli("apply", str(project.root / "plan.tfplan"), clock=clock).exit_code == 0


def test_an_unwritable_out_path_is_one_error_line(project, clock) -> None:
    (project.root / "a-file").write_text("")
    out = project.root / "a-file" / "plan.json"         # its folder is a file
    result = project.cli("plan", "-o", str(out), clock=clock)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-2:] == [
        f"Error: cannot write the plan file {out}: File exists",
        "  nothing was saved; choose another path with -o"]


def test_saving_follows_no_planted_link_and_leaves_no_temporary_file(project, clock) -> None:
    victim = project.root / "victim.txt"
    victim.write_text("keep me")
    (project.root / "plan.json.tmp").symlink_to(victim)  # where a fixed temporary name was
    before = files_in(project.root)
    assert project.cli("plan", "-o", str(project.root / "plan.json"), clock=clock).exit_code == 0
    assert victim.read_text() == "keep me"
    assert files_in(project.root) - before == {"plan.json"}
    first = (project.root / "plan.json").read_text()
    assert project.cli("plan", "-o", str(project.root / "plan.json"), clock=clock).exit_code == 0
    assert files_in(project.root) - before == {"plan.json"}  # replaced, nothing beside it
    assert json.loads(first)["actions"] == json.loads(
        (project.root / "plan.json").read_text())["actions"]


@pytest.mark.parametrize("what", ["config", "resolution file", "fifo", "link"])
def test_out_never_replaces_what_is_not_a_saved_plan(project, clock, what: str) -> None:
    """Before: renamed over whatever was there (setright.yaml, an applied resolution file,
    a device node, a FIFO, a link)."""
    import os

    path = {"config": project.config_path, "resolution file": project.root / "resolutions"
            / "r.yaml"}.get(what, project.root / "plan.json")
    if what == "fifo":
        os.mkfifo(path)
    elif what == "link":
        (project.root / "elsewhere.json").write_text("{}")
        path.symlink_to(project.root / "elsewhere.json")
    before = path.read_bytes() if path.is_file() and what != "link" else None
    result = project.cli("plan", "-o", str(path), clock=clock)
    assert result.exit_code == 1
    reason = {"fifo": "it is not a regular file", "link": "it is a symbolic link"}.get(what, "it is not a plan setright saved")
    assert result.stderr.splitlines()[-2:] == [
        f"Error: not saving the plan over {path}: {reason}",
        "  -o replaces an existing file only when it is a plan setright saved; nothing was"
        " saved, choose another path"]
    if before is not None:
        assert path.read_bytes() == before
    assert {"fifo": path.is_fifo(), "link": path.is_symlink()}.get(what, True)


def test_two_out_options_that_disagree_are_refused(project, clock) -> None:
    result = project.cli("plan", "-o", str(project.root / "a.json"), "-out",
                         str(project.root / "b.json"), clock=clock)
    assert result.exit_code != 0
    assert "disagree; pass one of them" in result.output
    assert not (project.root / "a.json").exists() and not (project.root / "b.json").exists()


@pytest.mark.parametrize("args", [["--format", "json"], ["--json"]])
def test_format_decides_stdout_whatever_out_says(project, clock, args) -> None:
    out = project.root / "plan.json"
    result = project.cli("plan", "-o", str(out), *args, clock=clock)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)           # JSON on stdout, the note on stderr
    saved = json.loads(out.read_text())
    assert printed["actions"] == saved["actions"]
    assert f"Saved the plan to {out}" in result.stderr


def test_plan_json_is_format_json(project, clock) -> None:
    as_json = json.loads(project.cli("plan", "--json", clock=clock).stdout)
    as_format = json.loads(project.cli("plan", "--format", "json", clock=clock).stdout)
    for data in (as_json, as_format):
        data.pop("plan_id")
    assert as_json == as_format


def test_json_and_another_format_disagree(project, clock) -> None:
    result = project.cli("plan", "--json", "--format", "markdown", clock=clock)
    assert result.exit_code == 1
    assert "--json and --format markdown disagree" in result.output


def test_show_json(project, clock) -> None:
    out = project.root / "plan.json"
    assert project.cli("plan", "-o", str(out), clock=clock).exit_code == 0
    shown = project.cli("show", str(out), "--json", clock=clock)
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["actions"] == json.loads(out.read_text())["actions"]


def test_plan_help_names_every_spelling(project, clock, snapshot) -> None:
    result = project.cli("plan", "--help", clock=clock)
    assert result.exit_code == 0
    assert result.output == snapshot


# -- summaries that say what is true ----------------------------------------------------


def test_one_unreadable_file_is_what_the_summary_says(project, clock, snapshot) -> None:
    (project.root / "resolutions" / "r.yaml").unlink()
    (project.root / "resolutions" / "x.yaml").write_text("version: 1\nreason: [unclosed\n")
    code, out, _ = plan(project, clock)
    assert code == 1
    assert "No changes" not in out
    assert "  1 file could not be read: resolutions/x.yaml" in out.splitlines()
    assert out == snapshot


def test_an_unreadable_file_beside_an_applied_one(project, clock, snapshot) -> None:
    assert project.cli("apply", "--auto-approve", clock=clock).exit_code == 0
    (project.root / "resolutions" / "x.yaml").write_text("version: 1\nresolutions: []\n")
    resolution_file(project, "y.yaml", reason="")
    code, out, _ = plan(project, clock)
    assert code == 1
    assert "already in the ledger" not in out
    assert "  2 files could not be read: resolutions/x.yaml, resolutions/y.yaml" in \
        out.splitlines()
    assert out == snapshot
    md = project.cli("plan", "--format", "markdown", clock=clock)
    assert normalise(md.stdout) == snapshot


def test_a_plan_of_only_conflicts_names_them_and_the_way_out(project, clock, snapshot) -> None:
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "nope", "resolution": "APPLIED"}])
    code, out, _ = plan(project, clock)
    assert code == 1
    assert out.splitlines()[-3:] == [
        "This plan cannot be applied:",
        '  1 conflict: resolution.change["nope"] (resolutions/r.yaml:4)',
        "To go on: edit or remove the conflicting entry (or the file) in resolutions/r.yaml; "
        "then run 'setright plan' again."]
    assert out == snapshot


def test_counts_are_singular_and_plural(project, clock) -> None:
    code, out, _ = plan(project, clock, "--format", "markdown")
    assert code == 0
    assert "<details><summary>Details of 1 action</summary>" in out
    assert out.rstrip().splitlines()[-1] == (
        "Plan: 1 to resolve, 0 to redrive, 0 satisfied, 0 conflicts.")
    resolution_file(project, "r.yaml", resolutions=[
        {"change": "nope", "resolution": "APPLIED"}, {"change": "nada", "resolution": "APPLIED"}])
    code, out, _ = plan(project, clock, "--format", "markdown")
    assert "Details of 2 actions" in out and "2 conflicts" in out.splitlines()[0]
