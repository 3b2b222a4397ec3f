"""The two database roles: the owner, who migrates, and the application role, who serves.

The application role (``settings.DATABASE_APPLICATION["USER"]``) gets exactly what
``backend.registry`` says each table needs: ``SELECT, INSERT, UPDATE, DELETE`` on ordinary
tables, ``SELECT, INSERT`` on append-only ones (the audit log), ``SELECT`` on
``django_migrations``, and the sequences behind them. Never ``TRUNCATE``, ``TRIGGER`` or
``REFERENCES``, no ownership, no DDL; not a superuser, so it cannot set
``session_replication_role`` or disable a trigger.

``migrate`` connects as the owner (``owner_connection``), creates the application role when
it is missing and grants it its privileges after every migration (``post_migrate``), so a new
table is granted in the same run that creates it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import sql

from backend.database import CONNECTION_KEYS
from backend.registry import entry_for, registered_models

log = logging.getLogger(__name__)

__all__ = [
    "APPEND_ONLY_PRIVILEGES",
    "DML_PRIVILEGES",
    "application_role",
    "disable_jit",
    "ensure_application_role",
    "grant_application_role",
    "is_owner",
    "owner_connection",
    "privileges_by_table",
    "uses_one_role",
]

DML_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: procrastinate's tables (``backend.tasks``), which its own migrations create.
QUEUE_TABLES = (
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
)
APPEND_ONLY_PRIVILEGES = ("SELECT", "INSERT")
#: The role attributes of the application role: it may log in, and nothing else.
_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def application_role() -> str:
    """The name of the role the application connects as."""
    return settings.DATABASE_APPLICATION["USER"]


def uses_one_role() -> bool:
    """True when the application connects as the owner (``DATABASE_URL`` alone)."""
    owner, app = settings.DATABASE_OWNER, settings.DATABASE_APPLICATION
    return all(owner[key] == app[key] for key in ("USER", "HOST", "PORT"))


@contextmanager
def owner_connection(alias: str = "default") -> Iterator[BaseDatabaseWrapper]:
    """Within the block, ``connections[alias]`` is the owner's connection to the same database.

    The database name is kept (a test database stays the test database); only the user,
    password and address change. The connection is closed on the way in and out, except
    inside a transaction (a test's), which cannot change hands: there the block runs on the
    connection as it is, and a migration with work to do fails for want of privilege.
    """
    connection = connections[alias]
    if connection.in_atomic_block:
        yield connection
        return
    saved = {key: connection.settings_dict[key] for key in CONNECTION_KEYS}
    connection.close()
    connection.settings_dict.update(settings.DATABASE_OWNER)
    try:
        yield connection
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def is_owner(connection: BaseDatabaseWrapper) -> bool:
    """Whether the connection's user may alter the audit log's table (owner or superuser)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class "
            "WHERE oid = to_regclass('audit_auditevent')"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def ensure_application_role(
    connection: BaseDatabaseWrapper, role: str, *, password: str | None = None
) -> bool:
    """Create ``role`` (login, no other attribute) if it does not exist; True if created.

    ``password`` is given to a role created here; an existing role's password is left alone
    (``setup_database_roles --password`` changes it).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        created = cursor.fetchone() is None
        if created:
            cursor.execute(
                sql.SQL("CREATE ROLE {} " + _ROLE_ATTRIBUTES).format(sql.Identifier(role))
            )
        if password and created:
            cursor.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
    return created


def privileges_by_table() -> dict[str, tuple[str, ...]]:
    """What the application role may do on each table, from ``backend.registry``."""
    grants = {
        model._meta.db_table: (
            APPEND_ONLY_PRIVILEGES if entry_for(model).append_only else DML_PRIVILEGES
        )
        for model in registered_models()
    }
    grants["django_migrations"] = ("SELECT",)
    # The task queue's tables (procrastinate: its models are unmanaged, so outside the
    # registry): the workers and the server defer, fetch and finish jobs in them.
    grants.update(dict.fromkeys(QUEUE_TABLES, DML_PRIVILEGES))
    return grants


def grant_application_role(connection: BaseDatabaseWrapper, role: str) -> None:
    """Give ``role`` exactly the privileges of ``privileges_by_table`` on existing tables.

    Everything it held before on the schema's tables and sequences is revoked first, so a
    privilege taken out of the registry is taken from the role too.
    """
    ident = sql.Identifier(role)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        existing = {name for (name,) in cursor.fetchall()}
        statements: list[Any] = [
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident),
            sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(ident),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident),
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident),
        ]
        for table, privileges in sorted(privileges_by_table().items()):
            if table in existing:
                statements.append(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in privileges),
                        sql.Identifier(table),
                        ident,
                    )
                )
        for statement in statements:
            cursor.execute(statement)


def disable_jit(connection: BaseDatabaseWrapper) -> bool:
    """Turn PostgreSQL's JIT compilation off for every session of this database; True if done.

    The platform's statements are short, and the few whose plans are large (the retention
    clocks: a disposal run's work list is one statement over every category) are estimated
    costly enough to be compiled: on an empty database, a 0.6 s statement took 11.7 s, all of
    it compiling. A database-level setting reaches every role and every connection, PgBouncer's
    included (no session state). It needs the database's owner; anyone else is told why not.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
        statement = sql.SQL("ALTER DATABASE {} SET jit = off").format(sql.Identifier(name))
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute(statement)
        except DatabaseError as exc:
            log.warning(
                "could not turn JIT off for database %s (%s): as its owner, run %s",
                name,
                exc,
                statement.as_string(cursor.connection),
            )
            return False
    return True


def _after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: as the owner, turn JIT off, create the application role if needed and
    grant it."""
    if sender.label != "backend":
        return
    connection = connections[using]
    if not is_owner(connection):  # a flush emits post_migrate as the application role
        return
    disable_jit(connection)
    if uses_one_role():
        return
    role = application_role()
    ensure_application_role(connection, role, password=settings.DATABASE_APPLICATION["PASSWORD"])
    grant_application_role(connection, role)


def connect_signals() -> None:
    """Called from ``BackendConfig.ready``: grants after every ``migrate`` (and test set-up)."""
    from django.db.models.signals import post_migrate

    post_migrate.connect(_after_migrate, dispatch_uid="backend.database_roles.grant")


@checks.register(checks.Tags.security)
def check_separate_roles(**kwargs: object) -> list[checks.CheckMessage]:
    """System check backend.W001: the application connects as the owner of the tables."""
    if not uses_one_role():
        return []
    return [
        checks.Warning(
            "The application connects to PostgreSQL as the owner of its tables, so the "
            "serving process could disable the audit log's protections.",
            hint="Set DATABASE_OWNER_URL to the owner's URL and DATABASE_URL to an application "
            "role's (README: Using an existing PostgreSQL).",
            id="backend.W001",
        )
    ]
