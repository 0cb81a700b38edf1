"""Database URLs: every dialect's spelling, `${VAR}` substitution, and passwords never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from setright.db import mask_password, parse_url
from setright.errors import ConfigError

ROOT = Path("/project")


def test_sqlite_relative_and_absolute() -> None:
    assert parse_url("sqlite:///.setright/audit.db", ROOT).path == ROOT / ".setright/audit.db"
    assert parse_url("sqlite:////var/db/a.db", ROOT).path == Path("/var/db/a.db")
    assert parse_url("sqlite:///data/x.db?mode=rw", ROOT).path == ROOT / "data/x.db"


@pytest.mark.parametrize("text, dialect, port", [
    ("postgresql://app@db.internal/audit", "postgresql", 5432),
    ("postgres://app@db.internal:6432/audit", "postgresql", 6432),
    ("mysql://root@127.0.0.1/test", "mysql", 3306),
    ("mariadb://root@127.0.0.1:3307/test", "mysql", 3307),
])
def test_server_urls(text: str, dialect: str, port: int) -> None:
    url = parse_url(text, ROOT, {})
    assert (url.dialect, url.port, url.host in ("db.internal", "127.0.0.1")) == (dialect, port, True)
    assert url.database in ("audit", "test")


def test_query_parameters_are_passed_on() -> None:
    url = parse_url("postgresql://u@h/db?sslmode=require&connect_timeout=3", ROOT, {})
    assert url.params() == {"sslmode": "require"}
    assert url.connect_timeout == 3.0
    assert parse_url("postgresql://u@h/db", ROOT, {}).connect_timeout == 10.0


def test_mysql_parameters_reach_the_driver_typed() -> None:
    url = parse_url("mysql://u@h/db?read_timeout=2.5&ssl_verify_cert=No&ssl_ca=/ca.pem"
                    "&ssl_verify_identity=TRUE&connect_timeout=4", ROOT, {})
    assert url.params() == {"read_timeout": 2.5, "ssl_verify_cert": False, "ssl_ca": "/ca.pem",
                            "ssl_verify_identity": True}
    assert url.connect_timeout == 4.0


def test_postgresql_passes_unknown_parameters_to_libpq_as_written() -> None:
    url = parse_url("postgresql://u@h/db?sslmode=verify-full&options=-c%20x%3D1", ROOT, {})
    assert url.params() == {"sslmode": "verify-full", "options": "-c x=1"}


def test_password_from_the_environment_is_encoded_and_never_shown() -> None:
    env = {"PGPASS": "p@ss:w/rd#1", "PGUSER": "ops team"}
    url = parse_url("postgresql://${PGUSER}:${PGPASS}@h:5432/db", ROOT, env)
    assert (url.user, url.password) == ("ops team", "p@ss:w/rd#1")
    assert "p@ss" not in url.shown and "p@ss" not in repr(url)
    assert url.shown == "postgresql://${PGUSER}:***@h:5432/db"


@pytest.mark.parametrize("text", ["mysql://bob:p@ss:/w %#?x@h:3307/db",
                                  "postgresql://u:p/a?ss@h/db?x=1", "postgresql://u:a/b@h/db"])
def test_a_password_with_a_raw_slash_is_refused_masked(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_url(text, ROOT)
    assert err.value.message.endswith(": its user or password holds a '/' or '?' that is not"
                                      " percent-encoded, so it cannot be told from the host")
    assert ":***@h" in err.value.message
    assert not any(part in err.value.message for part in ("p@ss", "/w", "a?ss", "a/b"))


def test_literal_password_is_masked() -> None:
    url = parse_url("mysql://root:hunter2@h/db", ROOT, {})
    assert url.password == "hunter2"
    assert url.shown == "mysql://root:***@h/db"
    assert "hunter2" not in url.where
    assert mask_password("sqlite:///a.db") == "sqlite:///a.db"


@pytest.mark.parametrize("text, message", [
    ("postgresql://u:${NOPE}@h/db", "uses ${NOPE}, which is not set"),
    ("oracle://u@h/db", "unsupported database URL"),
    ("sqlite://relative.db", "a SQLite URL is sqlite:///relative/path.db"),
    ("sqlite:///", "names no file"),
    ("postgresql://u@/db", "names no host"),
    ("postgresql://u@h", "names no database"),
    ("postgresql://u@h:port/db", "invalid database URL"),
    ("postgresql://u@h/db?connect_timeout=soon", "connect_timeout must be"),
    ("postgresql://u@h/db?connect_timeout=nan", "connect_timeout must be a positive number"),
    ("postgresql://u@h/db?connect_timeout=inf", "connect_timeout must be a positive number"),
    ("mysql://u@h/db?connect_timeout=1e400", "connect_timeout must be a positive number"),
    ("mysql://u@h/db?read_timeout=-1", "read_timeout must be a positive number of seconds"),
    ("mysql://u@h/db?write_timeout=", "write_timeout must be a positive number of seconds"),
    ("mysql://u@h/db?ssl_verify_cert=maybe", "ssl_verify_cert must be true or false"),
    ("mysql://u@h/db?charset=latin1", "unknown parameter 'charset' for MySQL (it takes "
                                      "connect_timeout, read_timeout, ssl_ca,"),
    ("/just/a/path.db", "unsupported database URL"),
])
def test_bad_urls_name_themselves(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_url(text, ROOT, {})
    assert message in caught.value.message


@pytest.mark.parametrize("text, shown", [
    ("postgresql://u@h/db?password=hunter2&sslmode=require",
     "postgresql://u@h/db?password=***&sslmode=require"),
    ("postgresql://u@h/db?SSLPassword=x", "postgresql://u@h/db?SSLPassword=***"),
    (f"postgresql://u@h/db?options={'ghp_' + 'x' * 36}", "postgresql://u@h/db?options=***"),
    (f"mysql://u@h/db?{'glpat-' + 'y' * 20}=1&ssl_ca=/ca.pem", "mysql://u@h/db?***&ssl_ca=/ca.pem"),
    ("mysql://ghp_0123456789abcdefGHIJ@h/db", "mysql://***@h/db"),
    ("mysql://ghp_0123456789abcdefGHIJ:pw@h/db", "mysql://***:***@h/db"),
    ("postgresql://u:pa?ss@h/db", "postgresql://u:***@h/db"),
    # a password written raw with `@`, `/` or `?` is masked whole, as the parser reads it
    ("postgresql://bob:hunter2@secret@h:5433/db", "postgresql://bob:***@h:5433/db"),
    ("mysql://bob:p@ss:/w %#?x@h:3307/db", "mysql://bob:***@h:3307/db"),
    ("mysql://u:p/a?ss@h/db?x=1", "mysql://u:***@h/db?x=1"),
    # an `@` in a query value is not a password's end
    ("postgresql://u:pw@h/db?options=a@b", "postgresql://u:***@h/db?options=a@b"),
    ("postgresql://u@h/db?application_name=me@ci", "postgresql://u@h/db?application_name=me@ci"),
    ("postgresql://h/db?application_name=me@ci", "postgresql://h/db?application_name=me@ci"),
    ("sqlite:///a.db?password=x", "sqlite:///a.db?password=***"),
    ("postgresql://app@h/db?sslmode=require", "postgresql://app@h/db?sslmode=require"),
])
def test_credentials_in_the_query_and_user_are_masked(text: str, shown: str) -> None:
    assert mask_password(text) == shown


def test_error_for_a_bad_url_never_carries_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url("postgresql://u:s3cret@h:99999/db", ROOT, {})
    assert "s3cret" not in caught.value.message
