"""What `issue list` shows, for every open issue at once.

`diagnose` (store/diagnosis.py) explains one change with several queries; a list
of 10,000 issues cannot afford that. Here the columns of the facts' query
(store/issues.py) are read with those the list shows, and two set-based queries
read every unsettled change's latest task and operation counts; the values are
those `diagnose` computes for the same fields (tests/issues keeps the two
equal). The running changes come out of the same read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from itertools import compress
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from setright.db import Connection
from setright.store.issue_fields import (
    APPLY_SUMMARIES,
    MarkerReader,
    error_column,
    partial_state_possible,
    settled_by_markers,
)
from setright.store.issues import (
    FLAMINGOCK_LOCK_TABLE,
    JOINED_EXIST,
    JOINED_FACTS,
    NOT_JOINED,
    OWN_FACTS,
    RULES,
    Verdict,
    classify,
    facts_at,
    facts_rows,
    facts_source,
    unsettled_filter,
)
from setright.store.states import TRANSACTIONAL_STRATEGIES, TaskState

if TYPE_CHECKING:
    from setright.store.diagnosis import Diagnosis


class IssueSummary(NamedTuple):
    """One row of `issue list`: what the table and its JSON show, and nothing more (a tuple:
    the list makes one per issue, and reads them back column by column)."""

    change_id: str
    state: str
    reason: str
    target: str | None
    created_at: str | None
    error_summary: str | None
    tx_strategy: str | None
    recovery_strategy: str | None
    apply_id: str | None
    task_attempt: int | None
    operations_completed: int | None
    operations_total: int | None
    partial_state_possible: bool


_summary_of = partial(tuple.__new__, IssueSummary)


class IssueTable(Sequence[IssueSummary]):
    """The open issues in Flamingock's order: `IssueSummary` rows, or their columns (by
    field), as they were made; either is made from the other on demand. The JSON of
    10,000 issues is written from columns, and needs no row object."""

    __slots__ = ("_rows", "_columns")

    def __init__(self, *, rows: list[IssueSummary] | None = None,
                 columns: dict[str, Sequence[Any]] | None = None) -> None:
        self._rows = rows if rows is not None or columns is not None else []
        self._columns = columns

    @property
    def rows(self) -> list[IssueSummary]:
        if self._rows is None:
            assert self._columns is not None
            self._rows = list(map(_summary_of, zip(
                *(self._columns[name] for name in IssueSummary._fields))))
        return self._rows

    @property
    def columns(self) -> dict[str, Sequence[Any]]:
        if self._columns is None:
            transposed = list(zip(*self.rows)) or [()] * len(IssueSummary._fields)
            self._columns = dict(zip(IssueSummary._fields, transposed))
        return self._columns

    def __len__(self) -> int:
        return len(self._rows if self._rows is not None else self.columns["change_id"])

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __iter__(self) -> Iterator[IssueSummary]:
        return iter(self.rows)


def issue_columns(issues: Sequence[IssueSummary]) -> dict[str, Sequence[Any]]:
    """The issues' values by `IssueSummary` field."""
    return (issues if isinstance(issues, IssueTable) else IssueTable(rows=list(issues))).columns


def list_issues(conn: Connection, *, now_ms: int, markers: MarkerReader | None = None,
                lock_table: str = FLAMINGOCK_LOCK_TABLE) -> list[IssueSummary]:
    """Every open issue, in Flamingock's order, with only what `issue list` shows."""
    return _summaries(conn, now_ms, markers, lock_table)[0].rows


def issue_overview(conn: Connection, audit_table: str, *, now_ms: int, redrive_max_age: float,
                   markers: MarkerReader | None = None,
                   lock_table: str = FLAMINGOCK_LOCK_TABLE
                   ) -> tuple[IssueTable, list[Diagnosis]]:
    """`list_issues`, and the STARTED changes under a live lease or lock (listed apart from
    the issues), diagnosed: both from the list's read of the unsettled changes."""
    issues, running = _summaries(conn, now_ms, markers, lock_table)
    if not running:
        return issues, []
    from setright.store.diagnosis import diagnose   # its 40-field dataclass: only when needed

    return issues, [diagnose(conn, audit_table, v, now_ms=now_ms,
                             redrive_max_age=redrive_max_age) for v in running]


#: What the list reads of every unsettled change, in Flamingock's order: its own facts
#: (`OWN_FACTS` but the execution id, which no rule reads) and what its row shows.
_OWN = ", ".join(OWN_FACTS[:5]) + ", cs.created_at, cs.error_summary"
#: And of the few a setright apply touched (`JOINED_EXIST`): the rest of their facts (from
#: the execution id on), and their apply's id, error and target.
_JOINED = ", ".join(("cs.change_id", *OWN_FACTS[5:], *JOINED_FACTS, "ap.id", "ap.error",
                     "ap.target"))
#: `RULE_COLUMNS`' own three (state, tx strategy, recovery strategy), in a row of `_OWN`
_own_rule_key = itemgetter(1, 3, 4)
_RUNNING = next(rule for rule in RULES if rule.name == "running")
_is_issue = attrgetter("is_issue")
_name = attrgetter("name")
_new = tuple.__new__
#: change ids per query of the running changes' facts (well under any bound-parameter limit)
_CHUNK = 500


def _summaries(conn: Connection, now_ms: int, markers: MarkerReader | None,
               lock_table: str) -> tuple[IssueTable, list[Verdict]]:
    """(the open issues, the running verdicts), in Flamingock's order.

    The same values `diagnose` computes for the fields `issue list` shows, from the
    columns of the facts' query (store/issues.py) and two set-based queries over every
    unsettled change (its latest task in its apply; its operation counts) instead of
    several queries per issue. A task still `running` is settled by its target's markers,
    as `diagnose` does, one target read per such task.

    Every unsettled change's own columns are read in one query; what the joins add, only
    for the changes a setright apply touched (a change of a Flamingock runner has none).
    No facts are built for an issue: its rule is decided once per combination of the rule
    columns. The running changes, few, are read again whole for their diagnosis.
    """
    where, params = unsettled_filter()
    own = conn.execute(f"SELECT {_OWN} FROM setright_change_state cs WHERE {where}"
                       " ORDER BY cs.audit_id", params).fetchall()
    if not own:
        return IssueTable(), []
    # no apply at all (a Flamingock runner's store): no change has a joined column
    joined = {row[0]: row[1:] for row in conn.execute(
        f"SELECT {_JOINED} {facts_source(conn)} WHERE {where} AND {JOINED_EXIST}", params)
    } if conn.execute("SELECT 1 FROM setright_applies LIMIT 1").fetchone() else {}
    own_keys = list(map(_own_rule_key, own))
    facts = facts_at(conn, now_ms, lock_table)
    rules = facts.rules([key + (NOT_JOINED if (j := joined.get(row[0])) is None else j[1:7])
                         for row, key in zip(own, own_keys)]) if joined \
        else facts.unjoined_rules(own_keys)
    decided = facts.decided()
    running = (_running(conn, now_ms, lock_table,
                        [row[0] for row, rule in zip(own, rules) if rule is _RUNNING])
               if any(rule is _RUNNING for rule in decided) else [])
    if all(rule.is_issue for rule in decided):   # every unsettled change is an issue
        rows, issue_rules, issue_keys = own, rules, own_keys
    else:
        flags = list(map(_is_issue, rules))
        rows = list(compress(own, flags))
        issue_rules, issue_keys = compress(rules, flags), compress(own_keys, flags)
    if not rows:
        return IssueTable(), running
    reasons = list(map(_name, issue_rules))
    if not joined and APPLY_SUMMARIES.isdisjoint(reasons):
        partial = list(map(_PartialUnapplied().__getitem__, issue_keys))
        return IssueTable(columns=_unapplied_columns(rows, reasons, partial)), running
    applied = any(j[8] is not None for j in joined.values())   # only an apply has tasks
    tasks, counts = _tasks_and_counts(conn) if applied else ({}, {})
    return IssueTable(rows=_rows(conn, rows, reasons, joined, tasks, counts, markers)), running


def _partial_unapplied(state: str, tx_strategy: str | None) -> bool:
    """`partial_state_possible` of a change no setright apply touched (no task, no counts)."""
    return partial_state_possible(state, None if tx_strategy is None
                                  else tx_strategy in TRANSACTIONAL_STRATEGIES, None)


class _PartialUnapplied(dict[tuple[Any, ...], bool]):
    """`_partial_unapplied` by a change's own rule columns (state, tx strategy, recovery)."""

    def __missing__(self, key: tuple[Any, ...]) -> bool:
        value = self[key] = _partial_unapplied(key[0], key[1])
        return value


def _unapplied_columns(rows: list[Any], reasons: list[str],
                       partial: list[bool]) -> dict[str, Sequence[Any]]:
    """The columns of issues no setright apply touched, none of whose Error column comes
    from an apply: what `_rows` makes of each (its first branch), column by column."""
    change_id, state, target, tx_strategy, recovery_strategy, created_at, stored = zip(*rows)
    nulls = (None,) * len(rows)
    return dict(zip(IssueSummary._fields, (
        change_id, state, reasons, target, created_at, stored, tx_strategy, recovery_strategy,
        nulls, nulls, nulls, nulls, partial), strict=True))


def _running(conn: Connection, now_ms: int, lock_table: str, ids: list[str]) -> list[Verdict]:
    """The verdicts of the running changes `ids` (in Flamingock's order), from their facts."""
    verdicts: list[Verdict] = []
    for start in range(0, len(ids), _CHUNK):
        verdicts += [classify(f) for f, _ in facts_rows(
            conn, now_ms, change_ids=ids[start:start + _CHUNK], unsettled_only=False,
            lock_table=lock_table)]
    return [v for v in verdicts if v.rule is _RUNNING]


def _tasks_and_counts(conn: Connection) -> tuple[dict[str, tuple[int, int | None, str | None,
                                                                  int | None]],
                                                   dict[str, tuple[int, int]]]:
    """Every unsettled change's latest task in the apply that wrote its current row, and
    that apply's (completed, total) operations of the change."""
    tasks: dict[str, tuple[int, int | None, str | None, int | None]] = {}
    where, params = unsettled_filter()
    for change_id, position, attempt, state, transactional in conn.execute(
            "SELECT t.change_id, t.position, t.attempt, t.state, t.transactional"
            " FROM setright_tasks t JOIN setright_change_state cs"
            f" ON t.apply_id = cs.execution_id AND t.change_id = cs.change_id WHERE {where}",
            params):
        if change_id not in tasks or position > tasks[change_id][0]:
            tasks[change_id] = (position, attempt, state, transactional)
    counts = {change_id: (int(completed), total)
              for change_id, total, completed in conn.execute(
        "SELECT o.change_id, count(*), sum(CASE WHEN o.state = 'completed' THEN 1 ELSE 0 END)"
        " FROM setright_operations o JOIN setright_change_state cs"
        f" ON o.apply_id = cs.execution_id AND o.change_id = cs.change_id WHERE {where}"
        " GROUP BY o.change_id", params)}
    return tasks, counts


def _rows(conn: Connection, rows: Sequence[Any], reasons: list[str], joined: dict[str, Any],
          tasks: dict[str, tuple[int, int | None, str | None, int | None]],
          counts: dict[str, tuple[int, int]], markers: MarkerReader | None
          ) -> list[IssueSummary]:
    """The issue rows: one tuple each, straight from its own columns where no apply wrote it."""
    out = []
    touched = joined.get
    for row, reason in zip(rows, reasons):
        change_id, state, target, tx_strategy, recovery_strategy, created_at, stored_summary \
            = row
        j = touched(change_id)
        if j is None:
            if reason not in APPLY_SUMMARIES:   # most of a Flamingock log
                out.append(_new(IssueSummary, (
                    change_id, state, reason, target, created_at, stored_summary, tx_strategy,
                    recovery_strategy, None, None, None, None,
                    _partial_unapplied(state, tx_strategy))))
                continue
            apply_attempt = apply_max_attempts = apply_id = apply_error = apply_target = None
        else:
            apply_attempt, apply_max_attempts = j[5], j[6]
            apply_id, apply_error, apply_target = j[8], j[9], j[10]
        task = tasks.get(change_id) if apply_id is not None else None
        completed, total = counts.get(change_id, (None, None)) if apply_id else (None, None)
        if task is not None and task[2] == TaskState.RUNNING and markers is not None:
            completed, total = _settled_counts(conn, apply_target, apply_id, change_id,
                                               markers, completed, total)
        transactional = (None if tx_strategy is None and task is None
                         else tx_strategy in TRANSACTIONAL_STRATEGIES
                         if tx_strategy is not None else bool(task and task[3]))
        if reason in APPLY_SUMMARIES:
            apply = ({"error": apply_error, "attempt": apply_attempt,
                      "max_attempts": apply_max_attempts} if apply_id is not None else {})
            stored_summary = error_column(reason, stored_summary, apply)
        out.append(_new(IssueSummary, (
            change_id, state, reason, target, created_at, stored_summary, tx_strategy,
            recovery_strategy, apply_id, task[1] if task else None, completed, total,
            partial_state_possible(state, transactional, completed))))
    return out


def _settled_counts(conn: Connection, target: str, apply_id: str, change_id: str,
                    markers: MarkerReader, completed: int | None,
                    total: int | None) -> tuple[int | None, int | None]:
    """(completed, total) of an in-flight task's operations as its markers settle them."""
    ops = conn.execute("SELECT seq, state, statement FROM setright_operations"
                       " WHERE apply_id = ? AND change_id = ? ORDER BY seq",
                       (apply_id, change_id)).fetchall()
    if not ops:
        return completed, total
    settled = settled_by_markers(ops, markers(target, apply_id, change_id))
    return sum(1 for _, state, _ in settled if state == "completed"), len(settled)
