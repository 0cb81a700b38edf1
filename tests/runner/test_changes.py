"""Change files: the Flamingock YAML format, validation errors, ordering, ids, checksums."""

from __future__ import annotations

from pathlib import Path

import pytest

from setright.config import Config, TargetConfig
from setright.errors import ConfigError, InvalidInput
from setright.runner.changes import (
    change_checksum,
    change_files,
    load_all,
    load_change_file,
    load_changes,
)
from setright.runner.model import Change
from setright.runner.sql import statement_hash

TARGET = "user-db"

BASE = """\
id: user-data-sync-v2
author: platform-team
transactional: false
recovery: {strategy: MANUAL_INTERVENTION}
apply: |
  UPDATE users SET profile_v = 2 WHERE id <= 1000;
  UPDATE users SET profile_v = 2 WHERE id > 1000;
rollback: "UPDATE users SET profile_v = 1"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, *, target: str = TARGET, name: str = "c.yaml") -> Change:
    return load_change_file(write(tmp_path / "changes", name, text), target, root=tmp_path)


def error_text(exc: InvalidInput) -> str:
    return "\n".join([str(exc), *exc.details])


def config_for(tmp_path: Path, changes: dict[str, str | None]) -> Config:
    targets = {
        name: TargetConfig(name=name, url=f"sqlite:///{name}.db", path=tmp_path / f"{name}.db",
                           changes=tmp_path / folder if folder else None)
        for name, folder in changes.items()
    }
    return Config(root=tmp_path, path=tmp_path / "setright.yaml", store_url="sqlite:///s.db",
                  store_path=tmp_path / "s.db", targets=targets)


# -- the format --------------------------------------------------------------


def test_apply_form(tmp_path: Path) -> None:
    change = load_text(tmp_path, BASE, name="_0001__sync.yaml")
    assert (change.id, change.target, change.author) == ("user-data-sync-v2", TARGET, "platform-team")
    assert (change.transactional, change.recovery) == (False, "MANUAL_INTERVENTION")
    assert [(op.seq, op.statement) for op in change.operations] == [
        (1, "UPDATE users SET profile_v = 2 WHERE id <= 1000;"),
        (2, "UPDATE users SET profile_v = 2 WHERE id > 1000;"),
    ]
    assert [op.hash for op in change.operations] == [
        statement_hash(op.statement) for op in change.operations
    ]
    assert all(op.rollback is None for op in change.operations)
    assert change.rollback == "UPDATE users SET profile_v = 1"
    assert change.rollback_hash == statement_hash("UPDATE users SET profile_v = 1")
    assert change.has_rollback
    assert change.source_file == (tmp_path / "changes" / "_0001__sync.yaml").resolve()
    assert change.order == "_0001__sync.yaml"


def test_defaults(tmp_path: Path) -> None:
    change = load_text(tmp_path, "id: minimal\napply: CREATE TABLE t(x)\n")
    assert (change.target, change.author, change.transactional) == (TARGET, None, True)
    assert change.recovery == "MANUAL_INTERVENTION"
    assert (change.rollback, change.rollback_hash, change.has_rollback) == (None, None, False)
    assert [op.statement for op in change.operations] == ["CREATE TABLE t(x)"]
    explicit = load_text(
        tmp_path,
        f"id: minimal\ntargetSystem: {{id: {TARGET}}}\ntransactional: true\n"
        "recovery: {strategy: MANUAL_INTERVENTION}\ntemplate: sql-template\n"
        "apply: CREATE TABLE t(x)\n",
    )
    assert explicit.checksum == change.checksum


@pytest.mark.parametrize(
    "recovery", ["{strategy: ALWAYS_RETRY}", "ALWAYS_RETRY", "\n  strategy: ALWAYS_RETRY"]
)
def test_recovery_forms(tmp_path: Path, recovery: str) -> None:
    change = load_text(tmp_path, f"id: r\nrecovery: {recovery}\napply: SELECT 1\n")
    assert change.recovery == "ALWAYS_RETRY"
    assert change.checksum == load_text(
        tmp_path, "id: r\nrecovery: {strategy: ALWAYS_RETRY}\napply: SELECT 1\n"
    ).checksum


@pytest.mark.parametrize("target_system", [f"{{id: {TARGET}}}", TARGET, f'"{TARGET}"'])
def test_target_system_forms(tmp_path: Path, target_system: str) -> None:
    change = load_text(tmp_path, f"id: t\ntargetSystem: {target_system}\napply: SELECT 1\n")
    assert change.target == TARGET
    assert change.checksum == load_text(tmp_path, "id: t\napply: SELECT 1\n").checksum


def test_steps_form(tmp_path: Path) -> None:
    change = load_text(
        tmp_path,
        "id: steps\nsteps:\n"
        "  - apply: |\n      CREATE TABLE a(x);\n    rollback: DROP TABLE a\n"
        "  - apply: INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);\n",
    )
    assert [(op.seq, op.statement, op.rollback) for op in change.operations] == [
        (1, "CREATE TABLE a(x);", "DROP TABLE a"),
        (2, "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);", None),
    ]
    assert change.operations[0].rollback_hash == statement_hash("DROP TABLE a")
    assert change.operations[1].rollback_hash is None
    assert (change.rollback, change.rollback_hash) == (None, None)
    assert change.has_rollback


def test_trigger_in_a_change_file_is_one_operation(tmp_path: Path) -> None:
    change = load_text(
        tmp_path,
        "id: trig\napply: |\n  CREATE TABLE a(x);\n"
        "  CREATE TRIGGER t AFTER INSERT ON a BEGIN\n    UPDATE a SET x = ';';\n  END;\n",
    )
    assert [op.statement for op in change.operations] == [
        "CREATE TABLE a(x);",
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = ';';\nEND;",
    ]


def test_loaded_change_is_stable(tmp_path: Path, snapshot) -> None:
    """Pins hashes and checksum: an algorithm change would turn every applied change into drift."""
    change = load_text(tmp_path, BASE)
    assert {
        "checksum": change.checksum,
        "operations": [(op.seq, op.hash) for op in change.operations],
        "rollback_hash": change.rollback_hash,
    } == snapshot


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    from setright.schemas import load_schema

    Draft202012Validator.check_schema(load_schema("change"))


# -- ordering and folders --------------------------------------------------


def test_files_run_in_file_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "changes"
    for name, change_id in [("010_c.yaml", "c"), ("002_b.yml", "b"), ("01_z.yaml", "z"),
                            ("001_a.yaml", "a")]:
        write(folder, name, f"id: {change_id}\napply: SELECT 1\n")
    write(folder, "README.md", "not a change")
    write(folder, ".#001_a.yaml", "an editor lock file: {")
    (folder / "sub.yaml").mkdir()
    changes = load_changes(folder, TARGET, root=tmp_path)
    assert [c.id for c in changes] == ["a", "b", "c", "z"]  # names, not numbers, decide
    assert [c.order for c in changes] == ["001_a.yaml", "002_b.yml", "010_c.yaml", "01_z.yaml"]
    assert [p.name for p in change_files(folder, TARGET)] == [c.order for c in changes]


@pytest.mark.parametrize("linked", [False, True])
def test_a_named_pipe_among_change_files_is_refused_by_name(tmp_path: Path,
                                                            linked: bool) -> None:
    """Before: a named pipe was skipped silently, and a link to one hung `run` for ever."""
    import os

    folder = tmp_path / "changes"
    write(folder, "001_a.yaml", "id: a\napply: SELECT 1\n")
    if linked:
        os.mkfifo(tmp_path / "pipe")
        (folder / "002_p.yaml").symlink_to(Path("..") / "pipe")
    else:
        os.mkfifo(folder / "002_p.yaml")
    with pytest.raises(InvalidInput) as err:
        load_changes(folder, TARGET, root=tmp_path)
    [problem] = err.value.problems
    assert (problem.source, problem.message) == (
        "changes/002_p.yaml", "not a regular file (a named pipe, socket or device)")


def test_an_empty_folder_has_no_changes(tmp_path: Path) -> None:
    (tmp_path / "changes").mkdir()
    assert load_changes(tmp_path / "changes", TARGET) == []


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_changes(tmp_path / "changes" / "user-db", TARGET, root=tmp_path)
    assert err.value.message == (
        "the changes folder changes/user-db of target 'user-db' does not exist"
    )


def test_a_changes_folder_linked_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "1.yaml", "id: planted\napply: CREATE TABLE planted (x)\n")
    root = tmp_path / "p"
    (root / "changes").mkdir(parents=True)
    (root / "changes" / "user-db").symlink_to(outside, target_is_directory=True)
    for folder in (root / "changes" / "user-db", root / "changes" / "user-db" / "."):
        with pytest.raises(ConfigError) as err:
            load_changes(folder, TARGET, root=root)
        assert err.value.message.startswith("the changes folder changes/user-db")
        assert err.value.message.endswith(" of target 'user-db' is a symbolic link to a "
                                          "folder outside the project; refused")
    # a link that stays inside the project, or a folder named outside it, is the operator's
    (root / "real").mkdir()
    write(root / "real", "1.yaml", "id: inside\napply: SELECT 1\n")
    (root / "changes" / "inside").symlink_to(root / "real", target_is_directory=True)
    assert [c.id for c in load_changes(root / "changes" / "inside", TARGET, root=root)] == [
        "inside"]
    assert [c.id for c in load_changes(outside, TARGET, root=root)] == ["planted"]


def test_load_all_over_the_config_targets(tmp_path: Path) -> None:
    write(tmp_path / "changes" / "a", "1.yaml", "id: one\napply: SELECT 1\n")
    write(tmp_path / "changes" / "b", "1.yaml", "id: two\ntargetSystem: b\napply: SELECT 2\n")
    loaded = load_all(config_for(tmp_path, {"a": "changes/a", "b": "changes/b", "none": None}))
    assert {name: [(c.id, c.target) for c in changes] for name, changes in loaded.items()} == {
        "a": [("one", "a")], "b": [("two", "b")], "none": [],
    }


# -- errors ------------------------------------------------------------------


def test_duplicate_id_across_two_files(tmp_path: Path, snapshot) -> None:
    folder = tmp_path / "changes"
    write(folder, "001_first.yaml", "id: same\napply: SELECT 1\n")
    write(folder, "002_second.yaml", "author: me\nid:   same\napply: SELECT 2\n")
    with pytest.raises(InvalidInput) as err:
        load_changes(folder, TARGET, root=tmp_path)
    assert error_text(err.value) == snapshot


def test_duplicate_id_across_targets(tmp_path: Path, snapshot) -> None:
    write(tmp_path / "changes" / "a", "1.yaml", "id: shared\napply: SELECT 1\n")
    write(tmp_path / "changes" / "b", "1.yaml", "id: shared\ntargetSystem: b\napply: SELECT 1\n")
    config = config_for(tmp_path, {"a": "changes/a", "b": "changes/b"})
    with pytest.raises(InvalidInput) as err:
        load_all(config)
    assert error_text(err.value) == snapshot


def test_every_mistake_of_a_file_is_reported(tmp_path: Path, snapshot) -> None:
    text = """\
id: 42
auther: someone
targetSystem: {name: user-db}
transactional: sometimes
recovery: LATER
apply: |
  -- nothing but a comment;
rollback: 7
"""
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, text, name="_0003__broken.yaml")
    assert len(err.value.problems) == 8
    assert error_text(err.value) == snapshot


def test_steps_mistakes(tmp_path: Path, snapshot) -> None:
    text = """\
id: mixed
apply: |
  UPDATE users SET a = 1;
  UPDATE users SET b = 2;
steps:
  - rollback: DROP TABLE a
  - apply: "/* only a comment */"
    note: extra
"""
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, text)
    message = error_text(err.value)
    assert "UPDATE users" not in message  # the SQL is never quoted back at the user
    assert message == snapshot


@pytest.mark.parametrize(
    "text",
    [
        "",
        "- id: a\n",
        "id: a\n",
        "id: a\nsteps: []\n",
        "id: ''\napply: SELECT 1\n",
        "id: ' padded '\napply: SELECT 1\n",
        "id: a\napply: '   '\n",
    ],
    ids=["empty", "a-list", "no-apply-nor-steps", "empty-steps", "empty-id", "padded-id", "blank-apply"],
)
def test_invalid_shapes(tmp_path: Path, text: str, snapshot) -> None:
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, text)
    assert error_text(err.value) == snapshot


def test_malformed_yaml(tmp_path: Path, snapshot) -> None:
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, "id: a\napply: [SELECT 1\nrollback: x\n")
    assert error_text(err.value) == snapshot


def test_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, "id: a\napply: SELECT 1\nrunAlways: true\n")
    (problem,) = err.value.problems
    assert (problem.source, problem.line, problem.column) == ("changes/c.yaml", 3, 1)
    assert problem.message.startswith("unknown key 'runAlways'")


def test_keys_that_are_not_text(tmp_path: Path) -> None:
    """Mixed key types once made the schema check crash with a TypeError, and a null key
    the path: each is named as the data has it, at its own line and column."""
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, "id: a\napply: SELECT 1\n1: one\nfoo: two\nrecovery: {2: x}\n"
                            "~: three\n1.5: four\n")
    assert [(p.line, p.column, p.path) for p in err.value.problems] == [
        (3, 1, "$[1]"), (4, 1, "$.foo"), (5, 11, "$.recovery"), (5, 12, "$.recovery[2]"),
        (6, 1, "$[null]"), (7, 1, "$[1.5]"),
    ]
    assert [p.message.split(" (")[0] for p in err.value.problems if p.line in (6, 7)] == [
        "unknown key null", "unknown key 1.5"]


@pytest.mark.parametrize("target_system", ["orders-db", "{id: orders-db}"])
def test_change_for_another_target(tmp_path: Path, target_system: str, snapshot) -> None:
    with pytest.raises(InvalidInput) as err:
        load_text(tmp_path, f"id: a\ntargetSystem: {target_system}\napply: SELECT 1\n")
    assert error_text(err.value) == snapshot


def test_problems_of_every_file_are_collected(tmp_path: Path, snapshot) -> None:
    folder = tmp_path / "changes"
    write(folder, "1.yaml", "id: ok\napply: SELECT 1\n")
    write(folder, "2.yaml", "id: [\n")
    write(folder, "3.yaml", "id: ok\napply: SELECT 2\nextra: 1\n")
    write(folder, "4.yaml", "id: ok\napply: SELECT 3\n")
    with pytest.raises(InvalidInput) as err:
        load_changes(folder, TARGET, root=tmp_path)
    assert error_text(err.value) == snapshot


def test_names_outside_the_root_are_shown_as_given(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere", "x.yaml", "id: a\n")
    with pytest.raises(InvalidInput) as err:
        load_change_file(path, TARGET, root=tmp_path / "project")
    assert err.value.problems[0].source == str(path)


# -- checksums ---------------------------------------------------------------


CHECKSUM_BASE = """\
id: c
transactional: true
recovery: MANUAL_INTERVENTION
apply: |
  CREATE TABLE a(x);
  INSERT INTO a VALUES (1);
rollback: DROP TABLE a
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("id: c", "id: d"),
        ("transactional: true", "transactional: false"),
        ("recovery: MANUAL_INTERVENTION", "recovery: ALWAYS_RETRY"),
        ("INSERT INTO a VALUES (1);", "INSERT INTO a VALUES (2);"),
        ("INSERT INTO a VALUES (1);", "INSERT INTO a VALUES (1); INSERT INTO a VALUES (1);"),
        ("  INSERT INTO a VALUES (1);\n", ""),
        ("rollback: DROP TABLE a", "rollback: DROP TABLE IF EXISTS a"),
        ("rollback: DROP TABLE a\n", ""),
    ],
    ids=["id", "transactional", "recovery", "operation", "added-operation", "removed-operation",
         "rollback", "no-rollback"],
)
def test_checksum_covers(tmp_path: Path, old: str, new: str) -> None:
    assert old in CHECKSUM_BASE
    base = load_text(tmp_path, CHECKSUM_BASE)
    changed = load_text(tmp_path, CHECKSUM_BASE.replace(old, new))
    assert changed.checksum != base.checksum


def test_checksum_covers_the_target(tmp_path: Path) -> None:
    assert load_text(tmp_path, CHECKSUM_BASE, target="a").checksum != load_text(
        tmp_path, CHECKSUM_BASE, target="b"
    ).checksum


def test_checksum_covers_step_rollbacks(tmp_path: Path) -> None:
    steps = "id: s\nsteps:\n  - apply: SELECT 1\n    rollback: SELECT 2\n  - apply: SELECT 3\n"
    base = load_text(tmp_path, steps)
    moved = load_text(tmp_path, steps.replace("    rollback: SELECT 2\n", "") + "    rollback: SELECT 2\n")
    edited = load_text(tmp_path, steps.replace("SELECT 2", "SELECT 4"))
    assert len({base.checksum, moved.checksum, edited.checksum}) == 3


def test_checksum_tells_a_change_rollback_from_a_step_rollback() -> None:
    change_level = change_checksum(id="x", target="t", transactional=True, recovery="ALWAYS_RETRY",
                                   operations=(), rollback_hash="h1:r")
    assert change_level != change_checksum(id="x", target="t", transactional=True,
                                           recovery="ALWAYS_RETRY", operations=(), rollback_hash=None)


@pytest.mark.parametrize(
    "variant",
    [
        "# a comment\n" + CHECKSUM_BASE.replace("id: c\n", "id: c   # the id\n"),
        "recovery: {strategy: MANUAL_INTERVENTION}\n" + CHECKSUM_BASE.replace(
            "recovery: MANUAL_INTERVENTION\n", ""),
        CHECKSUM_BASE.replace("id: c", 'id: "c"').replace("rollback: DROP TABLE a",
                                                          "rollback: 'DROP TABLE a  '"),
        CHECKSUM_BASE.replace("\n", "\r\n"),
        CHECKSUM_BASE.replace("VALUES (1);\n", "VALUES (1);   \n\n\n"),
        CHECKSUM_BASE.replace("apply: |\n  CREATE TABLE a(x);\n  INSERT INTO a VALUES (1);\n",
                              "apply: \"CREATE TABLE a(x);\\nINSERT INTO a VALUES (1);\"\n"),
        "author: someone else\ntemplate: SqlTemplate\n" + CHECKSUM_BASE,
    ],
    ids=["comments", "key-order-and-mapping-form", "quoting", "crlf", "trailing-blanks",
         "scalar-style", "author-and-template"],
)
def test_checksum_ignores_formatting(tmp_path: Path, variant: str) -> None:
    assert load_text(tmp_path, variant).checksum == load_text(tmp_path, CHECKSUM_BASE).checksum



def test_a_missing_folder_is_named_where_the_config_writes_it(tmp_path: Path) -> None:
    """Found by the stress harness (fuzz_config): the error named the key but not file:line."""
    import shutil

    from runhelp import Project

    project = Project(tmp_path / "p")
    shutil.rmtree(project.root / "changes" / "app")
    line = next(n for n, text in enumerate(project.config_path.read_text().splitlines(), 1)
                if "changes/app" in text)
    for command in (("status",), ("run",)):
        result = project.cli(*command)
        assert result.exit_code == 1, result.output
        first = result.output.splitlines()[0]
        assert first.startswith("Error: ") and f"setright.yaml:{line}:" in first, first
        assert "targets.app.changes: the changes folder changes/app of target 'app' does " \
               "not exist" in first
        assert "Traceback" not in result.output
