"""Text from the store reaches the terminal escaped: a Flamingock runner's change id or error
trace cannot clear the screen, retitle the window or reorder a line; JSON keeps the data."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import chdir
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from setright.cli import cli
from setright.cli.printable import PrintableStream, printable, unfiltered
from setright.render.style import Style
from setright.render.terminal import CLEAR_LINE, SEAL, coloured
from setright.timeutil import FixedClock
from storehelp import T0, make_flamingock_db

EVIL_ID = "evil\x1b[2J\u202e"
EVIL_TRACE = "boom\x1b]0;pwned\x07\nline two\rOVER\x9b"


@pytest.mark.parametrize("text,shown", [
    ("plain\ttext\nlines ✓", "plain\ttext\nlines ✓"),
    ("\x1b[2J", "\\u001b[2J"), ("a\rb", "a\\u000db"), ("\x00\x7f\x9b", "\\u0000\\u007f\\u009b"),
    ("\u202eevil\u2066", "\\u202eevil\\u2066"),
    # a colour or a line clearing that is not setright's own (sealed) is a value's
    ("\x1b[33mwarn\x1b[0m", "\\u001b[33mwarn\\u001b[0m"), ("\x1b[8m", "\\u001b[8m"),
    ("\r\x1b[K", "\\u000d\\u001b[K"), ("\x1b" + "0" * 16 + "[31m", "\\u001b" + "0" * 16 + "[31m"),
])
def test_what_a_terminal_acts_on_is_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_only_setright_s_own_sealed_codes_reach_the_terminal() -> None:
    assert printable(Style(color=True).paint("OK", "green")) == "\x1b[32mOK\x1b[0m"
    assert printable(CLEAR_LINE + "live") == "\r\x1b[Klive"
    # a value inside setright's colour stays escaped; the seal is not in what it prints
    shown = printable(coloured("id \x1b[8mhidden", "red"))
    assert shown == "\x1b[31mid \\u001b[8mhidden\x1b[0m" and SEAL not in shown


def test_an_escape_is_json_so_json_keeps_its_meaning() -> None:
    data = {"id": "a\x7fb\u202ec\x9b"}
    assert json.loads(printable(json.dumps(data, ensure_ascii=False))) == data


def test_the_stream_has_no_way_around_it() -> None:
    raw = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stream = PrintableStream(raw)
    stream.write("x\x1b[2J\n")
    assert stream.buffer.write("y\x07\n".encode() + b"\xff") == 4   # bytes, as completion writes
    assert raw.buffer.getvalue() == b"x\\u001b[2J\ny\\u0007\n\xff"
    assert unfiltered(stream) is raw and stream.encoding == "utf-8"
    assert not hasattr(PrintableStream(io.StringIO()), "buffer")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Flamingock table with a FAILED change whose id, author and error trace are hostile."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "setright.yaml").write_text(yaml.safe_dump({
        "version": 1, "store": {"url": "sqlite:///flamingock.db", "audit_table": "flamingockAuditLog"},
        "targets": {}, "policy": {"require_committed": False}}))
    db = make_flamingock_db(root / "flamingock.db")
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO flamingockAuditLog (execution_id, stage_id, change_id, author,"
                 " created_at, state, tx_strategy, target_system_id, recovery_strategy,"
                 " error_trace, metadata) VALUES ('exec-2', 'stage', ?, ?, ?, 'FAILED', 'NON_TX',"
                 " 'user-db', 'MANUAL_INTERVENTION', ?, '{}')",
                 (EVIL_ID, "mallory\x1b[8m", T0 - 1000, EVIL_TRACE))
    conn.commit()
    conn.close()
    return root


def invoke(root: Path, *args: str) -> tuple[int, str, str]:
    with chdir(root):
        result = CliRunner().invoke(cli, list(args), obj={"clock": FixedClock(T0)},
                                    env={"SETRIGHT_ACTOR": "tester@example.com"})
    return result.exit_code, result.stdout, result.stderr


UNSAFE = ("\x1b", "\r", "\x07", "\x9b", "\u202e")


@pytest.mark.parametrize("args", [("issue", "list"), ("issue", "get", "-c", EVIL_ID),
                                  ("audit", "list"), ("audit", "list", "--history"),
                                  ("status",), ("audit", "fix", "-c", EVIL_ID, "-r", "APPLIED")])
def test_store_text_is_escaped_on_the_way_out(project: Path, args: tuple[str, ...]) -> None:
    _code, out, err = invoke(project, *args)
    assert not any(c in out + err for c in UNSAFE), out + err
    if args[:2] in (("issue", "list"), ("issue", "get")):
        assert "evil\\u001b[2J\\u202e" in out


def test_issue_get_quotes_the_text_it_escaped(project: Path, snapshot) -> None:
    code, out, err = invoke(project, "issue", "get", "-c", EVIL_ID)
    assert (code, err) == (0, "")
    assert out == snapshot


def _texts(data: object) -> list[str]:
    if isinstance(data, dict):
        return [t for v in data.values() for t in _texts(v)]
    if isinstance(data, list):
        return [t for v in data for t in _texts(v)]
    return [data] if isinstance(data, str) else []


@pytest.mark.parametrize("args", [("issue", "list", "--json"), ("audit", "list", "--json"),
                                  ("issue", "get", "-c", EVIL_ID, "--json")])
def test_json_keeps_the_store_text_exactly(project: Path, args: tuple[str, ...]) -> None:
    _code, out, _ = invoke(project, *args)
    assert not any(c in out for c in UNSAFE), out   # escaped as JSON escapes, every one
    texts = _texts(json.loads(out))
    assert EVIL_ID in texts
    assert any(t.startswith("boom\x1b]0;pwned\x07") for t in texts)


def test_such_an_id_can_still_be_resolved_by_a_file(project: Path) -> None:
    """The id must match the store's: a resolution file may name it, in YAML's escapes."""
    _code, out, _ = invoke(project, "issue", "get", "-c", EVIL_ID)
    (project / "resolutions").mkdir()
    code, written, err = invoke(project, "issue", "get", "-c", EVIL_ID, "--write")
    assert code == 0, written + err
    [path] = (project / "resolutions").iterdir()
    path.write_text(path.read_text().replace('reason: ""', 'reason: "checked by hand"'))
    code, out, err = invoke(project, "apply", "--auto-approve", "--allow-dirty")
    assert code == 0, out + err
    assert not any(c in out + err for c in UNSAFE)
    code, out, _ = invoke(project, "audit", "list", "--json")
    states = {r["change_id"]: r["state"] for r in json.loads(out)["changes"]}
    assert states[EVIL_ID] == "MANUAL_MARKED_AS_APPLIED"


@pytest.mark.parametrize("odd_id", ["fix-\nusers", "  padded ", "drop-\u202eelbat", "a\u2028b"])
def test_any_id_a_store_holds_can_be_resolved_and_is_written_escaped(project: Path,
                                                                     odd_id: str) -> None:
    conn = sqlite3.connect(project / "flamingock.db")
    conn.execute("INSERT INTO flamingockAuditLog (execution_id, stage_id, change_id, author,"
                 " created_at, state, tx_strategy, target_system_id, recovery_strategy,"
                 " error_trace, metadata) VALUES ('exec-3', 'stage', ?, 'flamingock', ?,"
                 " 'FAILED', 'NON_TX', 'user-db', 'MANUAL_INTERVENTION', 'boom', '{}')",
                 (odd_id, T0 - 500))
    conn.commit()
    conn.close()
    (project / "resolutions").mkdir()
    code, out, err = invoke(project, "issue", "get", "-c", odd_id, "--write")
    assert code == 0, out + err
    [path] = (project / "resolutions").iterdir()
    text = path.read_text()
    assert all(c.isprintable() or c == "\n" for c in text)   # escaped, never the raw id
    path.write_text(text.replace('reason: ""', 'reason: "checked by hand"'))
    code, out, err = invoke(project, "validate")
    assert code == 0, out + err
    code, out, err = invoke(project, "apply", "--auto-approve", "--allow-dirty")
    assert code == 0, out + err
    code, out, _ = invoke(project, "audit", "list", "--json")
    states = {r["change_id"]: r["state"] for r in json.loads(out)["changes"]}
    assert states[odd_id].startswith("MANUAL_MARKED_AS_")


def test_a_line_break_in_a_store_id_never_starts_a_line_of_its_own(project: Path) -> None:
    conn = sqlite3.connect(project / "flamingock.db")
    conn.execute("INSERT INTO flamingockAuditLog (execution_id, stage_id, change_id, author,"
                 " created_at, state, tx_strategy, target_system_id, recovery_strategy,"
                 " error_trace, metadata) VALUES ('exec-3', 'stage', 'fix-\nusers', 'f', ?,"
                 " 'FAILED', 'NON_TX', 'user-db', 'MANUAL_INTERVENTION', 'boom', '{}')",
                 (T0 - 500,))
    conn.commit()
    conn.close()
    for args in (("issue", "list"), ("audit", "list"), ("issue", "get", "-c", "fix-\nusers")):
        _code, out, _ = invoke(project, *args)
        lines = out.splitlines()
        assert not any(line.startswith("users") for line in lines), out
        assert any("fix-\\nusers" in line for line in lines), out


def test_a_table_stays_aligned_around_escaped_text(project: Path) -> None:
    """Widths are the shown ones: before, a cell's escapes (`\\u001b` is six columns for one
    character) pushed its row past the borders."""
    code, out, _ = invoke(project, "issue", "list")
    assert code == 0
    table = [line for line in out.splitlines() if line[:1] in "┌│├└+|"]
    assert len(table) >= 4 and "evil\\u001b[2J\\u202e" in out
    assert len({len(line) for line in table}) == 1, "\n".join(table)
