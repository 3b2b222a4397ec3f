"""The database refuses to change or delete audit rows, whoever asks and however.

Twice over: the application role holds no UPDATE or DELETE privilege on the audit tables,
and for the owner (or a superuser) the append-only triggers refuse the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import connection, models, transaction
from django.db.utils import ProgrammingError

from audit.models import AuditEvent, AuditQueryText, RecordChange
from tests.audit.helpers import operation
from tests.factories import OfficeFactory, UserFactory
from tests.owner import owner_cursor

pytestmark = pytest.mark.django_db

REFUSED = r"the audit log is append-only: (UPDATE|DELETE) refused on audit_\w+"
NOT_GRANTED = r"permission denied for table audit_\w+"


def _an_event() -> tuple[models.Model, str, str]:
    event = operation(query="{ sources { id } }")
    return event, "outcome", "DENIED"


def _a_record_change() -> tuple[models.Model, str, str]:
    OfficeFactory()
    return RecordChange.objects.get(table_name="backend_office"), "table_name", "backend_tip"


def _a_query_text() -> tuple[models.Model, str, str]:
    # No event refers to this text, so PROTECT does not stop the ORM before the database.
    AuditQueryText.objects.bulk_create([AuditQueryText(hash="0" * 64, text="{ unused }")])
    return AuditQueryText.objects.get(hash="0" * 64), "text", "{ altered }"


ROWS: dict[str, Callable[[], tuple[Any, str, str]]] = {
    "audit_auditevent": _an_event,
    "audit_recordchange": _a_record_change,
    "audit_auditquerytext": _a_query_text,
}


def _orm_save(row: Any, field: str, value: str) -> None:
    setattr(row, field, value)
    row.save(update_fields=[field])


def _orm_update(row: Any, field: str, value: str) -> None:
    type(row).objects.filter(pk=row.pk).update(**{field: value})


def _orm_delete(row: Any, field: str, value: str) -> None:
    row.delete()


def _orm_queryset_delete(row: Any, field: str, value: str) -> None:
    type(row).objects.filter(pk=row.pk).delete()


def _sql_update(row: Any, field: str, value: str) -> None:
    meta = row._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} SET {meta.get_field(field).column} = %s "
            f"WHERE {meta.pk.column} = %s",
            [value, row.pk],
        )


def _sql_delete(row: Any, field: str, value: str) -> None:
    meta = row._meta
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {meta.db_table} WHERE {meta.pk.column} = %s", [row.pk])


def _sql_delete_all(row: Any, field: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {row._meta.db_table}")


CHANGES = {
    "orm-save": _orm_save,
    "orm-update": _orm_update,
    "orm-delete": _orm_delete,
    "orm-queryset-delete": _orm_queryset_delete,
    "sql-update": _sql_update,
    "sql-delete": _sql_delete,
    "sql-delete-all": _sql_delete_all,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.parametrize("table", ROWS.keys())
def test_changes_and_deletes_by_the_application_are_refused(
    table: str, change: Callable[..., None]
):
    # given a row of the audit table
    row, field, value = ROWS[table]()
    count = type(row).objects.count()
    before = getattr(type(row).objects.get(pk=row.pk), field)
    # when the application changes or deletes it, then the database refuses: the application
    # role holds no such privilege (in a savepoint, so the test's connection stays usable)
    with pytest.raises(ProgrammingError, match=NOT_GRANTED) as refused, transaction.atomic():
        change(row, field, value)
    assert refused.value.__cause__.sqlstate == "42501"
    # and the row is as it was
    assert type(row).objects.count() == count
    assert getattr(type(row).objects.get(pk=row.pk), field) == before


OWNER_CHANGES = {
    "update": "UPDATE {table} SET {column} = {column}",
    "delete": "DELETE FROM {table}",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("statement", OWNER_CHANGES.values(), ids=OWNER_CHANGES.keys())
@pytest.mark.parametrize("table", ROWS.keys())
def test_changes_and_deletes_by_the_owner_are_refused_by_the_triggers(table: str, statement: str):
    # given a committed row of the audit table
    row, field, _ = ROWS[table]()
    count = type(row).objects.count()
    column = row._meta.get_field(field).column
    # when the owner of the table changes or deletes it
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused, owner_cursor() as cursor:
        cursor.execute(statement.format(table=table, column=column))
    # then the append-only trigger refuses, naming the operation and the table
    assert re.fullmatch(REFUSED, str(refused.value).splitlines()[0])
    assert type(row).objects.count() == count


def test_refusals_are_always_enabled_and_truncate_is_left_alone():
    # given the triggers of the audit tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'audit\\_%%' "
            "ORDER BY 1, 2"
        )
        triggers = cursor.fetchall()
    # then the refusals are enabled ALWAYS ('A': even with session_replication_role = replica),
    # and no TRUNCATE trigger exists (the test runner's flush empties tables with TRUNCATE)
    assert triggers == [
        ("audit_auditevent", "audit_auditevent_append_only", "A"),
        ("audit_auditevent", "audit_event_chain", "O"),
        ("audit_auditquerytext", "audit_auditquerytext_append_only", "A"),
        ("audit_recordchange", "audit_recordchange_append_only", "A"),
    ]


def test_deleting_a_user_leaves_their_audit_rows():
    # given a user with audit rows
    user = UserFactory()
    event = operation(user_id=user.pk, username=user.username)
    # when the user is deleted
    user.delete()
    # then their rows are still there, unchanged
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.user_id, stored.username, stored.row_hash) == (
        event.user_id,
        event.username,
        event.row_hash,
    )
