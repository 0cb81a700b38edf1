"""MysqlImpl against a real MySQL/MariaDB server: connecting, isolation, catalog, DDL, time."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from serverhelp_mysql import mysql_admin, mysql_url, with_database  # noqa: F401 - fixtures
from setright.db import DatabaseUnavailable, impl_for, parse_url
from setright.db.mysql import MysqlConnection, MysqlImpl, driver, flamingock_audit_ddl
from setright.db.zonecase import local_to_utc_ms
from setright.errors import SetrightError

ROOT = Path(".")


@pytest.fixture
def impl() -> MysqlImpl:
    return MysqlImpl()


@pytest.fixture
def conn(mysql_url: str, impl: MysqlImpl) -> Iterator[MysqlConnection]:
    c = impl.connect(parse_url(mysql_url, ROOT))
    yield c
    c.close()


def _open(url: str, **kw: bool) -> MysqlConnection:
    return MysqlImpl().connect(parse_url(url, ROOT), **kw)


# -- connecting -----------------------------------------------------------------


def test_registered_for_both_schemes(mysql_url: str) -> None:
    for scheme in ("mysql", "mariadb"):
        url = parse_url(mysql_url.replace("mysql", scheme, 1), ROOT)
        assert isinstance(impl_for(url), MysqlImpl)
    assert MysqlImpl.transactional_ddl is False


def test_missing_driver_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)
    with pytest.raises(SetrightError) as info:
        driver()
    assert info.value.details == ["pip install 'setright[mysql]'"]


def test_unreachable_server_is_one_line_naming_where() -> None:
    url = parse_url("mysql://app:s3cret-pw@127.0.0.1:1/appdb?connect_timeout=2", ROOT)
    with pytest.raises(DatabaseUnavailable) as info:
        MysqlImpl().connect(url)
    message = info.value.message
    assert message.startswith("cannot connect to 127.0.0.1:1/appdb: server not reachable")
    assert "\n" not in message and "s3cret-pw" not in message


@pytest.mark.parametrize("target", [False, True])
def test_a_port_that_never_greets_is_refused_after_connect_timeout(target: bool) -> None:
    """PostgreSQL's port typed for MySQL's accepts and never sends MySQL's greeting; before,
    the handshake waited for the session's read timeout (a store's: 300 s; a target's: for
    ever)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    try:
        url = parse_url(f"mysql://root@127.0.0.1:{port}/x?connect_timeout=1", ROOT)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as info:
            MysqlImpl().connect(url, target=target)
        assert time.monotonic() - started < 10
        assert info.value.message.startswith(f"cannot connect to 127.0.0.1:{port}/x: ")
    finally:
        listener.close()


def test_a_session_reads_for_longer_than_connect_timeout(mysql_url: str) -> None:
    c = _open(f"{mysql_url}?connect_timeout=1")
    try:
        assert c.execute("SELECT SLEEP(1.5)").fetchone() == (0,)
    finally:
        c.close()


def test_wrong_password_and_unknown_database(mysql_url: str) -> None:
    server = parse_url(mysql_url, ROOT)
    bad = f"mysql://nobody_here:s3cret-pw@{server.host}:{server.port}/{server.database}"
    with pytest.raises(DatabaseUnavailable) as info:
        _open(bad)
    assert info.value.message.startswith(f"cannot connect to {server.where}: access denied")
    assert "s3cret-pw" not in info.value.message and "\n" not in info.value.message
    missing = with_database(mysql_url, server.database + "_missing")
    with pytest.raises(DatabaseUnavailable) as info:
        _open(missing)
    assert info.value.message == (f"cannot connect to {server.host}:{server.port}/"
                                  f"{server.database}_missing: unknown database")


def test_create_makes_a_missing_database_readers_never(mysql_url: str) -> None:
    missing = with_database(mysql_url, parse_url(mysql_url, ROOT).database + "_new")
    with pytest.raises(DatabaseUnavailable):
        _open(missing, read_only=True, create=True)
    c = _open(missing, create=True)
    try:
        assert c.execute("SELECT DATABASE(), @@collation_database").fetchone() == (
            parse_url(missing, ROOT).database, c.exact_collation)
    finally:
        c.execute(f"DROP DATABASE {parse_url(missing, ROOT).database}")
        c.close()


def test_session_settings(conn: MysqlConnection) -> None:
    zone, charset, mode = conn.execute(
        "SELECT @@time_zone, @@character_set_connection, @@sql_mode").fetchone()
    assert (zone, charset) == ("+00:00", "utf8mb4")
    assert {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "ANSI_QUOTES"} <= set(mode.split(","))


def test_read_only_connection_cannot_write(mysql_url: str, impl: MysqlImpl) -> None:
    writer = _open(mysql_url)
    writer.execute("CREATE TABLE t (id INT PRIMARY KEY)")
    reader = _open(mysql_url, read_only=True)
    for write in (False, True):
        impl.begin(reader, write=write)
        with pytest.raises(Exception) as info:
            reader.execute("INSERT INTO t VALUES (?)", (1,))
        assert impl.is_error(info.value) and info.value.args[0] == 1792  # READ ONLY transaction
        impl.rollback(reader)
    assert writer.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_placeholders_strings_and_percent(conn: MysqlConnection) -> None:
    row = conn.execute("SELECT ?, '?', 'a%b', ? LIKE 'x%', `c`.`?` FROM (SELECT 1 AS `?`) AS c",
                       ("v", "xyz")).fetchone()
    assert row == ("v", "?", "a%b", 1, 1)
    assert conn.execute("SELECT '50%'").fetchone() == ("50%",)  # no parameters: sent as is


def test_cursor_shape_and_matched_rowcount(conn: MysqlConnection, impl: MysqlImpl) -> None:
    impl.create_table(conn, "t", {"id": int, "v": str}, pk=["id"], autoincrement="id")
    first = impl.insert_returning_id(conn, "INSERT INTO t (v) VALUES (?)", ("a",))
    second = impl.insert_returning_id(conn, "INSERT INTO t (v) VALUES (?)", ("b",))
    assert second == first + 1
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("c",), ("d",)])
    assert [r[0] for r in conn.execute("SELECT v FROM t ORDER BY id")] == ["a", "b", "c", "d"]
    # Rows matched, not rows changed: writing the value already there still counts.
    assert conn.execute("UPDATE t SET v = ? WHERE id = ?", ("a", first)).rowcount == 1


# -- isolation: the guards stay sound --------------------------------------------


def _state_table(conn: MysqlConnection, impl: MysqlImpl) -> None:
    impl.create_table(conn, "job", {"id": int, "state": str}, pk=["id"])
    conn.execute("INSERT INTO job (id, state) VALUES (1, 'pending')")


def test_two_concurrent_guarded_transitions_never_both_succeed(mysql_url: str,
                                                               impl: MysqlImpl) -> None:
    setup = _open(mysql_url)
    _state_table(setup, impl)
    barrier = threading.Barrier(2)
    touched: list[int] = []

    def transition(new: str) -> None:
        c = _open(mysql_url)
        barrier.wait()
        impl.begin(c, write=True)
        touched.append(c.execute("UPDATE job SET state = ? WHERE id = 1 AND state = ?",
                                 (new, "pending")).rowcount)
        time.sleep(0.2)  # hold the transaction open while the other one tries
        impl.commit(c)
        c.close()

    threads = [threading.Thread(target=transition, args=(s,)) for s in ("running", "cancelled")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(touched) == [0, 1]
    assert setup.execute("SELECT state FROM job").fetchone()[0] in ("running", "cancelled")


def test_guarded_update_is_atomic_even_without_the_write_lock(mysql_url: str,
                                                              impl: MysqlImpl) -> None:
    """InnoDB itself: the second UPDATE waits for the first's row lock, then re-reads."""
    a, b = _open(mysql_url), _open(mysql_url)
    _state_table(a, impl)
    a.execute("START TRANSACTION")
    assert a.execute("UPDATE job SET state = 'running' WHERE id = 1 AND state = 'pending'"
                     ).rowcount == 1
    result: list[int] = []
    other = threading.Thread(target=lambda: result.append(b.execute(
        "UPDATE job SET state = 'cancelled' WHERE id = 1 AND state = 'pending'").rowcount))
    other.start()
    time.sleep(0.3)
    assert result == []  # blocked on the row lock
    a.execute("COMMIT")
    other.join()
    assert result == [0]


def _read_check_write(c: MysqlConnection, impl: MysqlImpl, me: str, wins: list[str],
                      barrier: threading.Barrier) -> None:
    barrier.wait()
    impl.begin(c, write=True)
    state = c.execute("SELECT state FROM job WHERE id = 1").fetchone()[0]
    if state == "pending":
        time.sleep(0.2)  # decide slowly: the other writer has every chance to interleave
        c.execute("UPDATE job SET state = ? WHERE id = 1", (me,))
        wins.append(me)
    impl.commit(c)


def test_read_check_then_write_cannot_be_defeated(mysql_url: str, impl: MysqlImpl) -> None:
    setup = _open(mysql_url)
    _state_table(setup, impl)
    barrier = threading.Barrier(2)
    wins: list[str] = []
    conns = [_open(mysql_url), _open(mysql_url)]
    threads = [threading.Thread(target=_read_check_write, args=(c, impl, f"w{i}", wins, barrier))
               for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert setup.execute("SELECT state FROM job").fetchone()[0] == wins[0]


@pytest.mark.parametrize("serializable", [True, False])
def test_a_writer_that_skips_the_write_lock_still_waits(mysql_url: str, impl: MysqlImpl,
                                                        serializable: bool) -> None:
    """SERIALIZABLE makes the check a locking read: a foreign writer (one that never takes
    setright's write lock) blocks until we commit. The control (plain REPEATABLE READ)
    shows the test can fail: there the foreign write slips in between check and write."""
    a, foreign = _open(mysql_url), _open(mysql_url)
    _state_table(a, impl)
    if serializable:
        impl.begin(a, write=True)
    else:
        a.execute("START TRANSACTION")
    assert a.execute("SELECT state FROM job WHERE id = 1").fetchone()[0] == "pending"
    done = threading.Event()

    def steal() -> None:
        try:
            foreign.execute("UPDATE job SET state = 'stolen' WHERE id = 1 AND state = 'pending'")
        except Exception as exc:  # noqa: BLE001 - InnoDB may pick the thief as deadlock victim
            assert impl.is_busy(exc)
        done.set()

    thief = threading.Thread(target=steal)
    thief.start()
    slipped_in = done.wait(0.5)
    a.execute("UPDATE job SET state = 'running' WHERE id = 1")
    impl.commit(a) if serializable else a.execute("COMMIT")
    thief.join()
    final = a.execute("SELECT state FROM job WHERE id = 1").fetchone()[0]
    if serializable:
        assert (slipped_in, final) == (False, "running")
    else:
        assert (slipped_in, final) == (True, "running")  # the check was defeated: lost update


def test_readers_see_one_snapshot(mysql_url: str, impl: MysqlImpl) -> None:
    writer, reader = _open(mysql_url), _open(mysql_url, read_only=True)
    _state_table(writer, impl)
    impl.begin(reader, write=False)
    assert reader.execute("SELECT state FROM job").fetchone()[0] == "pending"
    writer.execute("UPDATE job SET state = 'running'")
    assert reader.execute("SELECT state FROM job").fetchone()[0] == "pending"
    impl.commit(reader)
    assert reader.execute("SELECT state FROM job").fetchone()[0] == "running"


def test_busy_errors_are_recognised(mysql_url: str, impl: MysqlImpl) -> None:
    a, b = _open(mysql_url), _open(mysql_url)
    _state_table(a, impl)
    b.execute("SET SESSION innodb_lock_wait_timeout = 1")
    a.execute("START TRANSACTION")
    a.execute("UPDATE job SET state = 'x'")
    with pytest.raises(Exception) as info:
        b.execute("UPDATE job SET state = 'y'")
    a.execute("ROLLBACK")
    assert impl.is_busy(info.value) and info.value.args[0] == 1205
    assert not impl.is_busy(ValueError("1205"))


def test_implicit_commit_shows_in_in_transaction(conn: MysqlConnection, impl: MysqlImpl) -> None:
    impl.begin(conn, write=True)
    assert impl.in_transaction(conn)
    conn.execute("CREATE TABLE implicit (a INT)")
    assert not impl.in_transaction(conn)
    impl.rollback(conn)


# -- catalog and DDL ------------------------------------------------------------


def test_catalog_names_keep_their_case(conn: MysqlConnection, impl: MysqlImpl) -> None:
    conn.execute(flamingock_audit_ddl("flamingockAuditLog"))
    impl.create_table(conn, "setright_meta", {"key": str, "value": str}, pk=["key"])
    conn.execute("CREATE VIEW v AS SELECT 1 AS one")
    assert impl.table_names(conn) == {"flamingockAuditLog", "setright_meta"}
    assert impl.table_exists(conn, "flamingockAuditLog")
    lower = conn.execute("SELECT @@lower_case_table_names").fetchone()[0]
    assert impl.table_exists(conn, "flamingockauditlog") is (lower != 0)
    assert not impl.table_exists(conn, "v")
    assert impl.column_names(conn, "setright_meta") == ["key", "value"]
    assert impl.column_names(conn, "flamingockAuditLog")[:4] == [
        "id", "execution_id", "stage_id", "change_id"]
    assert impl.quote("we`ird") == "`we``ird`"


def test_create_table_types_and_idempotence(conn: MysqlConnection, impl: MysqlImpl) -> None:
    columns = {"apply_id": str, "change_id": str, "seq": int, "statement": str, "ratio": float}
    for _ in range(2):
        impl.create_table(conn, "ops", columns, pk=["apply_id", "change_id", "seq"],
                          not_null=["statement"])
    rows = conn.execute(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ops' ORDER BY ORDINAL_POSITION"
    ).fetchall()
    types = {name: (kind.split("(")[0] if kind.startswith("bigint") else kind, null, coll)
             for name, kind, null, coll in rows}
    exact = conn.exact_collation
    assert exact in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
    assert types == {
        "apply_id": ("varchar(255)", "NO", exact),
        "change_id": ("varchar(255)", "NO", exact),
        "seq": ("bigint", "NO", None),
        "statement": ("longtext", "NO", exact),
        "ratio": ("double", "YES", None),
    }
    engine = conn.execute("SELECT ENGINE FROM information_schema.TABLES WHERE"
                          " TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ops'").fetchone()[0]
    assert engine == "InnoDB"
    # ids compare exactly: no case folding, and (NO PAD) a trailing space counts
    for change_id in ("X", "x", "x "):
        conn.execute("INSERT INTO ops (apply_id, change_id, seq, statement)"
                     " VALUES ('a', ?, 1, '')", (change_id,))
    assert conn.execute("SELECT COUNT(*) FROM ops WHERE change_id = 'x'").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM ops WHERE change_id = 'x '").fetchone()[0] == 1


def test_create_index_checks_the_catalog_first(conn: MysqlConnection, impl: MysqlImpl) -> None:
    impl.create_table(conn, "ev", {"id": int, "apply_id": str, "note": str}, pk=["id"])
    for _ in range(2):
        impl.create_index(conn, "ev_apply", "ev", ["apply_id"])   # a text column: a prefix
    assert impl.index_exists(conn, "ev", "ev_apply")
    with pytest.raises(SetrightError, match="text column"):
        impl.create_index(conn, "ev_note_u", "ev", ["note"], unique=True)


def test_one_active_index(conn: MysqlConnection, impl: MysqlImpl) -> None:
    impl.create_table(conn, "applies", {"id": str, "target": str, "state": str}, pk=["id"],
                      not_null=["target", "state"])
    for _ in range(2):
        impl.create_one_active_index(conn, "applies_one_active", "applies", "target", "state",
                                     ["pending", "running", "failed_retryable"])
    insert = "INSERT INTO applies (id, target, state) VALUES (?, ?, ?)"
    conn.execute(insert, ("a1", "db", "running"))
    with pytest.raises(Exception) as info:
        conn.execute(insert, ("a2", "db", "pending"))
    assert impl.is_integrity_error(info.value)
    conn.execute(insert, ("a3", "other", "pending"))          # another target is fine
    for i in range(5):
        conn.execute(insert, (f"done{i}", "db", "completed"))  # terminal rows never collide
    conn.execute("UPDATE applies SET state = 'failed' WHERE id = 'a1'")
    conn.execute(insert, ("a4", "db", "pending"))              # the slot is free again
    # The generated column stays out of SELECT * where the server has invisible columns.
    assert len(conn.execute("SELECT * FROM applies").fetchone()) == 3


def test_upsert_and_insert_ignore(conn: MysqlConnection, impl: MysqlImpl) -> None:
    impl.create_table(conn, "setright_meta", {"key": str, "value": str}, pk=["key"],
                      not_null=["value"])
    upsert = impl.upsert_sql("setright_meta", ["key", "value"], ["key"])
    conn.execute(upsert, ("serial", "1"))
    conn.execute(upsert, ("serial", "2"))
    ignore = impl.insert_ignore_sql("setright_meta", ["key", "value"], ["key"])
    conn.execute(ignore, ("serial", "3"))
    conn.execute(ignore, ("lineage", "L"))
    assert dict(conn.execute("SELECT `key`, value FROM setright_meta").fetchall()) == {
        "serial": "2", "lineage": "L"}
    with pytest.raises(Exception) as info:  # unlike INSERT IGNORE, other errors still raise
        conn.execute(ignore, ("new", None))
    assert impl.is_integrity_error(info.value)


# -- the audit log's clock --------------------------------------------------------


def test_audit_ms_of_flamingock_timestamps(conn: MysqlConnection, impl: MysqlImpl) -> None:
    conn.execute(flamingock_audit_ddl("flamingockAuditLog"))
    local_times = [datetime(2026, 7, 1, 12, 0, 0), datetime(2026, 1, 15, 8, 30, 0),
                   datetime(2026, 3, 29, 2, 30, 0),    # skipped by Berlin's clocks in spring
                   datetime(2026, 10, 25, 2, 30, 0),   # happens twice in Berlin in autumn
                   datetime(2026, 10, 25, 3, 0, 0)]
    conn.executemany("INSERT INTO flamingockAuditLog (change_id, created_at) VALUES (?, ?)",
                     [(f"c{i}", t) for i, t in enumerate(local_times)])
    conn.execute("INSERT INTO flamingockAuditLog (change_id, created_at) VALUES ('null', NULL)")
    got = {}
    for zone in ("UTC", "Europe/Berlin"):
        expr = impl.audit_ms_sql(conn, "flamingockAuditLog", "created_at", zone)
        got[zone] = [r[0] for r in conn.execute(f"SELECT {expr} FROM flamingockAuditLog ORDER BY id")]
    epoch = datetime(1970, 1, 1)
    assert got["UTC"][:-1] == [(t - epoch) // timedelta(milliseconds=1) for t in local_times]
    assert got["Europe/Berlin"][:-1] == [local_to_utc_ms("Europe/Berlin", t) for t in local_times]
    assert got["UTC"][0] - got["Europe/Berlin"][0] == 2 * 3600_000   # summer: UTC+2
    assert got["UTC"][1] - got["Europe/Berlin"][1] == 3600_000       # winter: UTC+1
    assert got["UTC"][3] - got["Europe/Berlin"][3] == 2 * 3600_000   # the earlier of the two
    assert got["UTC"][-1] == got["Europe/Berlin"][-1] == -1
    with pytest.raises(SetrightError, match="unknown time zone"):
        impl.audit_ms_sql(conn, "flamingockAuditLog", "created_at", "Mars/Olympus")


def test_audit_ms_of_integer_and_text_columns(conn: MysqlConnection, impl: MysqlImpl) -> None:
    conn.execute("CREATE TABLE log (id INT PRIMARY KEY, ms BIGINT, txt LONGTEXT)")
    rows = [(1, 1795348800000, "1795348800000"), (2, None, "2026-11-22T12:00:00.000Z"),
            (3, None, "2026-11-22 12:00:00.250"), (4, None, "2026-11-22T13:00:00+01:00"),
            (5, None, "not a time"), (6, None, None)]
    conn.executemany("INSERT INTO log VALUES (?, ?, ?)", rows)
    ms = impl.audit_ms_sql(conn, "log", "ms", "Europe/Berlin")
    txt = impl.audit_ms_sql(conn, "log", "txt", "Europe/Berlin")
    got = conn.execute(f"SELECT {ms}, {txt} FROM log ORDER BY id").fetchall()
    t0 = 1795348800000  # 2026-11-22T12:00:00Z
    assert got == ((t0, t0), (-1, t0), (-1, t0 + 250), (-1, t0), (-1, None), (-1, None))
    # as the fold writes them: strict mode turns a warning of the expression into an error
    conn.execute("CREATE TABLE folded (id INT PRIMARY KEY, ms BIGINT)")
    conn.execute(f"INSERT INTO folded SELECT id, {txt} FROM log")
    assert conn.execute("SELECT ms FROM folded WHERE id = 3").fetchone() == (t0 + 250,)


def test_numbers_are_cut_towards_zero_and_none_raises(conn: MysqlConnection,
                                                     impl: MysqlImpl) -> None:
    """A DECIMAL or DOUBLE `created_at` reads as SQLite reads a REAL (`ms_from_any`): cut
    towards zero, nothing outside BIGINT, as on PostgreSQL. Before: `CAST … AS SIGNED`
    rounded (-1.5 read as -2, x.5 as x + 1)."""
    from decimal import Decimal

    from setright.timeutil import ms_from_any

    big = 2 ** 63
    exact = ["1767261600000.5", "-1.5", "-0.5", "0.9", "12345678901234567.9", str(big - 1),
             str(big - 1) + ".9", str(big), str(-big), str(-big) + ".9", str(-big - 1),
             "1e30", "-1e30", None]
    floats = [1767261600000.5, -1.5, -0.5, 0.99, 1e18, 9.2e18, float(big), -float(big),
              -9.3e18, 1e300, None]
    conn.execute("CREATE TABLE nums (n INT, created_at DECIMAL(40, 3))")
    conn.execute("CREATE TABLE doubles (n INT, created_at DOUBLE)")
    conn.executemany("INSERT INTO nums VALUES (?, ?)",
                     [(n, None if v is None else Decimal(v)) for n, v in enumerate(exact)])
    conn.executemany("INSERT INTO doubles VALUES (?, ?)", list(enumerate(floats)))
    read = {table: [row[0] for row in conn.execute(
                f"SELECT {impl.audit_ms_sql(conn, table, 'created_at')} FROM {table} ORDER BY n")]
            for table in ("nums", "doubles")}
    cut = [-1 if v is None or not -big <= int(Decimal(v)) < big else int(Decimal(v))
           for v in exact]
    assert read["nums"] == cut
    assert read["nums"][:4] == [1_767_261_600_000, -1, 0, 0]
    assert read["doubles"] == [-1 if ms_from_any(v) is None else ms_from_any(v) for v in floats]
    conn.execute("CREATE TABLE folded (n INT PRIMARY KEY, ms BIGINT)")   # as the fold writes
    for table in ("nums", "doubles"):
        conn.execute("DELETE FROM folded")
        conn.execute(f"INSERT INTO folded SELECT n, {impl.audit_ms_sql(conn, table, 'created_at')}"
                     f" FROM {table}")
        assert [row[0] for row in conn.execute("SELECT ms FROM folded ORDER BY n")] == read[table]


def test_text_times_read_as_on_sqlite_and_none_raises(conn: MysqlConnection,
                                                      impl: MysqlImpl) -> None:
    """A text `created_at` reads as SQLite's `setright_ms` reads it (NULL, the fold's -1, for
    what it cannot read), whatever the column's collation, and no text fails the fold's strict
    INSERT … SELECT. Before: seconds were required, at most 6 fraction digits taken,
    `1767261600000.5` was -1 and a BIGINT overflow failed the statement."""
    import sqlite3

    from setright.db.sqlite import SqliteImpl
    from setright.store.audit import SQL_FUNCTIONS
    from test_postgres import odd_texts

    texts = odd_texts()
    lite = sqlite3.connect(":memory:")
    for name, function in SQL_FUNCTIONS.items():
        lite.create_function(name, 1, function, deterministic=True)
    lite.execute("CREATE TABLE odd (n int, created_at DATETIME)")   # Flamingock's SQLite type
    lite.executemany("INSERT INTO odd VALUES (?, ?)", list(enumerate(texts)))
    on_sqlite = [row[0] for row in lite.execute(
        f"SELECT {SqliteImpl().audit_ms_sql(lite, 'odd')} FROM odd ORDER BY n")]
    for kind in ("LONGTEXT", "VARCHAR(255) COLLATE utf8mb4_general_ci", "BLOB"):
        conn.execute("DROP TABLE IF EXISTS odd")
        conn.execute(f"CREATE TABLE odd (n INT PRIMARY KEY, created_at {kind})")
        conn.executemany("INSERT INTO odd VALUES (?, ?)", list(enumerate(texts)))
        ms = impl.audit_ms_sql(conn, "odd", "created_at", "UTC")
        on_mysql = [row[0] for row in conn.execute(f"SELECT {ms} FROM odd ORDER BY n")]
        differ = [(text, a, b) for text, a, b in zip(texts, on_mysql, on_sqlite, strict=True)
                  if a != b]
        assert differ == [], kind
        conn.execute("CREATE TABLE IF NOT EXISTS folded (n INT PRIMARY KEY, ms BIGINT)")
        conn.execute("DELETE FROM folded")
        conn.execute(f"INSERT INTO folded SELECT n, coalesce({ms}, -1) FROM odd")   # the fold
        assert conn.execute("SELECT count(*) FROM folded").fetchone() == (len(texts),)
    readable = dict(zip(texts, on_mysql, strict=True))
    assert readable["1767261600000.5"] == 1_767_261_600_000
    assert readable["2026-01-01T10:00"] == 1_767_261_600_000
    assert readable["2026-01-01T10:00:00.9999999Z"] == 1_767_261_600_999
    assert readable["garbage"] is readable["2026-13-45T99:99:99Z"] is readable["1e400"] is None
    assert sum(v is not None for v in readable.values()) > 900   # not all unreadable


def test_iso_from_ms_sql_is_iso_from_ms_for_any_bigint(conn: MysqlConnection,
                                                        impl: MysqlImpl) -> None:
    """Before: a year past 9999 was NULL and a time past ±292 thousand years failed every
    reader ("BIGINT value is out of range" from `ms * 1000`); years before 1 were wrong."""
    from setright.timeutil import iso_from_ms
    from test_postgres import odd_ms

    values = odd_ms()
    conn.execute("CREATE TABLE ms (n INT PRIMARY KEY, ms BIGINT)")
    conn.executemany("INSERT INTO ms VALUES (?, ?)", [*enumerate(values), (len(values), None)])
    got = conn.execute(f"SELECT {impl.iso_from_ms_sql('ms')} FROM ms ORDER BY n").fetchall()
    differ = [(v, row[0]) for v, row in zip(values, got) if row[0] != iso_from_ms(v)]
    assert differ == [] and got[-1] == (None,)
    conn.execute("CREATE TABLE shown (n INT PRIMARY KEY, iso VARCHAR(40))")
    conn.execute(f"INSERT INTO shown SELECT n, {impl.iso_from_ms_sql('ms')} FROM ms")  # strict


def test_created_at_step_and_server_clock(conn: MysqlConnection, impl: MysqlImpl) -> None:
    conn.execute(flamingock_audit_ddl("flamingockAuditLog"))
    conn.execute("CREATE TABLE d3 (id INT PRIMARY KEY, created_at DATETIME(3))")
    conn.execute("CREATE TABLE d1 (id INT PRIMARY KEY, created_at DATETIME(1))")
    conn.execute("CREATE TABLE ms (id INT PRIMARY KEY, created_at BIGINT)")
    steps = {t: impl.created_at_step_ms(conn, t) for t in ("flamingockAuditLog", "d3", "d1", "ms")}
    assert steps == {"flamingockAuditLog": 1000, "d3": 1, "d1": 100, "ms": 1}
    before = int(time.time() * 1000)
    now = impl.now_ms(conn)
    assert now is not None and before - 2000 <= now <= int(time.time() * 1000) + 2000


# -- schema snapshots ---------------------------------------------------------------


def test_schema_snapshot_sees_what_changes(conn: MysqlConnection, impl: MysqlImpl) -> None:
    conn.execute("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL DEFAULT '',"
                 " age INT, CONSTRAINT adult CHECK (age >= 18))")
    conn.execute("CREATE TABLE orders (id INT PRIMARY KEY, user_id INT,"
                 " FOREIGN KEY (user_id) REFERENCES users (id))")
    conn.execute("CREATE UNIQUE INDEX users_email ON users (email)")
    conn.execute("CREATE VIEW adults AS SELECT id FROM users WHERE age >= 18")
    conn.execute("CREATE TRIGGER users_bi BEFORE INSERT ON users FOR EACH ROW SET NEW.age = 18")
    impl.create_table(conn, "setright_markers", {"a": str}, pk=["a"])
    before = impl.schema_snapshot(conn)
    assert set(before["tables"]) == {"users", "orders"}
    users = before["tables"]["users"]
    email = users["columns"]["email"]
    assert (email["type"], email["nullable"], email["primary_key"]) == ("VARCHAR(100)", False, False)
    assert email["default"] in ("''", "")  # MariaDB quotes literal defaults, MySQL does not
    assert users["indexes"]["users_email"] == {"columns": ["email"], "unique": True}
    assert users["has_check"] is True
    assert before["tables"]["orders"]["foreign_keys"] == ["user_id -> users(id)"]
    assert set(before["views"]) == {"adults"} and "age" in before["views"]["adults"]
    assert before["triggers"]["users_bi"].startswith("BEFORE INSERT ON users FOR EACH ROW")

    conn.execute("DROP INDEX users_email ON users")
    conn.execute("ALTER TABLE users ADD COLUMN nickname VARCHAR(20)")
    after = impl.schema_snapshot(conn)
    assert "users_email" not in after["tables"]["users"]["indexes"]
    assert after["tables"]["users"]["columns"]["nickname"]["nullable"] is True
    assert {k: v for k, v in after["tables"]["users"]["columns"].items() if k != "nickname"} \
        == users["columns"]
    assert after["tables"]["orders"] == before["tables"]["orders"]


def test_a_held_write_lock_is_busy(mysql_url: str, impl: MysqlImpl,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import setright.db.mysql as mysql

    monkeypatch.setattr(mysql, "WRITE_LOCK_TIMEOUT_S", 1)
    a, b = _open(mysql_url), _open(mysql_url)
    impl.begin(a, write=True)
    with pytest.raises(mysql.WriteLockTimeout) as info:
        impl.begin(b, write=True)
    assert impl.is_busy(info.value) and not impl.in_transaction(b)
    impl.commit(a)
    impl.begin(b, write=True)  # released at COMMIT
    impl.rollback(b)
