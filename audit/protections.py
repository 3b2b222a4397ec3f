"""Record history on every table the model registry tracks, attached by construction.

``audit_capture_change()`` (audit migration 0002) copies a row's before and after into
``audit_recordchange``. Which tables carry its trigger, and which columns each leaves out, is
read from ``backend.registry`` after every ``migrate`` (as the owner): a tracked table gets
the trigger, an exempt one loses it. No list of tables is kept anywhere else, so a model
added later is tracked by the same run of ``migrate`` that creates its table.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import sql

from backend.registry import Tracked, entry_for, registered_models

__all__ = ["HISTORY_TRIGGER", "history_tables", "sync_history_triggers", "triggered_tables"]

HISTORY_TRIGGER = "audit_capture_change"


def history_tables() -> dict[str, tuple[str, ...]]:
    """Table -> columns left out of its history, for every tracked model."""
    tables = {}
    for model in registered_models():
        entry = entry_for(model)
        if isinstance(entry, Tracked):
            tables[model._meta.db_table] = entry.hidden
    return tables


def triggered_tables(connection: BaseDatabaseWrapper) -> dict[str, tuple[str, ...]]:
    """Table -> trigger arguments, for every table that carries the history trigger now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgargs, t.tgnargs FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal",
            [HISTORY_TRIGGER],
        )
        rows = cursor.fetchall()
    result = {}
    for table, raw_args, count in rows:
        args = bytes(raw_args).split(b"\x00")[:count]
        result[table] = tuple(arg.decode() for arg in args)
    return result


def sync_history_triggers(connection: BaseDatabaseWrapper) -> None:
    """Attach the history trigger to every tracked table that exists; drop it elsewhere."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('audit_capture_change()') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return  # the audit migrations have not run (yet)
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        existing = {name for (name,) in cursor.fetchall()}
        wanted = {t: hidden for t, hidden in history_tables().items() if t in existing}
        for table, hidden in sorted(wanted.items()):
            cursor.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON "
                    "{table} FOR EACH ROW EXECUTE FUNCTION audit_capture_change({args})"
                ).format(
                    trigger=sql.Identifier(HISTORY_TRIGGER),
                    table=sql.Identifier(table),
                    args=sql.SQL(", ").join(sql.Literal(column) for column in hidden),
                )
            )
        for table in sorted(set(triggered_tables(connection)) - set(wanted)):
            cursor.execute(
                sql.SQL("DROP TRIGGER {trigger} ON {table}").format(
                    trigger=sql.Identifier(HISTORY_TRIGGER), table=sql.Identifier(table)
                )
            )


def _after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate, once per run: only the owner may create triggers (a flush is skipped)."""
    from backend.database_roles import is_owner

    if sender.label != "audit":
        return
    connection = connections[using]
    if is_owner(connection):
        sync_history_triggers(connection)


def connect_signals() -> None:
    """Called from ``AuditConfig.ready``."""
    from django.db.models.signals import post_migrate

    post_migrate.connect(_after_migrate, dispatch_uid="audit.protections.sync")
