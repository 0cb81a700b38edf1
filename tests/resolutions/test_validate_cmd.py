"""`setright validate`: every problem located, duplicates, the ledger's history, exit codes."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from setright.cli import cli
from setright.resolutions.files import load_resolution_file
from setright.store import Store
from setright.timeutil import FixedClock

#: 2026-11-22T12:00:00.000Z (not imported from conftest: several test folders have one)
T0 = 1_795_348_800_000
CONFIG = "version: 1\nstore: {}\ntargets: {}\n"

SYNC = """\
version: 1
reason: Verified all 48,211 profiles carry v2 fields in user-db.
ticket: OPS-1234
resolutions:
  - change: user-data-sync-v2
    resolution: APPLIED
    expect: STARTED
"""

CACHE = """\
version: 1
reason: The cache is rebuilt on start; rolled back by hand.
resolutions:
  - change: cache-warming-q4
    resolution: ROLLED_BACK
    expect: [FAILED, ROLLBACK_FAILED]
redrives:
  - apply: ap-01JD3Q7ZP4
    note: disk replaced
"""

# The same change as SYNC, resolved again in another file.
SYNC_AGAIN = """\
version: 1
reason: It failed again after the re-run; the second batch is verified too.
resolutions:
  - change: user-data-sync-v2
    resolution: APPLIED
redrives:
  - apply: ap-01JD3Q7ZP4
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    (tmp_path / "setright.yaml").write_text(CONFIG)
    (tmp_path / "resolutions").mkdir()
    return tmp_path


def write(root: Path, name: str, text: str) -> Path:
    path = root / "resolutions" / name
    path.write_text(text, encoding="utf-8")
    return path


def create_store(root: Path) -> Path:
    store = Store.open(root / ".setright" / "audit.db", clock=FixedClock(T0))
    store.close()
    return root / ".setright" / "audit.db"


def applied(root: Path, name: str, digest: str, keys: list[str],
            at: str = "2026-11-20T09:30:00.000Z") -> None:
    """Ledger rows as `setright apply` would have written them (inserted directly)."""
    conn = sqlite3.connect(root / ".setright" / "audit.db")
    with conn:
        conn.executemany(
            "INSERT INTO setright_ledger (resolution_file, entry_key, file_digest, outcome,"
            " plan_id, commit_sha, actor, applied_at) VALUES (?, ?, ?, 'change', 'pl-1',"
            " 'c0ffee', 'jane@example.com', ?)",
            [(f"resolutions/{name}", key, digest, at) for key in keys])
    conn.close()


def apply_file(root: Path, name: str) -> None:
    """Record every entry of resolutions/NAME in the ledger with its current digest."""
    loaded = load_resolution_file(root / "resolutions" / name, root)
    applied(root, name, loaded.digest, [e.key for e in loaded.entries])


def validate(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, ["validate", *args], obj={"clock": FixedClock(T0)})


def test_valid_files_pass_and_no_store_is_created(runner: CliRunner, project: Path,
                                                  snapshot) -> None:
    write(project, "2026-11-22-sync.yaml", SYNC)
    write(project, "2026-11-22-cache.yml", CACHE)
    write(project, ".gitkeep", "")
    result = validate(runner)
    assert result.exit_code == 0
    assert result.stdout == snapshot
    assert result.stdout.splitlines()[-1] == "2 files, 3 entries: OK"
    assert not (project / ".setright").exists()


def test_a_file_with_several_mistakes_lists_every_one(runner: CliRunner, project: Path,
                                                      snapshot) -> None:
    write(project, "good.yaml", SYNC)
    write(project, "bad.yaml", """\
version: 1
reason: ""
ticket: OPS-77
reviewer: bob
resolutions:
  - change: user-data-sync-v2
    resolution: APPLY
    expect: [STARTED, RUNNING]
  - change: "  padded  "
    resolution: ROLLED_BACK
    target: user db
  - {change: cache-warming-q4}
  - change: user-data-sync-v2
    resolution: ROLLED_BACK
redrives:
  - apply: 01JD3Q7ZP4
    force: "yes"
""")
    result = validate(runner)
    assert result.exit_code == 1
    assert result.stdout == snapshot
    problems = [line for line in result.stdout.splitlines() if line.startswith("resolutions/")]
    assert len(problems) == 9   # a padded id is an id (a store may hold one): not an error
    assert all(re.match(r"resolutions/bad\.yaml:\d+:\d+: \$\.[a-z]", line) for line in problems)
    assert result.stdout.splitlines()[-1] == "2 files, 1 entry: 9 errors, 0 warnings"


@pytest.mark.parametrize("reason", ['""  # required: what you verified, and how', "", "'  '"])
def test_an_empty_reason_is_rejected(runner: CliRunner, project: Path, reason: str,
                                     snapshot) -> None:
    # `setright issue get --write` creates files with an empty reason on purpose.
    write(project, "2026-11-22-sync.yaml", f"version: 1\nreason: {reason}\nresolutions:\n"
          "  - change: user-data-sync-v2\n    resolution: APPLIED\n    expect: STARTED\n")
    result = validate(runner)
    assert result.exit_code == 1
    assert result.stdout == snapshot


def test_a_repeated_change_without_a_store_is_a_warning(runner: CliRunner, project: Path,
                                                        snapshot) -> None:
    write(project, "a.yaml", SYNC)
    write(project, "b.yaml", CACHE)
    write(project, "c.yaml", SYNC_AGAIN)
    result = validate(runner)
    assert result.exit_code == 0
    assert result.stdout == snapshot
    assert result.stdout.count("warning:") == 2


def test_a_repeated_unapplied_change_with_the_ledger_is_an_error(runner: CliRunner,
                                                                 project: Path, snapshot) -> None:
    create_store(project)
    write(project, "a.yaml", SYNC)
    write(project, "b.yaml", CACHE)
    write(project, "c.yaml", SYNC_AGAIN)
    result = validate(runner)
    assert result.exit_code == 1
    assert result.stdout == snapshot
    assert "Note:" not in result.stdout  # the ledger was read


def test_resolving_again_after_the_first_was_applied_is_fine(runner: CliRunner,
                                                              project: Path) -> None:
    create_store(project)
    write(project, "a.yaml", SYNC)
    write(project, "b.yaml", CACHE)
    apply_file(project, "a.yaml")
    apply_file(project, "b.yaml")
    write(project, "c.yaml", SYNC_AGAIN)  # a later failure: resolved again in a new file
    result = validate(runner)
    assert (result.exit_code, result.stdout) == (0, "3 files, 5 entries: OK\n")


def test_an_applied_file_edited_afterwards_is_an_error(runner: CliRunner, project: Path,
                                                       snapshot) -> None:
    create_store(project)
    write(project, "a.yaml", SYNC)
    apply_file(project, "a.yaml")
    write(project, "a.yaml", "# reviewed in PR #12\n" + SYNC.replace("ticket: OPS-1234",
                                                                     "ticket: 'OPS-1234'  # x"))
    assert validate(runner).exit_code == 0  # comments and quoting do not count
    write(project, "a.yaml", SYNC.replace("expect: STARTED", "expect: FAILED"))
    result = validate(runner)
    assert result.exit_code == 1
    assert result.stdout == snapshot
    assert "resolution file changed after it was applied" in result.stdout


def test_a_renamed_applied_file_keeps_its_entries_applied(runner: CliRunner, project: Path,
                                                          snapshot) -> None:
    create_store(project)
    write(project, "old-name.yaml", SYNC)
    apply_file(project, "old-name.yaml")
    (project / "resolutions" / "old-name.yaml").rename(project / "resolutions" / "sync.yaml")
    write(project, "z-again.yaml", SYNC_AGAIN)  # not a duplicate: the renamed entry is applied
    result = validate(runner)
    assert result.exit_code == 0
    assert result.stdout == snapshot
    assert "renamed from resolutions/old-name.yaml" in result.stdout
    assert "was deleted" not in result.stdout


def test_a_copied_applied_file_is_a_warning(runner: CliRunner, project: Path, snapshot) -> None:
    create_store(project)
    write(project, "a.yaml", SYNC)
    apply_file(project, "a.yaml")
    write(project, "b.yaml", SYNC)
    result = validate(runner)
    assert result.exit_code == 0
    assert result.stdout == snapshot


def test_a_deleted_applied_file_is_a_warning(runner: CliRunner, project: Path,
                                             snapshot) -> None:
    create_store(project)
    write(project, "a.yaml", SYNC)
    write(project, "b.yaml", CACHE)
    apply_file(project, "a.yaml")
    apply_file(project, "b.yaml")
    (project / "resolutions" / "b.yaml").unlink()
    result = validate(runner)
    assert result.exit_code == 0
    assert result.stdout == snapshot
    assert "warning: applied resolution file was deleted (2 entries" in result.stdout


def test_a_name_from_the_ledger_is_shown_escaped(runner: CliRunner, project: Path) -> None:
    """A ledger row an older setright wrote may name a file with a line break in it; the
    warning about it cannot forge a line of the report."""
    import sqlite3

    create_store(project)
    write(project, "a.yaml", SYNC)
    apply_file(project, "a.yaml")
    (project / "resolutions" / "a.yaml").unlink()
    conn = sqlite3.connect(project / ".setright" / "audit.db")
    conn.execute("UPDATE setright_ledger SET resolution_file = ?",
                 ("resolutions/a\nError: forged.yaml",))
    conn.commit()
    conn.close()
    result = validate(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(
        "resolutions/a\\nError: forged.yaml: warning: applied resolution file was deleted")
    assert not any(line.startswith("Error") for line in result.stdout.splitlines())


def test_ids_with_quotes_unicode_and_control_characters(runner: CliRunner, project: Path,
                                                        snapshot) -> None:
    odd = ["it's \\\"quoted\\\" ✓", "ünïcødé:ĉhânge", "\\e[31mred"]
    body = "".join(f'  - change: "{i}"\n    resolution: APPLIED\n' for i in odd)
    write(project, "a.yaml", "version: 1\nreason: r\nresolutions:\n" + body)
    write(project, "b.yaml", "version: 1\nreason: r\nresolutions:\n" + body)
    result = validate(runner)
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout  # never echo a terminal escape from a file
    assert result.stdout == snapshot
    create_store(project)
    result = validate(runner)
    assert result.exit_code == 1 and result.stdout.count("also has an unapplied entry") == 3


def test_require_ticket(runner: CliRunner, project: Path, snapshot) -> None:
    (project / "setright.yaml").write_text(CONFIG + "policy: {require_ticket: true}\n")
    write(project, "with-ticket.yaml", SYNC)
    write(project, "no-ticket.yaml", CACHE)
    result = validate(runner)
    assert result.exit_code == 1
    assert result.stdout == snapshot
    # A file applied before the policy was switched on is history, not a violation.
    create_store(project)
    apply_file(project, "no-ticket.yaml")
    assert validate(runner).exit_code == 0


def test_as_a_pre_commit_hook(runner: CliRunner, project: Path, snapshot) -> None:
    create_store(project)
    write(project, "a.yaml", SYNC)               # committed earlier, not applied yet
    write(project, "broken.yaml", "version: 1\n")  # not staged: not reported
    applied(project, "gone.yaml", "sha256:" + "0" * 64, ["resolution:x"])  # not reported
    write(project, "new.yaml", SYNC_AGAIN)        # staged: a duplicate of a.yaml's change
    (project / "README.md").write_text("docs\n")
    result = validate(runner, "resolutions/new.yaml", "README.md", "setright.py")
    assert result.exit_code == 1
    assert result.stdout == snapshot
    assert result.stdout.splitlines()[-1] == "1 file, 2 entries: 1 error, 0 warnings"
    # a first occurrence is flagged too when it is the only file named
    result = validate(runner, "resolutions/a.yaml")
    assert result.exit_code == 1 and "resolutions/a.yaml:5:5: $.resolutions[0]:" in result.stdout
    # only non-YAML files named: nothing to check
    result = validate(runner, "README.md")
    assert (result.exit_code, result.stdout) == (0, "0 files, 0 entries: OK\n")


def test_naming_the_folder_is_the_same_as_naming_nothing(runner: CliRunner,
                                                         project: Path) -> None:
    create_store(project)
    applied(project, "gone.yaml", "sha256:" + "0" * 64, ["resolution:x"])
    write(project, "a.yaml", SYNC)
    assert validate(runner, "resolutions").stdout == validate(runner).stdout
    assert "gone.yaml: warning:" in validate(runner).stdout


def test_a_missing_named_file_is_an_error(runner: CliRunner, project: Path) -> None:
    result = validate(runner, "resolutions/typo.yaml")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "resolutions/typo.yaml: no such file or folder"


def test_an_unreadable_store_skips_the_ledger_in_one_line(runner: CliRunner, project: Path,
                                                         snapshot) -> None:
    (project / ".setright").mkdir()
    (project / ".setright" / "audit.db").write_bytes(b"not a database" * 200)
    write(project, "a.yaml", SYNC)
    result = validate(runner)
    assert result.exit_code == 0
    assert result.stdout == snapshot


def test_no_resolutions_folder(runner: CliRunner, project: Path) -> None:
    (project / "resolutions").rmdir()
    result = validate(runner)
    assert (result.exit_code, result.stdout.splitlines()[-1]) == (0, "0 files, 0 entries: OK")


def test_from_a_subfolder_paths_stay_relative_to_the_config(runner: CliRunner, project: Path,
                                                            monkeypatch) -> None:
    write(project, "bad.yaml", "version: 1\nreason: ''\nredrives: [{apply: ap-1}]\n")
    monkeypatch.chdir(project / "resolutions")
    result = validate(runner, "bad.yaml")
    assert result.exit_code == 1
    assert result.stdout.startswith("resolutions/bad.yaml:2:9: $.reason:")


def test_validate_reads_the_ledger_without_writing_or_waiting(runner: CliRunner,
                                                               project: Path) -> None:
    """A pre-commit hook during a running `setright apply`: the ledger is read, never locked."""
    path = create_store(project)
    write(project, "a.yaml", SYNC)
    write(project, "c.yaml", SYNC_AGAIN)
    store = Store.open(path, clock=FixedClock(T0))
    before = store.serial
    with store.write() as tx:  # another process holds the write lock, its rows uncommitted
        tx.execute("INSERT INTO setright_ledger (resolution_file, entry_key, file_digest)"
                   " VALUES ('resolutions/a.yaml', 'resolution:user-data-sync-v2', 'x')")
        result = validate(runner)
    assert result.exit_code == 1  # the uncommitted row is not seen: still a duplicate
    assert "also has an unapplied entry" in result.stdout
    assert store.serial == before + 1  # only the other writer's transaction moved it
    store.close()


@pytest.mark.parametrize("command", [("validate",), ("plan",)])
def test_a_missing_resolutions_folder_is_said_not_passed_silently(
        tmp_path: Path, command: tuple[str, ...]) -> None:
    """Before: a mistyped `resolutions:` read as "0 files, 0 entries: OK"."""
    from runhelp import Project

    p = Project(tmp_path / "p")
    p.change("_0001__a", apply="CREATE TABLE a (id INTEGER)")
    assert p.cli("run").exit_code == 0
    p.config_path.write_text(p.config_path.read_text() + "resolutions: resolutionz\n")
    result = p.cli(*command)
    assert result.exit_code == 0, result.output
    assert ("Warning: the resolutions folder resolutionz does not exist (resolutions: in"
            " setright.yaml); no file was read\n") in result.stderr
