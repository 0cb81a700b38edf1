"""Which concurrent index statements a crash can be settled for from `pg_index`."""

from __future__ import annotations

import pytest

from setright.db.postgres_lexer import concurrent_index


@pytest.mark.parametrize("statement, found", [
    ("CREATE INDEX CONCURRENTLY ix ON t (a);", ("create", "ix")),
    ("create unique index concurrently if not exists Ix on t (a)", ("create", "Ix")),
    ("/* c */ CREATE INDEX CONCURRENTLY ix -- n\n ON t (a)", ("create", "ix")),
    ("DROP INDEX CONCURRENTLY IF EXISTS ix", ("drop", "ix")),
    ("DROP INDEX CONCURRENTLY ix CASCADE", ("drop", "ix")),
    # not certain which index: never settled from the catalog
    ("DROP INDEX CONCURRENTLY a, b", None),
    ("CREATE INDEX CONCURRENTLY ON t (a)", None),
    ('CREATE INDEX CONCURRENTLY "Ix" ON t (a)', None),
    ("DROP INDEX CONCURRENTLY s.ix", None),
    ("CREATE INDEX ix ON t (a)", None),
    ("VACUUM t", None),
])
def test_concurrent_index(statement: str, found: tuple[str, str] | None) -> None:
    assert concurrent_index(statement) == found
