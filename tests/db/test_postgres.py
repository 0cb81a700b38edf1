"""PostgreSQL behind the seam: connecting, isolation, catalog, DDL, time, snapshots, the
statement splitter and the target face — on a real server, one database per test."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from deepdiff import DeepDiff

from serverhelp import (pg_module_url, pg_schema_url, pg_url,  # noqa: F401 - fixtures
                        with_database)
from setright.db import DatabaseUnavailable, impl_for, parse_url
from setright.db.postgres import PostgresImpl, connect_cause, flamingock_audit_ddl, fold
from setright.db.postgres_conn import PgConnection
from setright.db.postgres_lexer import (first_keyword, needs_autocommit,
                                        split_statements, translate_placeholders)
from setright.db.postgres_target import PostgresTarget
from setright.errors import LeaseLost, SetrightError
from setright.runner.targets import StatementFailed, TargetError
from storehelp import T0

ROOT = Path("project")
AT = "2026-11-22T12:00:00.000Z"
#: The audit log's columns, in Flamingock's order.
AUDIT_COLUMNS = [
    "id", "execution_id", "stage_id", "change_id", "author", "created_at", "state",
    "invoked_class", "invoked_method", "source_file", "metadata", "execution_millis",
    "execution_hostname", "error_trace", "type", "tx_strategy", "target_system_id",
    "change_order", "recovery_strategy", "transaction_flag", "system_change",
]


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_t0_is_the_instant_these_tests_write() -> None:
    assert ms(AT) == T0


@pytest.fixture
def impl() -> PostgresImpl:
    return PostgresImpl()


@pytest.fixture
def url(pg_schema_url: str) -> str:
    """Most tests run in a fresh schema of one module-wide database (see serverhelp)."""
    return pg_schema_url


@pytest.fixture
def connect(url: str, impl: PostgresImpl) -> Iterator[Callable[..., PgConnection]]:
    """Open connections to the test database; all are closed after the test."""
    opened: list[PgConnection] = []

    def open_(**kwargs: Any) -> PgConnection:
        conn = impl.connect(parse_url(url, ROOT, {}), **kwargs)
        opened.append(conn)
        return conn

    yield open_
    for conn in opened:
        conn.close()


@pytest.fixture
def conn(connect: Callable[..., PgConnection]) -> PgConnection:
    return connect()


def wait_until_blocked(observer: PgConnection, waiter: PgConnection) -> None:
    """Until `waiter`'s backend waits for a lock (so an interleaving is certain, not timed)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        row = observer.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = ?",
                               (waiter.backend_pid,)).fetchone()
        if row and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError("the second transaction never waited for the first")


def in_thread(function: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = function()
        except BaseException as exc:  # handed back to the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


# -- the driver and connecting ----------------------------------------------------


def test_registered_for_both_schemes_and_the_driver_is_imported_lazily(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for text in ("postgresql://u@h/db", "postgres://u@h/db"):
        assert isinstance(impl_for(parse_url(text, ROOT, {})), PostgresImpl)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(SetrightError, match=r"pip install 'setright\[postgres\]'"):
        PostgresImpl().connect(parse_url("postgresql://u@127.0.0.1/db", ROOT, {}))


def test_a_server_that_is_down_is_one_line_naming_it_never_the_password() -> None:
    url = parse_url("postgresql://app:hunter2@127.0.0.1:1/audit?connect_timeout=2", ROOT, {})
    with pytest.raises(DatabaseUnavailable) as caught:
        PostgresImpl().connect(url)
    message = caught.value.message
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1/audit: ")
    assert "refused" in message.lower()
    assert "\n" not in message and "hunter2" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_missing_database_and_a_missing_role_are_named(pg_url: str) -> None:
    missing = parse_url(with_database(pg_url, "setright_no_such_db"), ROOT, {})
    with pytest.raises(DatabaseUnavailable) as caught:
        PostgresImpl().connect(missing)
    assert caught.value.message == (
        f"cannot connect to PostgreSQL at {missing.where}: "
        'database "setright_no_such_db" does not exist')
    stranger = parse_url(f"postgresql://setright_nobody:pw@{missing.host}:{missing.port}/"
                         f"{parse_url(pg_url, ROOT, {}).database}", ROOT, {})
    with pytest.raises(DatabaseUnavailable, match='role "setright_nobody" does not exist'):
        PostgresImpl().connect(stranger)


def test_the_password_is_masked_even_inside_driver_messages() -> None:
    url = parse_url("postgresql://app:s3cr3t-pw@db.internal/audit", ROOT, {})
    exc = RuntimeError('connection to server at "db.internal" (10.0.0.5), port 5432 failed: '
                       'FATAL:  password authentication failed for "s3cr3t-pw"\n')
    assert connect_cause(exc, url) == 'password authentication failed for "***"'


def test_sessions_say_who_they_are_pass_parameters_on_and_can_be_read_only(
        connect: Callable[..., PgConnection], url: str, impl: PostgresImpl) -> None:
    conn = connect()
    assert conn.execute("SELECT current_setting('application_name')").fetchone() == ("setright",)
    probe = impl.connect(parse_url(url + "&application_name=probe&sslmode=disable", ROOT, {}))
    assert probe.execute("SELECT current_setting('application_name')").fetchone() == ("probe",)
    probe.close()
    conn.execute("CREATE TABLE t (x int)")
    reader = connect(read_only=True)
    assert reader.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    with pytest.raises(Exception) as caught:
        reader.execute("INSERT INTO t VALUES (1)")
    assert type(caught.value).__name__ == "ReadOnlySqlTransaction"
    assert impl.is_error(caught.value) and not impl.is_busy(caught.value)


# -- placeholders -------------------------------------------------------------------


@pytest.mark.parametrize("sql, expected, count", [
    ("SELECT ?", "SELECT %s", 1),
    ("SELECT ?, ?", "SELECT %s, %s", 2),
    ("SELECT '?', ?", "SELECT '?', %s", 1),
    ("SELECT '%', ?", "SELECT '%%', %s", 1),
    ("SELECT x % 2 FROM t WHERE y LIKE '%a?' AND z = ?",
     "SELECT x %% 2 FROM t WHERE y LIKE '%%a?' AND z = %s", 1),
    ('SELECT "a?b" FROM t WHERE c = ?', 'SELECT "a?b" FROM t WHERE c = %s', 1),
    ("SELECT $$?$$, E'\\'?', ? -- ?\n", "SELECT $$?$$, E'\\'?', %s -- ?\n", 1),
    ("SELECT /* ? /* ? */ ? */ ?", "SELECT /* ? /* ? */ ? */ %s", 1),
])
def test_placeholders_are_translated_outside_literals(sql: str, expected: str, count: int) -> None:
    assert translate_placeholders(sql) == (expected, count)


def test_placeholders_on_the_server(conn: PgConnection) -> None:
    row = conn.execute("SELECT ?, '?', '%', ? || '%', 7 % ?", ("a", "b", 4)).fetchone()
    assert row == ("a", "?", "%", "b%", 3)
    assert conn.execute("SELECT '%?'").fetchone() == ("%?",)  # no parameters: sent as is
    conn.execute("CREATE TABLE t (k text, v bigint)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [("x%", 1), ("y?", 2)])
    assert conn.execute("SELECT k, v FROM t ORDER BY v").fetchall() == [("x%", 1), ("y?", 2)]
    cursor = conn.execute("UPDATE t SET v = v + 1")
    assert (cursor.rowcount, cursor.fetchone(), cursor.fetchall(), list(cursor)) == (
        2, None, [], [])
    with pytest.raises(ValueError, match="2 placeholders, 1 parameters"):
        conn.execute("SELECT ?, ?", (1,))


# -- isolation ------------------------------------------------------------------------


@pytest.fixture
def row_a(conn: PgConnection) -> PgConnection:
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, state text)")
    conn.execute("INSERT INTO t VALUES (1, 'a')")
    return conn


def test_concurrent_guarded_updates_never_both_succeed(
        row_a: PgConnection, connect: Callable[..., PgConnection], impl: PostgresImpl) -> None:
    first, second = connect(), connect()
    for _trial in range(10):
        row_a.execute("UPDATE t SET state = 'a'")
        barrier = threading.Barrier(2)

        def guarded(c: PgConnection) -> int:
            barrier.wait()
            impl.begin(c, write=True)
            count = c.execute("UPDATE t SET state = 'b' WHERE id = 1 AND state = 'a'").rowcount
            impl.commit(c)
            return count

        threads = [in_thread(lambda c=c: guarded(c)) for c in (first, second)]
        for thread, _ in threads:
            thread.join(10)
        assert sorted(result["value"] for _, result in threads) == [0, 1]


def test_a_second_writer_waits_and_then_sees_the_first_ones_write(
        row_a: PgConnection, connect: Callable[..., PgConnection], impl: PostgresImpl) -> None:
    first, second = connect(), connect()
    impl.begin(first, write=True)
    assert first.execute("SELECT state FROM t WHERE id = 1").fetchone() == ("a",)

    def read_check_then_write() -> tuple[str, int]:
        impl.begin(second, write=True)
        seen = second.execute("SELECT state FROM t WHERE id = 1").fetchone()[0]
        moved = 0
        if seen == "a":
            moved = second.execute("UPDATE t SET state = 'b' WHERE id = 1 AND state = ?",
                                   (seen,)).rowcount
        impl.commit(second)
        return seen, moved

    thread, result = in_thread(read_check_then_write)
    wait_until_blocked(row_a, second)
    assert first.execute("UPDATE t SET state = 'b' WHERE id = 1 AND state = ?",
                         ("a",)).rowcount == 1
    impl.commit(first)
    thread.join(10)
    assert result["value"] == ("b", 0)  # it decided on what the first writer committed


def start_apply(c: PgConnection, apply_id: str) -> None:
    """A read-of-others-then-insert guard: start an apply only if none is running."""
    running = c.execute("SELECT count(*) FROM applies WHERE target = 'db' AND state = 'running'"
                        ).fetchone()[0]
    if running == 0:
        c.execute("INSERT INTO applies VALUES (?, 'db', 'running')", (apply_id,))


def test_write_skew_is_prevented_and_would_happen_without_the_write_lock(
        conn: PgConnection, connect: Callable[..., PgConnection], impl: PostgresImpl) -> None:
    conn.execute("CREATE TABLE applies (id text PRIMARY KEY, target text, state text)")
    first, second = connect(), connect()
    # Control: plain READ COMMITTED transactions interleaved — both insert.
    first.execute("BEGIN")
    second.execute("BEGIN")
    first.execute("SELECT count(*) FROM applies")
    second.execute("SELECT count(*) FROM applies")
    start_apply(first, "A1")
    start_apply(second, "A2")
    first.execute("COMMIT")
    second.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM applies").fetchone() == (2,)
    conn.execute("DELETE FROM applies")
    # The same interleaving through begin(write=True): the second waits, sees A1, inserts nothing.
    impl.begin(first, write=True)
    first.execute("SELECT count(*) FROM applies")

    def second_writer() -> None:
        impl.begin(second, write=True)
        start_apply(second, "A2")
        impl.commit(second)

    thread, result = in_thread(second_writer)
    wait_until_blocked(conn, second)
    start_apply(first, "A1")
    impl.commit(first)
    thread.join(10)
    assert "error" not in result
    assert conn.execute("SELECT id FROM applies").fetchall() == [("A1",)]


def test_waiting_for_the_write_lock_is_bounded_and_busy(
        connect: Callable[..., PgConnection], impl: PostgresImpl) -> None:
    first, second = connect(), connect()
    impl.begin(first, write=True)
    impatient = PostgresImpl()
    impatient.write_lock_timeout_ms = 200
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        impatient.begin(second, write=True)
    assert time.monotonic() - started < 2
    assert impatient.is_busy(caught.value) and not second.in_transaction
    impl.commit(first)
    impatient.begin(second, write=True)  # free again
    impatient.commit(second)


def test_busy_errors_are_the_retryable_ones(impl: PostgresImpl) -> None:
    errors = impl.errors
    for cls in (errors.SerializationFailure, errors.DeadlockDetected, errors.LockNotAvailable):
        assert impl.is_busy(cls("x"))
    assert not impl.is_busy(errors.UniqueViolation("x"))
    assert impl.is_integrity_error(errors.UniqueViolation("x"))
    assert not impl.is_busy(RuntimeError("locked"))


def test_a_read_is_one_read_only_snapshot(
        row_a: PgConnection, connect: Callable[..., PgConnection], impl: PostgresImpl) -> None:
    reader = connect()
    impl.begin(reader, write=False)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    row_a.execute("INSERT INTO t VALUES (2, 'a')")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with pytest.raises(Exception) as caught:
        reader.execute("DELETE FROM t")
    assert type(caught.value).__name__ == "ReadOnlySqlTransaction"
    impl.rollback(reader)
    assert not impl.in_transaction(reader)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (2,)


# -- the catalog --------------------------------------------------------------------------


def test_flamingock_table_is_found_by_its_folded_name(conn: PgConnection,
                                                      impl: PostgresImpl) -> None:
    conn.execute(flamingock_audit_ddl("flamingockAuditLog"))
    assert "flamingockauditlog" in impl.table_names(conn)
    for name in ("flamingockAuditLog", "flamingockauditlog", "FLAMINGOCKAUDITLOG"):
        assert impl.table_exists(conn, name)
    assert not impl.table_exists(conn, "setright_audit_log")
    assert impl.column_names(conn, "flamingockAuditLog") == AUDIT_COLUMNS
    assert impl.column_names(conn, "absent") == []


def test_the_catalog_is_the_current_schema(conn: PgConnection, impl: PostgresImpl) -> None:
    conn.execute("CREATE SCHEMA other")
    conn.execute("CREATE TABLE other.elsewhere (x int)")
    conn.execute("CREATE TABLE here (x int)")
    assert not impl.table_exists(conn, "elsewhere") and impl.table_names(conn) == {"here"}
    conn.execute("SET search_path = other")
    assert impl.table_names(conn) == {"elsewhere"}
    assert impl.column_names(conn, "Elsewhere") == ["x"]
    conn.execute("DROP SCHEMA other CASCADE")


@pytest.mark.parametrize("name", ["flamingockAuditLog", "setright_meta", "_x1"])
def test_quote_leaves_plain_names_unquoted(name: str) -> None:
    assert PostgresImpl.quote(name) == name
    assert fold(name) == name.lower()


@pytest.mark.parametrize("name", ['"x"', "a-b", "a b", "1abc", "", "t;DROP TABLE x", "ñame"])
def test_quote_refuses_names_that_would_need_quotes(name: str) -> None:
    with pytest.raises(SetrightError, match="not a plain SQL name"):
        PostgresImpl.quote(name)


# -- DDL for setright's tables ------------------------------------------------------------


def test_create_table_types_identity_and_returning_id(conn: PgConnection,
                                                      impl: PostgresImpl) -> None:
    columns = {"id": int, "at": str, "kind": str, "score": float}
    for _ in range(2):  # IF NOT EXISTS
        impl.create_table(conn, "setright_events", columns, pk=["id"], not_null=["kind"],
                          autoincrement="id")
    types = dict(conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'setright_events'").fetchall())
    assert types == {"id": "bigint", "at": "text", "kind": "text", "score": "double precision"}
    insert = "INSERT INTO setright_events (at, kind) VALUES (?, ?)"
    assert [impl.insert_returning_id(conn, insert, (AT, "k")) for _ in range(2)] == [1, 2]
    conn.execute("INSERT INTO setright_events (id, at, kind) VALUES (10, ?, 'k')", (AT,))
    impl.advance_id_sequence(conn, "setright_events")
    assert impl.insert_returning_id(conn, insert, (AT, "k")) == 11
    with pytest.raises(Exception) as caught:
        conn.execute("INSERT INTO setright_events (at) VALUES (?)", (AT,))
    assert impl.is_integrity_error(caught.value)


def test_advancing_an_empty_sequence_starts_at_one(conn: PgConnection, impl: PostgresImpl) -> None:
    impl.create_table(conn, "e", {"id": int, "x": str}, pk=["id"], autoincrement="id")
    impl.advance_id_sequence(conn, "e")
    assert impl.insert_returning_id(conn, "INSERT INTO e (x) VALUES (?)", ("a",)) == 1


def test_indexes_and_at_most_one_active_apply(conn: PgConnection, impl: PostgresImpl) -> None:
    impl.create_table(conn, "setright_applies", {"id": str, "target": str, "state": str},
                      pk=["id"])
    impl.create_index(conn, "setright_applies_target_state_idx", "setright_applies",
                      ["target", "state"])
    impl.create_index(conn, "setright_applies_id_idx", "setright_applies", ["id"], unique=True)
    for _ in range(2):
        impl.create_one_active_index(conn, "setright_applies_one_active_idx", "setright_applies",
                                     "target", "state", ["pending", "running", "failed_retryable"])
    insert = "INSERT INTO setright_applies VALUES (?, ?, ?)"
    for apply_id, state in [("A1", "completed"), ("A2", "completed"), ("A3", "running"),
                            ("A4", "failed")]:
        conn.execute(insert, (apply_id, "db", state))
    conn.execute(insert, ("B1", "other", "pending"))
    with pytest.raises(Exception) as caught:
        conn.execute(insert, ("A5", "db", "pending"))
    assert impl.is_integrity_error(caught.value)
    indexes = {row[0] for row in conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'setright_applies'")}
    assert {"setright_applies_target_state_idx", "setright_applies_id_idx",
            "setright_applies_one_active_idx"} <= indexes


def test_upsert_and_insert_ignore(conn: PgConnection, impl: PostgresImpl) -> None:
    impl.create_table(conn, "setright_meta", {"key": str, "value": str}, pk=["key"])
    upsert = impl.upsert_sql("setright_meta", ["key", "value"], ["key"])
    ignore = impl.insert_ignore_sql("setright_meta", ["key", "value"], ["key"])
    conn.execute(upsert, ("serial", "1"))
    conn.execute(upsert, ("serial", "2"))
    conn.execute(ignore, ("serial", "99"))
    conn.execute(ignore, ("lineage", "L"))
    assert sorted(conn.execute("SELECT key, value FROM setright_meta").fetchall()) == [
        ("lineage", "L"), ("serial", "2")]


# -- time -------------------------------------------------------------------------------------


@pytest.fixture
def times(conn: PgConnection) -> PgConnection:
    conn.execute("CREATE TABLE times (n int, ms bigint, ts timestamp, tstz timestamptz,"
                 " txt text, whole timestamp(0))")
    rows = [
        # Berlin wall clock in November is UTC+1: 13:00:00.123 there is T0 + 123 ms.
        (1, T0 + 123, "2026-11-22 13:00:00.123", "2026-11-22T12:00:00.123Z",
         "2026-11-22 13:00:00.123"),
        (2, T0 + 123, "2026-11-22 13:00:00.123999", "2026-11-22T13:00:00.123+01:00",
         "2026-11-22T13:00:00.123"),
        (3, T0 + 123, "2026-11-22 13:00:00.123", "2026-11-22T12:00:00.123Z",
         "2026-11-22T12:00:00.123Z"),
        (4, T0 + 123, "2026-11-22 13:00:00.123", "2026-11-22T12:00:00.123Z", str(T0 + 123)),
        (5, T0 + 123, "2026-11-22 13:00:00.123", "2026-11-22T12:00:00.123Z",
         "2026-11-22T13:00:00.123+01:00"),
    ]
    conn.executemany("INSERT INTO times (n, ms, ts, tstz, txt) VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("SET TIME ZONE 'America/New_York'")  # the session's zone must not matter
    return conn


def values(conn: PgConnection, impl: PostgresImpl, column: str, zone: str) -> list[int]:
    expression = impl.audit_ms_sql(conn, "times", column, zone)
    return [row[0] for row in conn.execute(f"SELECT {expression} FROM times t ORDER BY n")]


HOUR = 3_600_000


@pytest.mark.parametrize("column, berlin, utc", [
    ("ms", [T0 + 123] * 5, [T0 + 123] * 5),
    ("ts", [T0 + 123] * 5, [T0 + 123 + HOUR] * 5),          # zone-less: read in the zone
    ("tstz", [T0 + 123] * 5, [T0 + 123] * 5),               # absolute
    ("t.txt", [T0 + 123] * 5,                               # ISO / Flamingock text / digits
     [T0 + 123 + HOUR, T0 + 123 + HOUR, T0 + 123, T0 + 123, T0 + 123]),
])
def test_audit_time_as_epoch_ms_whatever_the_column_type(
        times: PgConnection, impl: PostgresImpl, column: str, berlin: list[int],
        utc: list[int]) -> None:
    assert values(times, impl, column, "Europe/Berlin") == berlin
    assert values(times, impl, column, "UTC") == utc


def test_summer_time_is_read_in_the_zone(times: PgConnection, impl: PostgresImpl) -> None:
    times.execute("UPDATE times SET ts = '2026-07-01 14:00:00.000'")
    assert set(values(times, impl, "ts", "Europe/Berlin")) == {ms("2026-07-01T12:00:00Z")}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_an_infinite_timestamp_reads_as_no_time(conn: PgConnection, impl: PostgresImpl,
                                                zone: str) -> None:
    """Before: `cannot convert infinity to bigint` failed every reader and writer."""
    conn.execute("CREATE TABLE inf (n int, ts timestamp, tstz timestamptz)")
    conn.executemany("INSERT INTO inf VALUES (?, ?::timestamp, ?::timestamptz)",
                     [(1, "infinity", "infinity"), (2, "-infinity", "-infinity"),
                      (3, "2026-11-22 12:00:00", "2026-11-22T12:00:00Z")])
    for column in ("ts", "tstz"):
        got = [row[0] for row in conn.execute(
            f"SELECT {impl.audit_ms_sql(conn, 'inf', column, zone)} FROM inf ORDER BY n")]
        assert got[:2] == [None, None], column
    assert got[2] == ms("2026-11-22T12:00:00Z")


def _around_changes(zone: str) -> list[datetime]:
    """Wall-clock times every 10 minutes from 3 hours before to 3 hours after each of the
    zone's 2026 clock changes, as the clock shows them (repeated and skipped ones included)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    tz, out = ZoneInfo(zone), []
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    while at.year == 2026:
        step = at + timedelta(minutes=30)
        if at.astimezone(tz).utcoffset() != step.astimezone(tz).utcoffset():
            middle = step.astimezone(tz).replace(tzinfo=None)
            out += [middle + timedelta(minutes=10 * k) for k in range(-18, 19)]
        at = step
    return out


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                  "Europe/Dublin"])
def test_repeated_and_skipped_wall_clock_times_read_as_java_and_mysql_read_them(
        conn: PgConnection, impl: PostgresImpl, zone: str) -> None:
    """A fall-back repeats an hour (Lord Howe: half an hour): its times read as the earlier
    instant, as `zonecase.local_to_utc_ms` (the MySQL store's reading, and Java's)."""
    from setright.db.zonecase import local_to_utc_ms

    local = _around_changes(zone)
    assert len(local) == 2 * 37
    conn.execute("CREATE TABLE walls (n int, ts timestamp, txt text)")
    conn.executemany("INSERT INTO walls VALUES (?, ?, ?)",
                     [(n, t, t.isoformat(sep=" ")) for n, t in enumerate(local)])
    expected = [local_to_utc_ms(zone, t) for t in local]
    for column in ("ts", "txt"):
        got = [row[0] for row in conn.execute(
            f"SELECT {impl.audit_ms_sql(conn, 'walls', column, zone)} FROM walls ORDER BY n")]
        assert got == expected, column


#: Texts a `created_at` may hold, readable or not: each must read as it reads on SQLite.
ODD_TEXTS = [
    "garbage", "", " ", "1767261600000", " 1767261600000 ", "+12", "--5", "-0", "00012",
    "1767261600000.5", "1767261600000.9", "-1.5", "+.5", "5.", ".", "1e3", "1E+3", "1e400",
    "1e-999", "0.99999999999999999999", "12345678901234567.5", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "1" * 64, "1" * 65,
    "0x10", "inf", "nan", "Infinity", "1_000", "e5", "1.5e", "\t42\n", "١٢",
    "2026-01-01T10:00:00Z", "2026-01-01t10:00:00z", "2026-01-01T10:00", "2026-01-01 10:00:00.123",
    "2026-01-01T10:00:00.123456789Z", "2026-01-01T10:00:00.9999999Z", "2026-01-01T10:00:00+01:00",
    "2026-01-01T10:00:00-0130", "2026-01-01T10:00:00+01", "2026-01-01T10:00:00+23:59",
    "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+01:60", "2026-13-45T99:99:99Z",
    "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:59:60Z", "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "2026-01-01", "20260101T100000Z",
    "2026-1-01T10:00:00Z", "2026-01-01T10:00:00.Z", "2026-01-01T10:00:00,5Z",
    "2026-01-01T10:00:00 Z", "2026-01-01 10:00:00 Europe/Paris",
]


def odd_texts() -> list[str]:
    """`ODD_TEXTS`, then seeded near-misses: digits and separators in any order, and
    timestamps whose fields run past their ranges."""
    rng = random.Random(20261203)
    texts = list(ODD_TEXTS)
    texts += ["".join(rng.choice("0123456789-:.TZ +e") for _ in range(rng.randrange(1, 30)))
              for _ in range(1500)]
    texts += [f"{rng.randrange(0, 10000):04d}-{rng.randrange(0, 16):02d}-{rng.randrange(0, 34):02d}"
              f"T{rng.randrange(0, 26):02d}:{rng.randrange(0, 62):02d}:{rng.randrange(0, 62):02d}"
              + rng.choice(["", ".5", ".123456", "Z", "+05:30", "-1200", "+23:59", ".9999999Z"])
              for _ in range(1500)]
    return texts


def test_text_times_read_as_on_sqlite_and_none_raises(conn: PgConnection,
                                                      impl: PostgresImpl) -> None:
    """One unreadable text `created_at` failed every reader ("invalid input syntax for type
    timestamp"): now it is NULL (the fold's -1), as SQLite's `setright_ms` says, and what is
    readable reads the same to the ms (zone-less text in UTC on both)."""
    import sqlite3

    from setright.db.sqlite import SqliteImpl
    from setright.store.audit import SQL_FUNCTIONS

    texts = odd_texts()
    conn.execute("CREATE TABLE odd (n int, created_at text)")
    conn.executemany("INSERT INTO odd VALUES (?, ?)", list(enumerate(texts)))
    on_pg = conn.execute(f"SELECT {impl.audit_ms_sql(conn, 'odd', 'created_at', 'UTC')}"
                         " FROM odd ORDER BY n").fetchall()
    lite = sqlite3.connect(":memory:")
    for name, function in SQL_FUNCTIONS.items():
        lite.create_function(name, 1, function, deterministic=True)
    lite.execute("CREATE TABLE odd (n int, created_at DATETIME)")   # Flamingock's SQLite type
    lite.executemany("INSERT INTO odd VALUES (?, ?)", list(enumerate(texts)))
    on_sqlite = lite.execute(f"SELECT {SqliteImpl().audit_ms_sql(lite, 'odd')}"
                             " FROM odd ORDER BY n").fetchall()
    differ = [(text, a[0], b[0]) for text, a, b in zip(texts, on_pg, on_sqlite, strict=True)
              if a[0] != b[0]]
    assert differ == []
    readable = dict(zip(texts, (row[0] for row in on_pg), strict=True))
    assert readable["1767261600000.5"] == 1_767_261_600_000
    assert readable["2026-01-01T10:00:00.9999999Z"] == 1_767_261_600_999
    assert readable["garbage"] is None and readable["2026-13-45T99:99:99Z"] is None
    assert sum(v is not None for v in readable.values()) > 900   # not all NULL


def odd_ms() -> list[int]:
    """Epoch ms at the edges (int64's ends, years 1 and 10000, PostgreSQL's timestamp range,
    leap days), then seeded ones across all of int64 and across ±3000 years."""
    day = 86_400_000
    year_one, year_10000 = -62_135_596_800_000, 253_402_300_800_000
    edges = [0, -1, 1, 999, -999, -1000, -1001, 2 ** 63 - 1, -(2 ** 63), 2 ** 63 - 1000,
             -(2 ** 63) + 999, year_one, year_one - 1, year_one - 366 * day - 1, year_10000,
             year_10000 - 1, -210_866_803_200_000, -210_866_803_200_001,   # 4713 BC, 4714 BC
             9_224_318_016_000_000, 9_224_318_016_000_000 - 1,           # 294277 AD
             951_782_400_000, 4_107_456_000_000, -2_203_891_200_000]       # 2000/2100/1900-02-29
    rng = random.Random(20261204)
    edges += [rng.randrange(-(2 ** 63), 2 ** 63) for _ in range(1500)]
    edges += [rng.randrange(-95_000_000_000_000, 95_000_000_000_000) for _ in range(1500)]
    return edges


def test_iso_from_ms_sql_is_iso_from_ms_for_any_bigint(conn: PgConnection) -> None:
    """Before: a time past PostgreSQL's timestamp range failed every reader ("interval out
    of range"), and BC years were written unsigned."""
    from setright.db.postgres_store import iso_from_ms_sql
    from setright.timeutil import iso_from_ms

    values = odd_ms()
    conn.execute("CREATE TABLE ms (n int, ms bigint)")
    conn.executemany("INSERT INTO ms VALUES (?, ?)", [*enumerate(values), (len(values), None)])
    got = conn.execute(f"SELECT {iso_from_ms_sql('ms')} FROM ms ORDER BY n").fetchall()
    differ = [(v, row[0]) for v, row in zip(values, got) if row[0] != iso_from_ms(v)]
    assert differ == [] and got[-1] == (None,)
    assert got[values.index(-(2 ** 63))] == ("-292275055-05-16T16:47:04.192Z",)


def test_numbers_are_cut_towards_zero_and_none_raises(conn: PgConnection,
                                                     impl: PostgresImpl) -> None:
    """A numeric or float `created_at` is read as SQLite reads a REAL (`ms_from_any`): cut
    towards zero, NULL outside bigint. Before: `::bigint` rounded, and failed every reader
    for a value outside bigint, NaN or infinity."""
    from setright.timeutil import ms_from_any

    big = 2 ** 63
    exact = ["1767261600000.5", "-1.5", "-0.5", "0.9", "12345678901234567.9", str(big - 1),
             str(big - 1) + ".9", str(big), str(-big), str(-big) + ".9", str(-big - 1), "1e30",
             "-1e30", "NaN", "Infinity", "-Infinity", None]
    floats = [1767261600000.5, -1.5, -0.5, 0.99, 1e18, 9.2e18, float(big), -float(big),
              -9.3e18, 1e300, float("nan"), float("inf"), float("-inf"), None]
    singles = [-1.5, 0.5, 2.0 ** 62, float(big), -float(big), float("inf"), None]   # exact in real
    conn.execute("CREATE TABLE nums (n int, created_at numeric)")
    conn.execute("CREATE TABLE floats (n int, created_at double precision)")
    conn.execute("CREATE TABLE reals (n int, created_at real)")
    conn.executemany("INSERT INTO nums VALUES (?, ?::numeric)", list(enumerate(exact)))
    conn.executemany("INSERT INTO floats VALUES (?, ?)", list(enumerate(floats)))
    conn.executemany("INSERT INTO reals VALUES (?, ?)", list(enumerate(singles)))
    read = {table: [row[0] for row in conn.execute(
                f"SELECT {impl.audit_ms_sql(conn, table, 'created_at')} FROM {table} ORDER BY n")]
            for table in ("nums", "floats", "reals")}
    cut = [None if v is None or v in ("NaN", "Infinity", "-Infinity")
           or not -big <= int(Decimal(v)) < big else int(Decimal(v)) for v in exact]
    assert read["nums"] == cut
    assert read["nums"][:4] == [1_767_261_600_000, -1, 0, 0]
    assert read["floats"] == [ms_from_any(v) for v in floats]
    assert read["reals"] == [ms_from_any(v) for v in singles]


def test_created_at_step_follows_the_column_precision(conn: PgConnection,
                                                      impl: PostgresImpl) -> None:
    conn.execute(flamingock_audit_ddl("flamingockAuditLog"))
    conn.execute("CREATE TABLE secs (created_at timestamp(0))")
    conn.execute("CREATE TABLE cents (created_at timestamptz(2))")
    conn.execute("CREATE TABLE ints (created_at bigint)")
    steps = {t: impl.created_at_step_ms(conn, t)
             for t in ("flamingockAuditLog", "secs", "cents", "ints", "absent")}
    assert steps == {"flamingockAuditLog": 1, "secs": 1000, "cents": 10, "ints": 1, "absent": 1}


def test_now_is_the_server_clock(conn: PgConnection, impl: PostgresImpl) -> None:
    before = conn.execute(
        "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint").fetchone()[0]
    first, second = impl.now_ms(conn), impl.now_ms(conn)
    assert isinstance(first, int) and before <= first <= second < before + 60_000


# -- schema snapshots -------------------------------------------------------------------------


SCHEMA = """
CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    email text NOT NULL UNIQUE, age int DEFAULT 0 CHECK (age >= 0));
CREATE TABLE orders (id serial PRIMARY KEY, user_id bigint REFERENCES users (id),
                     total numeric(10, 2));
CREATE INDEX orders_user_idx ON orders (user_id) WHERE total > 0;
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE setright_markers (apply_id text);
CREATE TRIGGER setright_hidden BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
"""


def test_schema_snapshot_and_what_a_drop_index_or_add_column_changes(
        conn: PgConnection, impl: PostgresImpl) -> None:
    for statement in impl.split_statements(SCHEMA):
        conn.execute(statement)
    before = impl.schema_snapshot(conn)
    assert sorted(before) == ["tables", "triggers", "views"]
    assert sorted(before["tables"]) == ["orders", "users"]
    users, orders = before["tables"]["users"], before["tables"]["orders"]
    assert users["columns"]["id"] == {"type": "bigint", "nullable": False, "primary_key": True,
                                      "default": "GENERATED BY DEFAULT AS IDENTITY"}
    assert users["columns"]["age"] == {"type": "integer", "nullable": True, "primary_key": False,
                                       "default": "0"}
    assert users["has_check"] and not orders["has_check"]
    assert {c["type"] for c in users["constraints"].values()} == {"PRIMARY KEY", "UNIQUE", "CHECK"}
    assert orders["foreign_keys"] == ["FOREIGN KEY (user_id) REFERENCES users(id)"]
    assert orders["columns"]["total"]["type"] == "numeric(10,2)"
    assert orders["indexes"]["orders_user_idx"] == {"columns": ["user_id"], "unique": False,
                                                    "valid": True, "where": "total > 0::numeric"}
    assert before["views"] == {"big_orders": before["views"]["big_orders"]}
    assert "WHERE orders.total > 100::numeric" in before["views"]["big_orders"]
    assert list(before["triggers"]) == ["orders_touch"]
    assert impl.schema_snapshot(conn) == before  # deterministic

    conn.execute("DROP INDEX orders_user_idx")
    after_drop = impl.schema_snapshot(conn)
    assert set(DeepDiff(before, after_drop).affected_paths) == {
        "root['tables']['orders']['indexes']['orders_user_idx']"}
    conn.execute("ALTER TABLE users ADD COLUMN name text")
    diff = DeepDiff(after_drop, impl.schema_snapshot(conn))
    assert diff == {"dictionary_item_added": ["root['tables']['users']['columns']['name']"]}


# -- statement splitting ------------------------------------------------------------------------


SPLITS = [
    ("SELECT 1", ["SELECT 1"]),
    ("SELECT 1; SELECT 2;", ["SELECT 1;", "SELECT 2;"]),
    ("", []),
    ("  ;; -- only a comment\n /* and this */ ;", []),
    ("SELECT 'a;b'; SELECT 2", ["SELECT 'a;b';", "SELECT 2"]),
    ("SELECT 'it''s; fine'; SELECT 2", ["SELECT 'it''s; fine';", "SELECT 2"]),
    ("SELECT 'C:\\'; SELECT 2", ["SELECT 'C:\\';", "SELECT 2"]),  # standard: \ is plain
    ("SELECT E'\\';'; SELECT 2", ["SELECT E'\\';';", "SELECT 2"]),
    ("SELECT e'\\\\'; SELECT 2", ["SELECT e'\\\\';", "SELECT 2"]),
    ("SELECT E'a''b;'; SELECT 2", ["SELECT E'a''b;';", "SELECT 2"]),
    ("SELECT U&'d\\0061t;a'; SELECT 2", ["SELECT U&'d\\0061t;a';", "SELECT 2"]),
    ('SELECT 1 AS "a;b"; SELECT 2', ['SELECT 1 AS "a;b";', "SELECT 2"]),
    ('SELECT 1 AS "a"";b"; SELECT 2', ['SELECT 1 AS "a"";b";', "SELECT 2"]),
    ("SELECT 1 -- not; the end\n; SELECT 2", ["SELECT 1 -- not; the end\n;", "SELECT 2"]),
    ("SELECT 1 /* ; */; SELECT 2", ["SELECT 1 /* ; */;", "SELECT 2"]),
    ("SELECT 1 /* a /* b */ ; still a comment */; SELECT 2",
     ["SELECT 1 /* a /* b */ ; still a comment */;", "SELECT 2"]),
    ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT 2",
     ["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;", "SELECT 2"]),
    ("CREATE FUNCTION f() RETURNS text AS $body$ BEGIN RETURN '$$;'; END; $body$"
     " LANGUAGE plpgsql; SELECT 2",
     ["CREATE FUNCTION f() RETURNS text AS $body$ BEGIN RETURN '$$;'; END; $body$"
      " LANGUAGE plpgsql;", "SELECT 2"]),
    ("DO $fn$ BEGIN EXECUTE $x$ SELECT 1; $x$; END $fn$; SELECT 2",
     ["DO $fn$ BEGIN EXECUTE $x$ SELECT 1; $x$; END $fn$;", "SELECT 2"]),
    ("DO $$ BEGIN PERFORM 1; END $$; SELECT 2", ["DO $$ BEGIN PERFORM 1; END $$;", "SELECT 2"]),
    ("SELECT $A$ x $a$ ; $A$; SELECT 2", ["SELECT $A$ x $a$ ; $A$;", "SELECT 2"]),
    ("PREPARE p AS SELECT $1; EXECUTE p(1)", ["PREPARE p AS SELECT $1;", "EXECUTE p(1)"]),
    ("CREATE TABLE t$1 (x int); SELECT $$;$$", ["CREATE TABLE t$1 (x int);", "SELECT $$;$$"]),
    ("SELECT 1; -- first\nSELECT 2; -- second", ["SELECT 1; -- first", "SELECT 2; -- second"]),
    ("CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;"
     " SELECT 3",
     ["CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
      "SELECT 3"]),
    ("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC"
     " INSERT INTO t VALUES (CASE WHEN true THEN 1 END); END; SELECT 3",
     ["CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC"
      " INSERT INTO t VALUES (CASE WHEN true THEN 1 END); END;", "SELECT 3"]),
    ("BEGIN; SELECT 1; COMMIT;", ["BEGIN;", "SELECT 1;", "COMMIT;"]),
    ("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b"
     " VALUES (2)); SELECT 2",
     ["CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b"
      " VALUES (2));", "SELECT 2"]),
    ("SELECT 'abc; SELECT 2", ["SELECT 'abc; SELECT 2"]),  # unterminated: runs to the end
    ("SELECT 1; /* open ; ", ["SELECT 1;"]),
    ("SELECT 1;\r\nSELECT 2;\r\n", ["SELECT 1;", "SELECT 2;"]),
    ("SELECT 1 AS ñ; SELECT 'é;'", ["SELECT 1 AS ñ;", "SELECT 'é;'"]),
]


@pytest.mark.parametrize("script, expected", SPLITS)
def test_split_statements(script: str, expected: list[str]) -> None:
    assert split_statements(script) == expected
    assert PostgresImpl().split_statements(script) == expected


def test_split_statements_run_on_the_server(conn: PgConnection) -> None:
    script = """
        CREATE TABLE log (line text);  -- a table; with a comment
        CREATE FUNCTION add_line(x text) RETURNS text LANGUAGE plpgsql AS $body$
        BEGIN
          INSERT INTO log VALUES ($$from $$ || x || ';');  /* nested /* ; */ comment */
          RETURN E'ok\\';';
        END;
        $body$;
        SELECT add_line('a');
        CREATE FUNCTION two() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
        INSERT INTO log VALUES ('two=' || two()::text);
    """
    statements = split_statements(script)
    assert len(statements) == 5
    for statement in statements:
        conn.execute(statement)
    assert conn.execute("SELECT line FROM log").fetchall() == [("from a;",), ("two=2",)]
    assert conn.execute("SELECT add_line('b')").fetchone() == ("ok';",)


@pytest.mark.parametrize("statement, keyword", [
    ("select 1", "SELECT"), ("  /* c */ -- d\n begin;", "BEGIN"), ("(SELECT 1)", "SELECT"),
    ("'text'", ""), ("", ""), ("-- only", ""), ('"Quoted" x', ""),
])
def test_first_keyword(statement: str, keyword: str) -> None:
    assert first_keyword(statement) == keyword


@pytest.mark.parametrize("statement, autocommit", [
    ("CREATE INDEX CONCURRENTLY i ON t (x)", True),
    ("create unique index concurrently if not exists i on t (x)", True),
    ("/* c */ CREATE INDEX CONCURRENTLY i ON t (x)", True),
    ("DROP INDEX CONCURRENTLY IF EXISTS i", True),
    ("VACUUM", True), ("vacuum (verbose, analyze) t", True),
    ("CREATE DATABASE d", True), ("DROP DATABASE IF EXISTS d", True),
    ("DROP TABLESPACE ts", True), ("ALTER SYSTEM SET work_mem = '8MB'", True),
    ("REINDEX INDEX CONCURRENTLY i", True), ("REINDEX (VERBOSE) TABLE CONCURRENTLY t", True),
    ("REINDEX DATABASE d", True), ("REINDEX SCHEMA s", True), ("CLUSTER", True),
    ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", True), ("DISCARD ALL", True),
    ("ALTER DATABASE d SET TABLESPACE ts", True), ("DROP SUBSCRIPTION s", True),
    ("CREATE INDEX i ON t (x)", False), ("CREATE INDEX concurrently_idx ON t (x)", False),
    ('CREATE INDEX "concurrently" ON t (x)', False), ("SELECT 'VACUUM'", False),
    ("-- VACUUM\nSELECT 1", False), ("CLUSTER t USING i", False), ("REINDEX TABLE t", False),
    ("ANALYZE t", False), ("REFRESH MATERIALIZED VIEW CONCURRENTLY v", False),
    ("DO $$ BEGIN EXECUTE 'VACUUM'; END $$", False), ("ALTER TABLE t ADD COLUMN y int", False),
    ("", False),
])
def test_needs_autocommit(statement: str, autocommit: bool) -> None:
    assert needs_autocommit(statement) is autocommit
    assert PostgresImpl().needs_autocommit(statement) is autocommit


@pytest.mark.parametrize("statement, autocommit", [
    ("CREATE INDEX CONCURRENTLY i2 ON t (x)", True), ("DROP INDEX CONCURRENTLY i", True),
    ("VACUUM t", True), ("REINDEX INDEX CONCURRENTLY i", True), ("CLUSTER", True),
    ("CREATE INDEX i2 ON t (x)", False), ("CLUSTER t USING i", False), ("ANALYZE t", False),
])
def test_needs_autocommit_agrees_with_the_server(conn: PgConnection, statement: str,
                                                 autocommit: bool) -> None:
    conn.execute("CREATE TABLE t (x int)")
    conn.execute("CREATE INDEX i ON t (x)")
    conn.execute("BEGIN")
    try:
        conn.execute(statement)
        refused = False
    except Exception as exc:
        assert type(exc).__name__ == "ActiveSqlTransaction", exc
        refused = True
    conn.execute("ROLLBACK")
    assert refused is autocommit is needs_autocommit(statement)


# -- the target face ------------------------------------------------------------------------------


@pytest.fixture
def open_target(url: str) -> Iterator[Callable[..., PostgresTarget]]:
    opened: list[PostgresTarget] = []

    def open_(**kwargs: Any) -> PostgresTarget:
        target = PostgresTarget.open("db", parse_url(url, ROOT, {}), **kwargs)
        opened.append(target)
        return target

    yield open_
    for target in opened:
        target.close()


@pytest.fixture
def target(open_target: Callable[..., PostgresTarget]) -> PostgresTarget:
    target = open_target()
    target.claim("L1", "runner@host:1", AT)
    return target


def exists(target: PostgresTarget, table: str) -> bool:
    return target.impl.table_exists(target.conn, table)


def test_a_target_names_its_server_and_prepares_its_tables(
        open_target: Callable[..., PostgresTarget], url: str) -> None:
    reader = open_target(read_only=True)
    assert reader.location == parse_url(url, ROOT, {}).where
    assert reader.markers("A1", "c1") == set()  # fresh and read-only: nothing created
    assert not exists(reader, "setright_markers")
    writer = open_target()
    open_target()  # a second runner preparing the same target
    assert exists(writer, "setright_markers") and exists(writer, "setright_runner_fence")
    with pytest.raises(TargetError, match=r"^target db: cannot connect to PostgreSQL at "):
        PostgresTarget.open("db", parse_url(with_database(url, "setright_gone"), ROOT, {}))


def test_a_marker_commits_with_its_statements_or_not_at_all(target: PostgresTarget) -> None:
    with pytest.raises(StatementFailed) as caught:
        with target.transaction("L1") as tx:
            tx.execute("CREATE TABLE t1 (x int); INSERT INTO t1 VALUES (1)")
            tx.add_marker("A1", "c1", 1, AT)
            tx.execute("INSERT INTO missing VALUES (1)")
    assert caught.value.message == 'UndefinedTable: relation "missing" does not exist'
    assert not exists(target, "t1")  # transactional DDL: the table went with the rollback
    assert target.markers("A1", "c1") == set()
    with target.transaction("L1") as tx:
        tx.execute("CREATE TABLE t1 (x int); INSERT INTO t1 VALUES (1)")
        tx.add_marker("A1", "c1", 1, AT)
        tx.execute("INSERT INTO t1 VALUES (2)")
        tx.add_marker("A1", "c1", 2, AT)
    assert target.markers("A1", "c1") == {1, 2}
    assert target.conn.execute("SELECT count(*) FROM t1").fetchone() == (2,)
    with pytest.raises(StatementFailed, match="already exists: the operation committed before"):
        with target.transaction("L1") as tx:
            tx.execute("INSERT INTO t1 VALUES (3)")
            tx.add_marker("A1", "c1", 2, AT)
    assert target.conn.execute("SELECT count(*) FROM t1").fetchone() == (2,)
    with target.transaction("L1") as tx:
        assert tx.delete_markers("A1", "c1") == 2
    assert target.markers("A1", "c1") == set() and not target.conn.in_transaction


def test_a_change_may_not_end_the_runners_transaction(target: PostgresTarget) -> None:
    with pytest.raises(StatementFailed, match="ended the runner's transaction"):
        with target.transaction("L1") as tx:
            tx.execute("CREATE TABLE t2 (x int); COMMIT")
    assert not target.conn.in_transaction


def test_the_fence_refuses_a_stale_lock_id(target: PostgresTarget,
                                           open_target: Callable[..., PostgresTarget]) -> None:
    other = open_target()
    other.claim("L2", "runner@host:2", AT)
    with pytest.raises(LeaseLost, match="claimed by another runner"):
        with target.transaction("L1") as tx:
            tx.execute("CREATE TABLE never (x int)")  # pragma: no cover - never reached
    assert not exists(target, "never")
    with pytest.raises(LeaseLost):
        target.execute_autocommit("VACUUM", lock_id="L1")
    with other.transaction("L2") as tx:
        tx.execute("CREATE TABLE mine (x int)")
    assert exists(other, "mine")


def test_a_claim_waits_for_the_open_transaction_of_the_runner_it_replaces(
        target: PostgresTarget, open_target: Callable[..., PostgresTarget]) -> None:
    other = open_target()
    with target.transaction("L1") as tx:
        thread, result = in_thread(lambda: other.claim("L2", "runner@host:2", AT))
        wait_until_blocked(open_target().conn, other.conn)
        tx.execute("CREATE TABLE last_words (x int)")
    thread.join(10)
    assert "error" not in result and exists(target, "last_words")
    with pytest.raises(LeaseLost):
        with target.transaction("L1"):
            pass  # pragma: no cover


def test_a_session_lock_excludes_a_second_runner(
        target: PostgresTarget, open_target: Callable[..., PostgresTarget]) -> None:
    other = open_target()
    target.session_lock("apply")
    with pytest.raises(TargetError,
                       match="another runner holds the session lock 'apply'") as caught:
        other.session_lock("apply")
    assert caught.value.details == [f"held by PostgreSQL backend {target.conn.backend_pid}"]
    other.session_lock("something else")
    target.session_unlock("apply")
    other.session_lock("apply")
    other.close()  # the session ends (its backend exits a moment later) and its locks with it
    deadline = time.monotonic() + 5
    while True:
        try:
            target.session_lock("apply")
            break
        except TargetError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_concurrent_index_builds_run_outside_a_transaction_and_are_checked(
        target: PostgresTarget) -> None:
    with target.transaction("L1") as tx:
        tx.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (1), (2)")
    with pytest.raises(StatementFailed, match="^ActiveSqlTransaction: CREATE INDEX CONCURRENTLY"):
        with target.transaction("L1") as tx:
            tx.execute("CREATE INDEX CONCURRENTLY t_x ON t (x)")
    assert target.index_is_valid("t_x") is None
    target.execute_autocommit("CREATE INDEX CONCURRENTLY t_x ON t (x)", lock_id="L1")
    with target.transaction("L1") as tx:
        tx.add_marker("A1", "c1", 1, AT)
    assert target.index_is_valid("t_x") is True and target.markers("A1", "c1") == {1}
    with pytest.raises(StatementFailed, match="^UniqueViolation: could not create unique index"):
        target.execute_autocommit("CREATE UNIQUE INDEX CONCURRENTLY t_ux ON t (x)")
    assert target.index_is_valid("T_UX") is False  # left behind, and not the index asked for
    snapshot = target.impl.schema_snapshot(target.conn)
    assert snapshot["tables"]["t"]["indexes"]["t_ux"]["valid"] is False
    with target.transaction("L1"):
        with pytest.raises(StatementFailed, match="one is open"):
            target.execute_autocommit("VACUUM t")


def test_interrupt_cancels_the_running_statement(target: PostgresTarget,
                                                 open_target: Callable[..., PostgresTarget]
                                                 ) -> None:
    def slow() -> None:
        with target.transaction("L1") as tx:
            tx.execute("CREATE TABLE doomed (x int); SELECT pg_sleep(30)")

    started = time.monotonic()
    thread, result = in_thread(slow)
    observer = open_target().conn
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and observer.execute(
            "SELECT wait_event FROM pg_stat_activity WHERE pid = ?",
            (target.conn.backend_pid,)).fetchone() != ("PgSleep",):
        time.sleep(0.01)
    target.interrupt()
    thread.join(10)
    assert time.monotonic() - started < 5
    assert isinstance(result["error"], StatementFailed)
    assert result["error"].message.startswith("QueryCanceled: canceling statement")
    assert not exists(target, "doomed") and not target.conn.in_transaction
