"""audit.verify and ``manage.py verify_audit_log``: a removed or altered row is found."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import verify
from audit.models import AuditQueryText
from audit.verify import Anchor, VerifyReport, verify_chain
from tests.audit.helpers import as_tampering_superuser, operation

# Tampering happens on the owner's connection, which must see the rows: transactional tests.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def five_rows() -> list:
    return [operation(f"Op{n}", query=f"query Op{n} {{ tips {{ id }} }}") for n in range(1, 6)]


def test_empty_log_is_intact():
    # given no audit rows
    # when the chain is verified
    report = verify_chain()
    # then it is intact, with nothing checked
    assert report == VerifyReport(ok=True, rows_checked=0)
    assert (
        report.summary() == "audit log OK: 0 rows checked (the log is empty); 0 query texts checked"
    )


def test_intact_chain(five_rows):
    # given five rows written through the writer
    # when the chain is verified
    report = verify_chain()
    # then every row and query text checks out, and the head is the last row
    assert report == VerifyReport(
        ok=True,
        rows_checked=5,
        first_problem=None,
        last_seq=5,
        last_hash=five_rows[-1].row_hash,
        query_texts_checked=5,
    )


def test_chain_is_streamed_in_batches(five_rows, monkeypatch):
    # given batches smaller than the log
    monkeypatch.setattr(verify, "BATCH_SIZE", 2)
    # when the chain is verified, then all rows are still checked in order
    assert verify_chain().rows_checked == 5


def test_removed_middle_row_is_found(five_rows):
    # given a superuser who disabled the triggers and deleted row 3
    removed = as_tampering_superuser(
        "audit_auditevent", "DELETE FROM audit_auditevent WHERE seq = 3"
    )
    assert removed == 1
    # when the chain is verified
    report = verify_chain()
    # then the gap is reported at seq 3, after two sound rows
    assert (report.ok, report.rows_checked, report.problem_seq) == (False, 2, 3)
    assert report.first_problem == (
        "seq 3 missing (found seq 4 after seq 2): rows were removed from the audit log"
    )


def test_removed_first_rows_are_found(five_rows):
    # given the first two rows deleted
    as_tampering_superuser("audit_auditevent", "DELETE FROM audit_auditevent WHERE seq <= 2")
    # when the chain is verified
    report = verify_chain()
    # then the report names the missing range from the start
    assert (report.ok, report.rows_checked, report.problem_seq) == (False, 0, 1)
    assert report.first_problem == (
        "seq 1..2 missing (found seq 3 at the start): rows were removed from the audit log"
    )


def test_altered_row_is_found(five_rows):
    # given a superuser who disabled the triggers and changed the outcome of row 4
    as_tampering_superuser(
        "audit_auditevent", "UPDATE audit_auditevent SET outcome = 'DENIED' WHERE seq = 4"
    )
    # when the chain is verified
    report = verify_chain()
    # then row 4 is reported as altered
    assert (report.ok, report.rows_checked, report.problem_seq) == (False, 3, 4)
    assert report.first_problem == "seq 4 altered: its row_hash does not match its content"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("username", "'someone-else'"),
        ("occurred_at", "occurred_at - interval '1 microsecond'"),
        ("records_returned", "'{}'"),
        ("variables", '\'{"id": "other"}\''),
        ("client_address", "NULL"),
        ("query_hash_id", "NULL"),
    ],
)
def test_any_altered_field_is_found(five_rows, column: str, value: str):
    # given one field of row 2 changed
    as_tampering_superuser(
        "audit_auditevent", f"UPDATE audit_auditevent SET {column} = {value} WHERE seq = 2"
    )
    # when the chain is verified, then row 2 is reported as altered
    assert verify_chain().first_problem == "seq 2 altered: its row_hash does not match its content"


def test_altered_and_rehashed_row_breaks_the_chain_after_it(five_rows):
    # given row 2 altered and its row_hash recomputed, as a careful forger would
    as_tampering_superuser(
        "audit_auditevent",
        "UPDATE audit_auditevent e SET username = 'forged' WHERE seq = 2; "
        "UPDATE audit_auditevent e SET row_hash = audit_event_digest(e) WHERE seq = 2",
    )
    # when the chain is verified
    report = verify_chain()
    # then row 3 no longer links to it
    assert (report.ok, report.rows_checked, report.problem_seq) == (False, 2, 3)
    assert report.first_problem == (
        f"seq 3: prev_hash {five_rows[1].row_hash} is not the row_hash of seq 2: "
        "the chain is broken (an earlier row was rewritten)"
    )


def test_removed_newest_rows_are_found_against_an_anchor(five_rows):
    # given the head recorded by an earlier run, then the two newest rows deleted
    head = verify_chain()
    anchor = Anchor(seq=head.last_seq, row_hash=head.last_hash)
    as_tampering_superuser("audit_auditevent", "DELETE FROM audit_auditevent WHERE seq >= 4")
    # when the chain is verified without and with the anchor
    alone, anchored = verify_chain(), verify_chain(anchor=anchor)
    # then the shorter chain is consistent in itself, but not with the anchor
    assert (alone.ok, alone.rows_checked, alone.last_seq) == (True, 3, 3)
    assert (anchored.ok, anchored.problem_seq) == (False, 5)
    assert anchored.first_problem == (
        "seq 5 missing (the log ends at seq 3, before the anchor): the newest rows were removed"
    )


def test_anchor_of_an_intact_chain(five_rows):
    # given an anchor in the middle of the chain
    anchor = Anchor(seq=3, row_hash=five_rows[2].row_hash)
    # when the chain is verified with it, then it holds
    assert verify_chain(anchor=anchor).ok is True
    # and an anchor with another hash does not
    wrong = verify_chain(anchor=Anchor(seq=3, row_hash="f" * 64))
    assert (wrong.ok, wrong.problem_seq) == (False, 3)


def test_altered_query_text_is_found(five_rows):
    # given a stored query text altered
    key = five_rows[0].query_hash_id
    as_tampering_superuser(
        "audit_auditquerytext",
        "UPDATE audit_auditquerytext SET text = '{ everything }' WHERE hash = %s",
        [key],
    )
    # when the chain is verified
    report = verify_chain()
    # then the chain is sound but the text is reported
    assert (report.ok, report.rows_checked) == (False, 5)
    assert report.first_problem == f"query text {key}: its text does not match its hash: altered"
    assert AuditQueryText.objects.filter(hash=key).count() == 1


def test_command_reports_an_intact_log(five_rows):
    # given an intact log
    out = io.StringIO()
    # when the command runs
    call_command("verify_audit_log", stdout=out)
    # then it prints the summary with the head
    assert out.getvalue() == (
        f"audit log OK: 5 rows checked (seq 1..5, head hash {five_rows[-1].row_hash}); "
        "5 query texts checked\n"
    )


def test_command_fails_with_exit_code_1_on_a_problem(five_rows):
    # given a removed row
    as_tampering_superuser("audit_auditevent", "DELETE FROM audit_auditevent WHERE seq = 2")
    # when the command runs, then it fails with exit code 1 and names the problem
    with pytest.raises(CommandError) as failed:
        call_command("verify_audit_log")
    assert failed.value.returncode == 1
    assert str(failed.value) == (
        "audit log verification FAILED: seq 2 missing (found seq 3 after seq 1): "
        "rows were removed from the audit log"
    )


def test_command_checks_an_anchor(five_rows):
    # given an anchor argument that no longer holds
    anchor = f"5:{'a' * 64}"
    # when the command runs with it, then it fails naming seq 5
    with pytest.raises(CommandError, match=r"FAILED: seq 5: row_hash \w+ is not the anchor's"):
        call_command("verify_audit_log", "--anchor", anchor)
    # and a malformed anchor is refused as a usage error
    with pytest.raises(CommandError, match="expected SEQ:HASH"):
        call_command("verify_audit_log", "--anchor", "five")


def test_command_help_explains_the_checks():
    # given / when the help is printed
    from audit.management.commands.verify_audit_log import Command

    parser = Command().create_parser("manage.py", "verify_audit_log")
    text = " ".join(parser.format_help().split())
    # then it says what is checked, the exit codes and the anchor
    assert "every row from seq 1 on is present (no gap)" in text
    assert "Exits with 0 and a summary" in text
    assert "--anchor SEQ:HASH" in text
