"""The application's own connection cannot break the audit log (backend.database_roles).

Every test here runs on the connection the application itself uses; each fails if the
application connects as the owner of the tables or as a superuser.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from backend.database_roles import (
    APPEND_ONLY_PRIVILEGES,
    DML_PRIVILEGES,
    check_separate_roles,
    privileges_by_table,
    uses_one_role,
)
from backend.models import Office
from tests.audit.helpers import operation

pytestmark = pytest.mark.django_db

#: The audit tables, each with one of its columns.
AUDIT_TABLES = {
    "audit_auditevent": "outcome",
    "audit_recordchange": "table_name",
    "audit_auditquerytext": "text",
}
#: PostgreSQL says "table" or "relation" depending on its version.
NOT_OWNER = r"must be owner of (table|relation) {table}"


def _refused(statement: str) -> str:
    """Run ``statement`` in a savepoint and return the database's refusal, checking that it
    is a refusal for want of privilege (SQLSTATE 42501), not some other error."""
    with (
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert refused.value.__cause__.sqlstate == "42501", refused.value
    return str(refused.value).splitlines()[0]


def test_the_application_is_neither_superuser_nor_owner():
    # given the application's connection
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, "
            "pg_has_role(current_user, c.relowner, 'MEMBER') "
            "FROM pg_roles r, pg_class c "
            "WHERE r.rolname = current_user AND c.oid = 'audit_auditevent'::regclass"
        )
        user, superuser, createrole, createdb, bypassrls, owner = cursor.fetchone()
    # then it is the application role, with no attribute beyond logging in
    assert user == settings.DATABASE_APPLICATION["USER"] != settings.DATABASE_OWNER["USER"]
    assert (superuser, createrole, createdb, bypassrls, owner) == (False,) * 5
    assert uses_one_role() is False


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE {table} SET {column} = {column}", "permission denied for table {table}"),
        ("DELETE FROM {table}", "permission denied for table {table}"),
        ("TRUNCATE {table}", "permission denied for table {table}"),
        ("ALTER TABLE {table} DISABLE TRIGGER ALL", NOT_OWNER),
        ("ALTER TABLE {table} DISABLE TRIGGER USER", NOT_OWNER),
        ("ALTER TABLE {table} ADD COLUMN note text", NOT_OWNER),
        ("DROP TABLE {table}", NOT_OWNER),
    ],
)
def test_the_audit_tables_refuse_the_application(table: str, statement: str, refusal: str):
    # given a row in the audit log
    operation()
    # when the application runs the statement, then the database refuses it
    refused = _refused(statement.format(table=table, column=AUDIT_TABLES[table]))
    assert re.fullmatch(refusal.format(table=table), refused), refused


@pytest.mark.parametrize(
    ("trigger", "table"),
    [
        ("audit_auditevent_append_only", "audit_auditevent"),
        ("audit_event_chain", "audit_auditevent"),
        ("audit_recordchange_append_only", "audit_recordchange"),
        ("audit_capture_change", "backend_tip"),
        ("backend_note_append_only", "backend_note"),
    ],
)
def test_triggers_cannot_be_dropped_or_disabled(trigger: str, table: str):
    for statement in (
        f"DROP TRIGGER {trigger} ON {table}",
        f"ALTER TABLE {table} DISABLE TRIGGER {trigger}",
    ):
        refused = _refused(statement)
        assert re.fullmatch(NOT_OWNER.format(table=table), refused), refused


def test_session_replication_role_cannot_be_set():
    # when the application tries to switch off the (non-ALWAYS) triggers for its session
    refusal = _refused("SET session_replication_role = replica")
    # then PostgreSQL refuses: only superusers may
    assert refusal == 'permission denied to set parameter "session_replication_role"'


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE backend_shadow (id int)",
        "TRUNCATE backend_tip",
        "ALTER TABLE backend_tip DISABLE TRIGGER audit_capture_change",
        "CREATE OR REPLACE FUNCTION audit_capture_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NULL; END $$",
        "SET ROLE postgres",
    ],
)
def test_no_ddl_and_no_truncate_on_domain_tables(statement: str):
    # when the application runs DDL, TRUNCATE or tries to become someone else
    refusal = _refused(statement)
    # then it is refused for want of privilege or ownership
    assert refusal.startswith(("permission denied", "must be owner")), refusal


def test_the_application_writes_domain_rows_and_appends_audit_rows():
    # given the application's connection (the allowed case: what the platform needs)
    # when it inserts, updates and deletes a domain row and appends an audit row
    office = Office.objects.create(name="North", region="N", contact_point="n@example.test")
    Office.objects.filter(pk=office.pk).update(name="North-East")
    event = operation()
    Office.objects.filter(pk=office.pk).delete()
    # then all of it worked, and the audit row is readable
    assert not Office.objects.filter(pk=office.pk).exists()
    assert AuditEvent.objects.get(pk=event.pk).row_hash == event.row_hash


def test_the_granted_privileges_are_exactly_the_registrys():
    # given the privileges the application role holds on the schema's tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = current_user AND table_schema = current_schema()"
        )
        held: dict[str, set[str]] = {}
        for table, privilege in cursor.fetchall():
            held.setdefault(table, set()).add(privilege)
    # then every table has what the registry gives it and nothing more: the audit tables
    # SELECT and INSERT, the others full DML, never TRUNCATE, TRIGGER or REFERENCES
    expected = {table: set(privileges) for table, privileges in privileges_by_table().items()}
    assert held == expected
    assert all(held[table] == set(APPEND_ONLY_PRIVILEGES) for table in AUDIT_TABLES)
    assert held["backend_tip"] == set(DML_PRIVILEGES)


def test_the_system_check_warns_when_one_role_serves_and_owns(settings):
    # given the two roles of the test set-up, then there is nothing to warn about
    assert check_separate_roles() == []
    # when the application connected as the owner (DATABASE_URL alone)
    settings.DATABASE_APPLICATION = dict(settings.DATABASE_OWNER)
    # then the check warns with its code
    assert [w.id for w in check_separate_roles()] == ["backend.W001"]


def test_jit_is_off_in_every_session_of_the_database():
    # (the retention clocks' large plans were compiled for seconds; backend.database_roles)
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
        cursor.execute(
            "SELECT s.setconfig FROM pg_db_role_setting s "
            "JOIN pg_database d ON d.oid = s.setdatabase "
            "WHERE d.datname = current_database() AND s.setrole = 0"
        )
        assert ["jit=off"] in [row[0] for row in cursor.fetchall()]
