"""The verifier accepts what a disposal run did, and only that: variables redacted in the name
of a run whose batch event names the row, a chain cut where a run's started event says; any
other redaction or cut is reported as tampering."""

from __future__ import annotations

import pytest

from audit import redaction
from audit.verify import Anchor, verify_chain
from audit.writer import write_event
from tests.audit.helpers import as_tampering_superuser, operation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rows() -> list:
    return [operation(f"Op{n}", variables={"name": f"person {n}"}) for n in range(1, 5)]


def batch_event(run: int, seqs: list[int]) -> None:
    write_event(
        kind="ADMIN",
        operation_name=redaction.BATCH,
        outcome="ALLOWED",
        variables={"run": run, "redacted_audit_rows": redaction.seq_ranges(seqs)},
    )


def redact(seq: int, run: int) -> None:
    as_tampering_superuser(
        "audit_auditevent",
        "UPDATE audit_auditevent SET variables = '{}', redacted_by_run = %s WHERE seq = %s",
        [run, seq],
    )


def test_a_redaction_a_batch_event_names_verifies(rows):
    redact(2, run=7)
    batch_event(7, [2])
    assert verify_chain().ok


def test_a_redaction_no_batch_event_names_is_tampering(rows):
    redact(2, run=7)
    batch_event(7, [3])  # names another row
    batch_event(8, [2])  # another run
    report = verify_chain()
    assert (report.ok, report.problem_seq) == (False, 2)
    assert "no batch event of that run later in the chain names the row" in report.first_problem


def test_a_batch_event_before_the_row_does_not_vouch_for_it(rows):
    batch_event(7, [6])  # seq 5, naming seq 6, written before it
    operation("Op6", variables={"name": "late"})  # seq 6
    redact(6, run=7)
    assert verify_chain().problem_seq == 6


def test_variables_changed_without_a_redaction_are_tampering(rows):
    as_tampering_superuser(
        "audit_auditevent", "UPDATE audit_auditevent SET variables = '{}' WHERE seq = 3"
    )
    report = verify_chain()
    assert report.first_problem == "seq 3 altered: its row_hash does not match its content"


def test_a_cut_a_started_event_records_verifies_and_any_other_does_not(rows):
    # given a run that recorded it would remove rows 1..2, and rows 1..2 removed
    second = rows[1]
    write_event(
        kind="ADMIN",
        operation_name=redaction.STARTED,
        outcome="ALLOWED",
        variables={"run": 1, "audit_log_through": {"seq": 2, "row_hash": second.row_hash}},
    )
    as_tampering_superuser("audit_auditevent", "DELETE FROM audit_auditevent WHERE seq <= 2")
    report = verify_chain()
    assert report.ok, report.first_problem
    assert report.rows_checked == 3
    # an anchor in the removed part still matches at the cut, and only there with its hash
    assert verify_chain(anchor=Anchor(2, second.row_hash)).ok
    assert not verify_chain(anchor=Anchor(2, "0" * 64)).ok
    # but one more row removed is a gap no run vouches for
    as_tampering_superuser("audit_auditevent", "DELETE FROM audit_auditevent WHERE seq = 3")
    report = verify_chain()
    assert not report.ok
    assert "seq 3" in report.first_problem


def test_a_chain_cut_without_a_started_event_is_tampering(rows):
    as_tampering_superuser("audit_auditevent", "DELETE FROM audit_auditevent WHERE seq = 1")
    report = verify_chain()
    assert (report.ok, report.problem_seq) == (False, 1)
    assert report.first_problem.startswith("seq 1 missing")


def test_a_blanked_query_text_needs_its_run(rows):
    operation("Q", query="query Q { tips { id } }")
    as_tampering_superuser(
        "audit_auditquerytext",
        "UPDATE audit_auditquerytext SET text = '', redacted_by_run = 9",
    )
    assert "blanked in the name of disposal run 9" in verify_chain().first_problem
    batch_event(9, [])
    assert verify_chain().ok
