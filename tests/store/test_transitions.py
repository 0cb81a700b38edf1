"""Guarded transitions: wrong expected state, wrong lease token, illegal moves — all refused."""

from __future__ import annotations

import pytest

from setright.errors import LeaseLost, TransitionRefused, UnknownId
from setright.store import Store
from setright.store.states import (
    APPLY_TRANSITIONS,
    ApplyState,
    OperationState,
    TaskState,
)
from setright.store.transitions import (EventBatch, Provenance, move_apply, move_operation,
                                        move_operations, move_task)
from storehelp import apply_row, op_row, state_tables, task_row

RUNNER = Provenance(actor="runner@host:1", source="runner")
AT = "2026-11-22T12:00:01.000Z"


@pytest.fixture
def seeded(store: Store) -> Store:
    with store.write() as tx:
        apply_row(tx, "ap-1", "user-db", "running", lease_token="tok-1")
        task_row(tx, "ap-1", 1, "c1", "running")
        op_row(tx, "ap-1", "c1", 1, "pending")
    return store


def events(store: Store) -> list[tuple]:
    return store.conn.execute(
        "SELECT kind, apply_id, change_id, old_state, new_state, actor FROM setright_events"
        " ORDER BY id").fetchall()


def test_guarded_moves_write_one_event_each(seeded: Store) -> None:
    with seeded.write() as tx:
        move_operation(tx, "ap-1", "c1", 1, [OperationState.PENDING], OperationState.COMPLETED,
                       RUNNER, at=AT, lease_token="tok-1", fields={"completed_at": AT})
        move_task(tx, "ap-1", 1, [TaskState.RUNNING], TaskState.COMPLETED, RUNNER, at=AT,
                  lease_token="tok-1")
        move_apply(tx, "ap-1", [ApplyState.RUNNING], ApplyState.COMPLETED, RUNNER, at=AT,
                   lease_token="tok-1", fields={"completed_at": AT})
    assert events(seeded) == [
        ("operation", "ap-1", "c1", "pending", "completed", "runner@host:1"),
        ("task", "ap-1", "c1", "running", "completed", "runner@host:1"),
        ("apply", "ap-1", None, "running", "completed", "runner@host:1"),
    ]
    assert seeded.conn.execute(
        "SELECT state, completed_at, updated_at FROM setright_applies").fetchone() == (
        "completed", AT, AT)


def all_events(store: Store) -> list[tuple]:
    return store.conn.execute("SELECT * FROM setright_events ORDER BY id").fetchall()


def moves(tx, batch: EventBatch | None) -> None:  # type: ignore[no-untyped-def]
    move_operations(tx, "ap-1", "c1", {1: OperationState.PENDING}, OperationState.COMPLETED,
                    RUNNER, at=AT, lease_token="tok-1", fields={"completed_at": AT},
                    events=batch)
    move_task(tx, "ap-1", 1, [TaskState.RUNNING], TaskState.COMPLETED, RUNNER, at=AT,
              lease_token="tok-1", events=batch)
    move_apply(tx, "ap-1", [ApplyState.RUNNING], ApplyState.COMPLETED, RUNNER, at=AT,
               lease_token="tok-1", event={"why": "done"}, events=batch)


def test_batched_events_are_the_same_rows_inserted_at_flush(seeded: Store,
                                                              tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = Store.open(tmp_path / "other.db")
    with other.write() as tx:
        apply_row(tx, "ap-1", "user-db", "running", lease_token="tok-1")
        task_row(tx, "ap-1", 1, "c1", "running")
        op_row(tx, "ap-1", "c1", 1, "pending")
    with other.write() as tx:
        moves(tx, None)
    with seeded.write() as tx:
        batch = EventBatch()
        moves(tx, batch)
        assert len(batch.events) == 3
        assert tx.execute("SELECT count(*) FROM setright_events").fetchone()[0] == 0
        batch.flush(tx)
        assert batch.events == []
    assert all_events(seeded) == all_events(other) and len(all_events(seeded)) == 3
    assert state_tables(seeded) == state_tables(other)
    other.close()


def test_an_event_holds_every_provenance_field_given_and_null_for_the_rest(
        seeded: Store) -> None:
    """Each provenance's events leave out the columns it does not give; a batch of events
    of two provenances, interleaved, is inserted in its order with each one's own fields."""
    operator = Provenance(actor="ops@host:2", source="apply", reason="it's \"done\" ✓",
                          ticket="OPS-1", plan_id="pl-1", metadata={"by": "hand"})
    with seeded.write() as tx:
        batch = EventBatch()
        move_operations(tx, "ap-1", "c1", {1: OperationState.PENDING},
                        OperationState.COMPLETED, RUNNER, at=AT, lease_token="tok-1",
                        events=batch)
        move_task(tx, "ap-1", 1, [TaskState.RUNNING], TaskState.COMPLETED, operator, at=AT,
                  events=batch)
        move_apply(tx, "ap-1", [ApplyState.RUNNING], ApplyState.COMPLETED, RUNNER, at=AT,
                   events=batch)
        batch.flush(tx)
    rows = seeded.conn.execute(
        "SELECT kind, actor, source, reason, ticket, resolution, plan_id, metadata"
        " FROM setright_events ORDER BY id").fetchall()
    assert rows == [
        ("operation", "runner@host:1", "runner", None, None, None, None, '{"seq": 1}'),
        ("task", "ops@host:2", "apply", 'it\'s "done" ✓', "OPS-1", None, "pl-1",
         '{"by": "hand", "position": 1}'),
        ("apply", "runner@host:1", "runner", None, None, None, None, None),
    ]


def test_a_refused_move_rolls_back_the_batched_events(seeded: Store) -> None:
    with pytest.raises(TransitionRefused), seeded.write() as tx:
        batch = EventBatch()
        move_task(tx, "ap-1", 1, [TaskState.RUNNING], TaskState.COMPLETED, RUNNER, at=AT,
                  lease_token="tok-1", events=batch)
        batch.flush(tx)
        move_task(tx, "ap-1", 1, [TaskState.RUNNING], TaskState.COMPLETED, RUNNER, at=AT,
                  lease_token="tok-1", events=batch)
    assert all_events(seeded) == []


@pytest.mark.parametrize("kind", ["apply", "task", "operation"])
def test_wrong_expected_state_is_refused_and_nothing_written(seeded: Store, kind: str) -> None:
    before = state_tables(seeded)
    with pytest.raises(TransitionRefused) as err, seeded.write() as tx:
        if kind == "apply":
            move_apply(tx, "ap-1", [ApplyState.PENDING], ApplyState.RUNNING, RUNNER, at=AT)
        elif kind == "task":
            move_task(tx, "ap-1", 1, [TaskState.PENDING], TaskState.RUNNING, RUNNER, at=AT)
        else:
            move_operation(tx, "ap-1", "c1", 1, [OperationState.FAILED],
                           OperationState.FAILED_RETRYABLE, RUNNER, at=AT)
    assert "expected" in err.value.message
    assert not isinstance(err.value, LeaseLost)
    assert state_tables(seeded) == before


@pytest.mark.parametrize("kind", ["apply", "task", "operation"])
def test_wrong_lease_token_is_refused(seeded: Store, kind: str) -> None:
    before = state_tables(seeded)
    with pytest.raises(LeaseLost), seeded.write() as tx:
        if kind == "apply":
            move_apply(tx, "ap-1", [ApplyState.RUNNING], ApplyState.COMPLETED, RUNNER, at=AT,
                       lease_token="stolen")
        elif kind == "task":
            move_task(tx, "ap-1", 1, [TaskState.RUNNING], TaskState.COMPLETED, RUNNER, at=AT,
                      lease_token="stolen")
        else:
            move_operation(tx, "ap-1", "c1", 1, [OperationState.PENDING],
                           OperationState.COMPLETED, RUNNER, at=AT, lease_token="stolen")
    assert state_tables(seeded) == before


def test_illegal_transitions_are_refused_before_touching_rows(seeded: Store) -> None:
    with pytest.raises(TransitionRefused, match="illegal apply transition completed → running"):
        with seeded.write() as tx:
            move_apply(tx, "ap-1", [ApplyState.COMPLETED], ApplyState.RUNNING, RUNNER, at=AT)
    with pytest.raises(TransitionRefused, match="illegal task transition completed"):
        with seeded.write() as tx:
            move_task(tx, "ap-1", 1, [TaskState.COMPLETED], TaskState.FAILED_RETRYABLE, RUNNER,
                      at=AT)


def test_unknown_rows(seeded: Store) -> None:
    with pytest.raises(UnknownId, match="no apply ap-404"), seeded.write() as tx:
        move_apply(tx, "ap-404", [ApplyState.RUNNING], ApplyState.FAILED, RUNNER, at=AT)


def test_apply_machine_matches_the_design() -> None:
    """§4.3: terminal states go nowhere; failed → failed_retryable is the redrive edge."""
    assert APPLY_TRANSITIONS[ApplyState.COMPLETED] == frozenset()
    assert APPLY_TRANSITIONS[ApplyState.CANCELLED] == frozenset()
    assert APPLY_TRANSITIONS[ApplyState.FAILED] == {ApplyState.FAILED_RETRYABLE,
                                                    ApplyState.CANCELLED}
    assert ApplyState.RUNNING in APPLY_TRANSITIONS[ApplyState.FAILED_RETRYABLE]
    assert ApplyState.FAILED in APPLY_TRANSITIONS[ApplyState.FAILED_RETRYABLE]
    assert ApplyState.FAILED in APPLY_TRANSITIONS[ApplyState.PENDING]  # reaped before running


def test_a_remembered_legal_move_never_lets_an_illegal_one_through() -> None:
    from setright.store.states import TASK_TRANSITIONS
    from setright.store.transitions import _check_legal

    for _ in range(2):  # the second round is answered from what the first remembered
        assert _check_legal("task", TASK_TRANSITIONS, [TaskState.RUNNING],
                            TaskState.COMPLETED) == ["running"]
        with pytest.raises(TransitionRefused, match="illegal task transition completed"):
            _check_legal("task", TASK_TRANSITIONS, [TaskState.COMPLETED], TaskState.RUNNING)
        with pytest.raises(TransitionRefused):
            _check_legal("task", TASK_TRANSITIONS, [TaskState.RUNNING, TaskState.COMPLETED],
                         TaskState.COMPLETED)
