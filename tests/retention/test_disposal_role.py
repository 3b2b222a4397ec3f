"""Append-only stays append-only for people: notes, record history and the audit log refuse
UPDATE and DELETE to the application role (the server's, so every user's) whatever it sets,
and to the disposal role outside a running disposal run; within one, the disposal role may
delete them and rewrite an audit or history row only into its redacted form."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit.writer import write_event
from backend import models as m
from backend.disposal_database import DISPOSAL_ALIAS, DISPOSAL_ROLE, RUN_SETTING
from tests.factories import NoteFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "disposal"])

#: The triggers refuse, or the privileges do (the application role has no UPDATE or DELETE on
#: the audit tables at all).
REFUSED = "append-only|permission denied"


def make_run(status: str, **fields: object) -> m.DisposalRun:
    pm = UserFactory(username="pm.role", role=m.Role.PROGRAM_MANAGER)
    approved = {} if status == "REQUESTED" else {"approved_by": pm, "approved_at": timezone.now()}
    return m.DisposalRun.objects.create(
        status=status,
        as_of=timezone.now(),
        categories=["TIPS"],
        requested_by=pm,
        **approved,
        **fields,
    )


@pytest.fixture
def rows() -> dict[str, object]:
    note = NoteFactory(body="kept forever, to people")
    event = write_event(
        kind="ADMIN", operation_name="x", outcome="ALLOWED", variables={"name": "someone"}
    )
    return {"note": note, "event": event}


def attempt(alias: str, run: m.DisposalRun | None, sql: str, params: list[object]) -> None:
    """Run ``sql`` on ``alias`` in a transaction naming ``run`` (if any), then roll it back;
    the database's refusal is raised."""
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            if run is not None:
                cursor.execute("SELECT set_config(%s, %s, true)", [RUN_SETTING, str(run.pk)])
            cursor.execute(sql, params)
        transaction.set_rollback(True, using=alias)


@pytest.fixture
def running() -> Iterator[m.DisposalRun]:
    yield make_run("RUNNING", audit_through_seq=0)


def test_the_application_role_is_no_member_of_the_disposal_role():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(current_user, %s, 'MEMBER'), current_user", [DISPOSAL_ROLE]
        )
        member, user = cursor.fetchone()
    assert not member, user
    with connections[DISPOSAL_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [DISPOSAL_ROLE])
        assert cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        ("DELETE FROM backend_note WHERE id = %s", "note"),
        ("UPDATE backend_note SET body = 'changed' WHERE id = %s", "note"),
        ("DELETE FROM audit_auditevent WHERE id = %s", "event"),
        (
            "UPDATE audit_auditevent SET variables = '{}', redacted_by_run = {run} WHERE id = %s",
            "event",
        ),
        ("DELETE FROM audit_recordchange WHERE id = %s", "change"),
    ],
)
def test_the_application_role_is_refused_even_naming_a_running_run(rows, running, sql, row):
    target = rows[row].pk if row != "change" else _a_change()
    with pytest.raises(DatabaseError, match=REFUSED):
        attempt("default", running, sql.replace("{run}", str(running.pk)), [target])


def _a_change() -> int:
    from audit.models import RecordChange

    return RecordChange.objects.order_by("id").values_list("id", flat=True).first()


def test_the_disposal_role_is_refused_outside_a_running_run(rows):
    note = rows["note"].pk
    # without a run named
    with pytest.raises(DatabaseError, match=REFUSED):
        attempt(DISPOSAL_ALIAS, None, "DELETE FROM backend_note WHERE id = %s", [note])
    # naming a run only requested, or one done
    for status in ("REQUESTED", "DONE"):
        run = make_run(status)
        with pytest.raises(DatabaseError, match=REFUSED):
            attempt(DISPOSAL_ALIAS, run, "DELETE FROM backend_note WHERE id = %s", [note])
        run.delete()
    assert m.Note.objects.filter(pk=note).exists()


def test_within_a_running_run_the_disposal_role_deletes_and_redacts_only(rows, running):
    note, event = rows["note"].pk, rows["event"]
    # it may delete a note
    attempt(DISPOSAL_ALIAS, running, "DELETE FROM backend_note WHERE id = %s", [note])
    # and redact an audit row's variables, naming the run
    attempt(
        DISPOSAL_ALIAS,
        running,
        "UPDATE audit_auditevent SET variables = '{}', redacted_by_run = %s WHERE id = %s",
        [running.pk, event.pk],
    )
    # but not rewrite them into anything else, nor touch another column, nor name another run
    for sql, params in [
        (
            'UPDATE audit_auditevent SET variables = \'{"name": "x"}\', redacted_by_run = %s '
            "WHERE id = %s",
            [running.pk, event.pk],
        ),
        (
            "UPDATE audit_auditevent SET variables = '{}', redacted_by_run = %s, "
            "username = 'forged' WHERE id = %s",
            [running.pk, event.pk],
        ),
        (
            "UPDATE audit_auditevent SET variables = '{}', redacted_by_run = %s WHERE id = %s",
            [running.pk + 1, event.pk],
        ),
        ("UPDATE backend_note SET body = 'changed' WHERE id = %s", [note]),
        # nor cut the chain past the point the run recorded (none here)
        ("DELETE FROM audit_auditevent WHERE id = %s", [event.pk]),
    ]:
        with pytest.raises(DatabaseError, match=REFUSED):
            attempt(DISPOSAL_ALIAS, running, sql, params)
