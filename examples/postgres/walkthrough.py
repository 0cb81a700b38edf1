"""The team set-up, end to end on a real PostgreSQL server.

Creates two roles (a writer, and a reader that can only SELECT) and three databases (the
audit store and the `billing` and `search` targets), copies this example to a temporary
folder and drives the story with the real `setright` CLI:

  1. `run` as the writer: a unique index fails on a duplicate invoice number and
     PostgreSQL rolls the whole change back; a CREATE INDEX CONCURRENTLY change runs
     outside a transaction;
  2. `issue list` as the reader, as a pull-request job would;
  3. the duplicate is removed by hand, `issue get` explains the issue and writes the
     decision as a resolution file;
  4. the plan as the pull-request comment, made by the reader, which cannot apply;
  5. the writer applies the reviewed plan and runs again: everything completes.

It refuses to start when any of the roles or databases exists already, and drops them
all at the end (unless --keep).

Usage: python examples/postgres/walkthrough.py [--admin URL] [--prefix P] [--keep DIR]
Needs the `setright[postgres]` extra (psycopg 3).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tour import Tour, fill_reason, markdown, replace_section, section  # noqa: E402

HERE = Path(__file__).resolve().parent
GENERATED_BY = "examples/postgres/walkthrough.py --readme examples/postgres/README.md"
DEFAULT_ADMIN = "postgresql://postgres@localhost/postgres"
DATABASES = ("setright_audit", "billing", "search")


class Walkthrough(Tour):
    def __init__(self, root: Path, admin_url: str, prefix: str) -> None:
        import psycopg

        parts = urlsplit(admin_url)
        self.psycopg = psycopg
        self.admin_url = admin_url
        self.prefix = prefix
        self.host = f"{parts.hostname}:{parts.port or 5432}"
        self.writer, self.reader = f"{prefix}setright_writer", f"{prefix}setright_reader"
        self.databases = {name: prefix + name for name in DATABASES}
        self.created: list[tuple[str, str]] = []  # ("DATABASE" | "ROLE", name): what drop() drops
        super().__init__(root, env={"SETRIGHT_DB_HOST": self.host,
                                    "SETRIGHT_DB_USER": self.writer})

    def connect(self, database: str | None = None):  # type: ignore[no-untyped-def]
        url = self.admin_url
        if database is not None:
            url = urlunsplit(urlsplit(url)._replace(path="/" + self.databases[database]))
        return self.psycopg.connect(url, autocommit=True, connect_timeout=10)

    def psql(self, database: str, statement: str) -> None:
        """What an operator types into psql, run as the admin role."""
        with self.connect(None if database == "postgres" else database) as conn:
            conn.execute(statement)
        self.shell(f'psql -d {self.databases.get(database, database)} -c "{statement}"')

    def as_reader(self) -> dict[str, str]:
        return {"SETRIGHT_DB_USER": self.reader}

    def create(self) -> None:
        with self.connect() as conn:
            for role in (self.writer, self.reader):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    raise SystemExit(f"walkthrough: role {role} exists already; "
                                     "use --prefix to pick other names")
            for name in self.databases.values():
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchone():
                    raise SystemExit(f"walkthrough: database {name} exists already; "
                                     "use --prefix to pick other names")
        self.psql("postgres", f"CREATE ROLE {self.writer} LOGIN; CREATE ROLE {self.reader} LOGIN")
        self.created += [("ROLE", self.writer), ("ROLE", self.reader)]
        for name in DATABASES:
            self.psql("postgres", f"CREATE DATABASE {self.databases[name]} OWNER {self.writer}")
            self.created.insert(0, ("DATABASE", self.databases[name]))
            # Whatever the writer creates later, the reader may read (and nothing more).
            self.psql(name, f"ALTER DEFAULT PRIVILEGES FOR ROLE {self.writer} "
                            f"GRANT SELECT ON TABLES TO {self.reader}")

    def drop(self) -> None:
        """Drop what this run created (databases first: they belong to the writer)."""
        with self.connect() as conn:
            for kind, name in self.created:
                force = " WITH (FORCE)" if kind == "DATABASE" else ""
                conn.execute(f"DROP {kind} IF EXISTS {name}{force}")
        self.created.clear()


def story(w: Walkthrough) -> None:
    w.say("1. Create the roles and databases (once, as an administrator)")
    w.create()
    w.shell(f"export SETRIGHT_DB_HOST={w.host} SETRIGHT_DB_USER={w.writer}")

    w.say("2. The writer runs the changes: one fails and PostgreSQL rolls it back whole")
    w.note("the first writer creates setright's tables in the audit database")
    w.setright("run", expect=1)
    w.setright("status")

    w.say("3. A pull-request job (the reader) sees what needs a human")
    w.setright("issue", "list", "--exit-code", env=w.as_reader(), expect=3)

    w.say("4. Remove the duplicate by hand and write the decision down")
    w.psql("billing", "DELETE FROM invoices WHERE id = 3")
    w.setright("issue", "get", "-c", "invoices-number-unique", "--write")
    [path] = sorted((w.root / "resolutions").glob("*invoices-number-unique*.yaml"))
    fill_reason(path, "Deleted invoice 3, the duplicate of INV-1002, in billing",
                ticket="OPS-5120")
    print(path.read_text(encoding="utf-8"))
    w.show_file(f"resolutions/{path.name}")
    w.setright("validate")
    w.git("add", "-A")
    w.git("commit", "-qm", "Resolve OPS-5120")

    w.say("5. The plan for the pull request, made with the read-only role")
    w.setright("plan", "--format", "markdown", "--detailed-exitcode", env=w.as_reader(),
               expect=2)
    w.setright("apply", "--auto-approve", env=w.as_reader(), expect=1)
    w.note("the reader's role can plan but not apply: nothing was written")

    w.say("6. After the merge, the writer applies the reviewed plan and runs again")
    w.setright("plan", "-o", "plan.json")
    w.setright("apply", "plan.json")
    w.setright("run")
    w.setright("issue", "list", "--exit-code", env=w.as_reader())


def check(w: Walkthrough) -> None:
    """The story's end state, asserted from the databases themselves."""
    with w.connect("setright_audit") as conn:
        states = dict(conn.execute(
            "SELECT DISTINCT ON (target) target, state FROM setright_applies "
            "ORDER BY target, started_at DESC").fetchall())
        assert states == {"billing": "completed", "search": "completed"}, states
        [(ledger,)] = conn.execute("SELECT count(*) FROM setright_ledger").fetchall()
        assert ledger == 1, ledger
    with w.connect("billing") as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM pg_indexes "
                                  "WHERE indexname = 'invoices_number'").fetchall()
        assert count == 1
    with w.connect("search") as conn:
        [(valid,)] = conn.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c "
                                  "ON c.oid = i.indexrelid WHERE c.relname = 'documents_title'"
                                  ).fetchall()
        assert valid is True


def copy_project(root: Path, prefix: str) -> None:
    shutil.copytree(HERE, root, ignore=shutil.ignore_patterns(
        "walkthrough.py", "README.md", "__pycache__", "plan.json"))
    if prefix:  # the databases this run created, under their prefixed names
        config = root / "setright.yaml"
        text = re.sub(r'/(%s)"' % "|".join(DATABASES), rf'/{prefix}\1"',
                      config.read_text(encoding="utf-8"))
        config.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin", default=os.environ.get("SETRIGHT_ADMIN_URL", DEFAULT_ADMIN),
                        help="a superuser's URL (default: $SETRIGHT_ADMIN_URL or %(default)s)")
    parser.add_argument("--prefix", default="", help="prefix for the role and database names")
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    parser.add_argument("--transcript", type=Path, help="write the walk-through (Markdown)")
    parser.add_argument("--readme", type=Path, help="replace the walk-through of this README")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="setright-postgres-") as tmp:
        root = args.keep or Path(tmp) / "postgres"
        if root.exists():
            raise SystemExit(f"walkthrough: {root} already exists")
        copy_project(root, args.prefix)
        w = Walkthrough(root, args.admin, args.prefix)
        w.git("init", "-q")
        w.git("add", "-A")
        w.git("commit", "-qm", "PostgreSQL project")
        try:
            story(w)
            check(w)
        finally:
            if args.keep is None:
                w.drop()
        text = markdown(w.transcript)
        if args.transcript:
            args.transcript.write_text(text, encoding="utf-8")
        if args.readme:
            replace_section(args.readme, GENERATED_BY, text)
        print("\nWalk-through complete: both targets completed, 1 resolution in the ledger.")
    return 0


def readme_walkthrough(readme: Path) -> str:
    """The walk-through currently in the README (for the test that keeps it true)."""
    return section(readme, GENERATED_BY)


if __name__ == "__main__":
    raise SystemExit(main())
