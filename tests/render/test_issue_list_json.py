"""`issue list --json` written column by column is what the standard library writes."""

from __future__ import annotations

import json

import pytest

from setright.render.issues import issue_list_json, issue_list_json_parts
from setright.store.diagnosis import Diagnosis
from setright.store.issue_list import IssueSummary


def summary(n: int, **changes: object) -> IssueSummary:
    base = IssueSummary(
        change_id=f"change-{n:04d}", state="FAILED", reason="failed-non-transactional",
        target="user-db", created_at=f"2026-11-22T12:00:{n % 60:02d}.000Z",
        error_summary="java.sql.SQLException: boom", tx_strategy="NON_TX",
        recovery_strategy="MANUAL_INTERVENTION", apply_id=None, task_attempt=None,
        operations_completed=None, operations_total=None, partial_state_possible=True)
    return base._replace(**changes)


def running(n: int) -> Diagnosis:
    return Diagnosis(
        change_id=f"run-{n}", state="STARTED", meaning="execution began but never completed",
        is_issue=False, reason="running", reason_text="running", target=None, author=None,
        started_at=None, created_at="2026-11-22T12:00:00.000Z", error=None,
        error_summary=None, tx_strategy=None, recovery_strategy=None, transactional=None,
        apply_id="ap-\"1\"\n", lock_owner="runner ü", lock_until="2026-11-22T12:05:00.000Z")


HOSTILE = "ü ✓ \n \t \" \\ \x00 \u2028 😀 %s %% }," + "\n    {"

LISTS = {
    "none": [],
    "one": [summary(0)],
    "alike": [summary(n) for n in range(50)],
    "mixed": [summary(0), summary(1, error_summary=HOSTILE, target=None, state="STARTED"),
              summary(2, apply_id="ap-1", task_attempt=2, operations_completed=0,
                      operations_total=3, partial_state_possible=False, tx_strategy=None),
              summary(3, error_summary=None, reason="rollback-failed", created_at=None),
              summary(4, operations_completed=1, operations_total=1, task_attempt=1)],
}


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("runs", [0, 2])
def test_issue_list_json_text_is_the_standard_librarys(name: str, runs: int) -> None:
    issues, live = LISTS[name], [running(n) for n in range(runs)]
    expected = json.dumps(issue_list_json(issues, live), indent=2, ensure_ascii=False,
                          default=str)
    assert "".join(issue_list_json_parts(issues, live)) == expected + "\n"
