"""The store face of the backend seam (issue 13): URLs parsed once in the config, the
implementation found from a bare connection, SQL that differs asked of the impl, and a
server store refused clearly while only SQLite keeps the audit store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from setright.cli import cli
from setright.config import TargetConfig, load_config
from setright.db import DbUrl, impl_for, impl_of, mask_password
from setright.db.url import no_store, sqlite_url
from setright.errors import InvalidInput, StoreError
from setright.store import Store
from setright.store.audit import append_audit_row
from setright.store.audit_listing import list_history
from setright.store.schema import MIGRATIONS

SERVERS = """\
version: 1
store: {url: "postgresql://app:s3cret@db.internal:6543/audit?sslmode=require"}
targets:
  orders: {url: "mysql://deploy@mysql.internal/orders"}
  users: {url: "sqlite:///data/users.db"}
"""


def write(root: Path, text: str) -> Path:
    path = root / "setright.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_server_urls_pass_validation_and_reach_their_impl(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    config = load_config(write(tmp_path, SERVERS))
    assert (config.store.dialect, config.store.host, config.store.port) == (
        "postgresql", "db.internal", 6543)
    assert config.store_path is None and config.store.params() == {"sslmode": "require"}
    assert impl_for(config.store).name == "postgresql"
    orders, users = config.targets["orders"], config.targets["users"]
    assert (orders.db_url.dialect, orders.path, impl_for(orders.db_url).name) == (
        "mysql", None, "mysql")
    assert users.db_url.path == users.path == tmp_path / "data" / "users.db"
    assert impl_for(users.db_url).name == "sqlite"


def test_a_url_that_does_not_parse_is_refused_at_its_line(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    monkeypatch.delenv("SETRIGHT_TEST_UNSET_PW", raising=False)
    text = SERVERS.replace("s3cret", "${SETRIGHT_TEST_UNSET_PW}").replace(
        "mysql.internal/orders", "mysql.internal")
    with pytest.raises(InvalidInput) as caught:
        load_config(write(tmp_path, text))
    problems = [str(p) for p in caught.value.problems]
    assert problems[0].startswith(f"{tmp_path / 'setright.yaml'}:2:") and \
        "uses ${SETRIGHT_TEST_UNSET_PW}, which is not set" in problems[0]
    assert ":4:" in problems[1] and "names no database" in problems[1]


def test_an_unreachable_server_store_is_one_error_naming_it_never_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Server stores are supported; one that cannot be reached is one clear line."""
    monkeypatch.delenv("SETRIGHT_STORE", raising=False)
    config = load_config(write(tmp_path, SERVERS))
    for opener, verb in ((Store.open, "open"), (Store.open_reader, "read")):
        with pytest.raises(StoreError) as caught:
            opener(config.store)
        assert caught.value.message.startswith(f"cannot {verb} the audit store ")
        assert "db.internal:6543/audit" in caught.value.message
        assert "s3cret" not in caught.value.message + " ".join(caught.value.details)
    for command in (["status"], ["issue", "list"], ["run"]):
        result = CliRunner().invoke(cli, ["--config", str(tmp_path / "setright.yaml"), *command])
        assert result.exit_code == 1, result.output
        first = result.output.splitlines()[0]
        assert first.startswith("Error: cannot ") and "db.internal:6543/audit" in first, first
        assert "s3cret" not in result.output and "Traceback" not in result.output


def test_one_masking_function_for_every_url() -> None:
    assert mask_password("postgresql://app:s3cret@h/db") == "postgresql://app:***@h/db"
    assert mask_password("mysql://root@h/db") == "mysql://root@h/db"
    # a SQLite URL has no user: whatever userinfo was written into one is dropped whole
    assert mask_password("sqlite://ops:hunter2@/x.db") == "sqlite:///x.db"
    assert mask_password("sqlite:///.setright/audit.db") == "sqlite:///.setright/audit.db"
    shown = no_store(DbUrl("postgresql", "postgresql://app:s3cret@h/db", host="h")).message
    assert shown == "no audit store at postgresql://app:***@h/db"


def test_impl_of_a_bare_connection_is_sqlite(tmp_path: Path) -> None:
    """Store functions take a connection a test (or `MIGRATIONS`) opened itself."""
    conn = sqlite3.connect(tmp_path / "raw.db", isolation_level=None)
    assert impl_of(conn).name == "sqlite"
    conn.execute("BEGIN")
    MIGRATIONS[0](conn, "setright_audit_log")
    conn.execute("COMMIT")
    assert impl_of(conn).table_exists(conn, "setright_meta")
    conn.close()
    with pytest.raises(TypeError, match="no database implementation"):
        impl_of(object())  # type: ignore[arg-type]


def test_store_and_config_built_in_code_keep_their_paths(tmp_path: Path) -> None:
    target = TargetConfig("app", "sqlite:///app.db", tmp_path / "app.db", None)
    assert target.db_url == sqlite_url(tmp_path / "app.db", "sqlite:///app.db")
    store = Store.open(tmp_path / "s.db")
    assert (store.path, store.url.path, store.impl.name) == (tmp_path / "s.db",) * 2 + (
        "sqlite",)
    with store.write() as tx:
        row = {"change_id": "c1", "state": "APPLIED", "author": "a"}
        first = append_audit_row(tx, store.audit_table, row, now_ms=1_000)
        second = append_audit_row(tx, store.audit_table, row, now_ms=1_000)
    assert (first, second) == (1, 2)  # ids through impl.insert_returning_id
    assert [r["created_at"] for r in list_history(store.conn, store.audit_table,
                                                  since_ms=1_001)] == ["1970-01-01T00:00:01.001Z"]
    store.close()
