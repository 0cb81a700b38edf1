"""Files are read whole but bounded: a device, a pipe or a huge file is one Error, not an OOM kill."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from hostilehelp import base_project, fresh, invoke, state
from setright.resolutions.ci import pull_request_from_env
from setright.textfile import MAX_FILE_BYTES, FileTooLarge, read_bytes, read_text

TOO_LARGE = "larger than 128 MiB, the most setright reads from one file"


def sparse(path: Path, size: int = MAX_FILE_BYTES + 1) -> Path:
    """A file that says it holds `size` bytes without using the disk for them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(size)
    return path


@pytest.mark.parametrize("size", [0, 1, 9, 10])
def test_a_regular_file_up_to_the_limit_is_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    assert read_bytes(path, limit=10) == b"x" * size


def test_one_byte_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    with pytest.raises(FileTooLarge) as refused:
        read_bytes(path, limit=10)
    assert refused.value.strerror == "larger than 0 MiB, the most setright reads from one file"


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge) as refused:
        read_bytes(sparse(tmp_path / "huge"))
    assert refused.value.strerror == TOO_LARGE


@pytest.mark.parametrize("written", [0, 5, 3 * 2**20 + 7])
def test_a_pipe_is_read_to_its_end(tmp_path: Path, written: int) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"y" * written))
    writer.start()
    try:
        assert read_bytes(fifo, limit=4 * 2**20) == b"y" * written
    finally:
        writer.join()


def test_an_endless_device_stops_at_the_limit() -> None:
    with pytest.raises(FileTooLarge):
        read_bytes("/dev/zero", limit=3 * 2**20 + 1)


def test_text_is_utf8_with_line_ends_translated(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes("a\r\nb\rc\nd é".encode())
    assert read_text(path) == "a\nb\nc\nd é"
    path.write_bytes(b"\xff")
    with pytest.raises(UnicodeDecodeError):
        read_text(path)


def test_an_endless_event_payload_names_no_pull_request() -> None:
    assert pull_request_from_env({"GITHUB_EVENT_PATH": "/dev/zero"}) is None


# -- through the CLI ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("textfile") / "base"
    base_project(root)
    return root


@pytest.mark.parametrize("args", [("show", "/dev/zero"), ("apply", "/dev/zero"),
                                  ("show", "huge.json"), ("apply", "huge.json")])
def test_a_plan_file_that_never_ends_is_one_error(template: Path, tmp_path: Path,
                                                  args: tuple[str, ...]) -> None:
    project = fresh(template, tmp_path / "p")
    huge = str(sparse(project.root / "huge.json"))
    command, named = args[0], args[1].replace("huge.json", huge)
    before = state(project)
    outcome = invoke(project, command, named)
    assert (outcome.exit_code, outcome.stdout) == (1, "")
    assert outcome.stderr == f"Error: cannot read plan file {named}: {TOO_LARGE}\n"
    assert state(project) == before


@pytest.mark.parametrize("where", ["resolutions/2026-12-01-huge.yaml", "changes/app/_0005__huge.yaml"])
def test_a_huge_yaml_file_is_named_and_refused(template: Path, tmp_path: Path, where: str) -> None:
    project = fresh(template, tmp_path / "p")
    sparse(project.root / where)
    before = state(project)
    command = ("validate",) if where.startswith("resolutions") else ("run",)
    outcome = invoke(project, *command)
    assert outcome.exit_code == 1, outcome.output
    assert f"{where}: {TOO_LARGE}" in outcome.output
    assert "Traceback" not in outcome.output
    assert state(project) == before


def test_a_huge_config_is_one_error(template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    sparse(project.root / "setright.yaml")
    outcome = invoke(project, "status")
    assert (outcome.exit_code, outcome.stdout) == (1, "")
    assert outcome.stderr.startswith("Error: ") and f"setright.yaml: {TOO_LARGE}" in outcome.stderr


def test_a_device_is_not_a_config_or_resolution_file(template: Path, tmp_path: Path) -> None:
    project = fresh(template, tmp_path / "p")
    config = invoke(project, "--config", "/dev/zero", "status")
    assert config.stderr == "Error: config file /dev/zero is not a regular file\n"
    named = invoke(project, "validate", "/dev/zero")
    assert named.exit_code == 1
    assert "/dev/zero: not a regular file or folder" in named.output
