"""A failed `init` is one `Error:` line naming the path in the way and leaves nothing
behind, so it runs again once the cause is gone (a half-made layout made it refuse:
"setright.yaml already exists")."""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_file_where_the_state_folder_goes_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    """`mkdir i2; touch i2/.setright; setright init i2`: before, `internal error:
    FileExistsError`, with setright.yaml, resolutions/ and changes/ left behind."""
    root = tmp_path.resolve() / "i2"
    root.mkdir()
    (root / ".setright").touch()
    failed = CliRunner().invoke(cli, ["init", str(root)])
    assert failed.exit_code == 1
    assert failed.stderr == (f"Error: cannot create the folder {root / '.setright'}:"
                             " a file is in the way\n")
    assert "Created" not in failed.output
    assert listing(root) == [".setright"]
    (root / ".setright").unlink()
    again = CliRunner().invoke(cli, ["init", str(root)])
    assert again.exit_code == 0, again.output
    assert (root / ".setright" / "audit.db").exists()


@pytest.mark.parametrize("refused", [".gitignore", "setright.yaml"])
def test_a_file_the_system_refuses_is_named_and_nothing_is_left(
        tmp_path: Path, monkeypatch, refused: str) -> None:
    """A folder that cannot be written (an immutable one, say): before, `internal error:
    PermissionError`. `.gitignore` of `.setright/` is written last in the layout, so
    everything before it must be undone; the config is the first file written."""
    root = tmp_path.resolve() / "new" / "project"
    write_text = pathlib.Path.write_text

    def refusing(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == refused:
            raise PermissionError(1, "Operation not permitted", str(self))
        return write_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pathlib.Path, "write_text", refusing)
    failed = CliRunner().invoke(cli, ["init", str(root)])
    assert failed.exit_code == 1
    where = root / ".setright" / ".gitignore" if refused == ".gitignore" else root / refused
    assert failed.stderr == f"Error: cannot create {where}: Operation not permitted\n"
    assert listing(tmp_path) == []   # even the folders init made are gone
    monkeypatch.undo()
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0


def test_a_failure_after_the_store_was_made_removes_the_store_too(tmp_path: Path,
                                                                  monkeypatch) -> None:
    tmp_path = tmp_path.resolve()
    (tmp_path / "notes.txt").write_text("mine")

    def refused(root: Path) -> None:
        raise PermissionError(13, "Permission denied", str(root / ".gitignore"))

    monkeypatch.setattr("setright.project.ignore_target_files", refused)
    failed = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert failed.exit_code == 1
    assert failed.stderr == f"Error: cannot create {tmp_path / '.gitignore'}: Permission denied\n"
    assert listing(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("link", ["setright.yaml", ".gitignore", ".setright/.gitignore",
                                  ".setright/audit.db"])
@pytest.mark.parametrize("dangling", [True, False])
def test_init_writes_no_file_through_a_symbolic_link(tmp_path: Path, link: str,
                                                     dangling: bool) -> None:
    """A link committed to a repository may point anywhere: `init` in that checkout must
    not create or edit the file it points to (git no longer follows a linked .gitignore).
    A link to an existing audit store is used (a store on another disk), and one to an
    existing `.setright/.gitignore` is left as it is (init writes that file only when
    it is missing)."""
    tmp_path = tmp_path.resolve()
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / ".setright").mkdir(parents=True)
    outside.mkdir()
    pointed = outside / "victim"
    if not dangling:
        pointed.write_text("" if link == ".setright/audit.db" else "mine\n")
    (root / link).symlink_to(pointed)
    before = listing(tmp_path)
    result = CliRunner().invoke(cli, ["init", str(root)])
    if link in (".setright/audit.db", ".setright/.gitignore") and not dangling:
        assert result.exit_code == 0, result.output
        if link == ".setright/audit.db":
            assert pointed.stat().st_size > 0   # the store's tables, in the linked file
        else:
            assert pointed.read_text() == "mine\n"
        return
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"Error: cannot write {root / link}: it is a symbolic link, "
                             "and init writes no file through a link\n")
    assert listing(tmp_path) == before
    assert pointed.exists() is not dangling
    if not dangling:
        assert pointed.read_text() == "mine\n"
