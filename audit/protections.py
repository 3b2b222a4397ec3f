"""Record history on every table the model registry tracks, attached by construction.

``audit_capture_change()`` (audit migration 0002) copies a row's before and after into
``audit_recordchange``. Which tables carry its trigger, and which columns each leaves out, is
read from ``backend.registry`` after every ``migrate`` (as the owner): a tracked table gets
the trigger, an exempt one loses it. No list of tables is kept anywhere else, so a model
added later is tracked by the same run of ``migrate`` that creates its table.

Bulk writers record history per statement instead: ``audit_capture_statement()`` (audit
migration 0005), attached to every tracked table keyed by ``id`` as AFTER ... FOR EACH
STATEMENT triggers with transition tables, writes the same before/after rows in one INSERT per
statement. It fires only while the transaction's ``tipgraph.history`` setting is 'statement'
(``backend.intake.importer`` sets it for its batches), and the row trigger only while it is
not, so every write is captured exactly once whatever the setting.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import sql

from backend.registry import HISTORY_MODE_SETTING, Tracked, entry_for, registered_models

__all__ = [
    "BULK_HISTORY_SETTING",
    "HISTORY_TRIGGER",
    "STATEMENT_TRIGGERS",
    "history_tables",
    "sync_history_triggers",
    "triggered_tables",
]

HISTORY_TRIGGER = "audit_capture_change"
#: The per-statement history triggers (audit migration 0005), one per event, attached beside
#: the row trigger to every tracked table keyed by ``id``: they fire only while the
#: transaction's ``BULK_HISTORY_SETTING`` is 'statement' (a bulk writer sets it), the row
#: trigger in every other case, so each write is captured exactly once.
STATEMENT_TRIGGERS = {
    "INSERT": ("audit_capture_statement_insert", "REFERENCING NEW TABLE AS new_rows"),
    "UPDATE": (
        "audit_capture_statement_update",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    "DELETE": ("audit_capture_statement_delete", "REFERENCING OLD TABLE AS old_rows"),
}
BULK_HISTORY_SETTING = HISTORY_MODE_SETTING
_ROW_WHEN = f"current_setting('{BULK_HISTORY_SETTING}', true) IS DISTINCT FROM 'statement'"
_STATEMENT_WHEN = f"current_setting('{BULK_HISTORY_SETTING}', true) = 'statement'"


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
        cursor.execute("SELECT to_regprocedure('audit_capture_statement()') IS NOT NULL")
        per_statement = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND a.attname = 'id' AND NOT a.attisdropped"
        )
        keyed = {name for (name,) in cursor.fetchall()} if per_statement else set()
        for table, hidden in sorted(wanted.items()):
            args = sql.SQL(", ").join(sql.Literal(column) for column in hidden)
            cursor.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON "
                    "{table} FOR EACH ROW {when} EXECUTE FUNCTION audit_capture_change({args})"
                ).format(
                    trigger=sql.Identifier(HISTORY_TRIGGER),
                    table=sql.Identifier(table),
                    when=sql.SQL(f"WHEN ({_ROW_WHEN})" if table in keyed else ""),
                    args=args,
                )
            )
            for event, (trigger, referencing) in STATEMENT_TRIGGERS.items():
                if table in keyed:
                    statement = sql.SQL(
                        "CREATE OR REPLACE TRIGGER {trigger} AFTER {event} ON {table} "
                        "{referencing} FOR EACH STATEMENT WHEN ({when}) "
                        "EXECUTE FUNCTION audit_capture_statement({args})"
                    ).format(
                        trigger=sql.Identifier(trigger),
                        event=sql.SQL(event),
                        table=sql.Identifier(table),
                        referencing=sql.SQL(referencing),
                        when=sql.SQL(_STATEMENT_WHEN),
                        args=args,
                    )
                else:
                    statement = sql.SQL("DROP TRIGGER IF EXISTS {trigger} ON {table}").format(
                        trigger=sql.Identifier(trigger), table=sql.Identifier(table)
                    )
                cursor.execute(statement)
        for table in sorted(set(triggered_tables(connection)) - set(wanted)):
            cursor.execute(
                sql.SQL("DROP TRIGGER {trigger} ON {table}").format(
                    trigger=sql.Identifier(HISTORY_TRIGGER), table=sql.Identifier(table)
                )
            )
            for trigger, _ in STATEMENT_TRIGGERS.values():
                cursor.execute(
                    sql.SQL("DROP TRIGGER IF EXISTS {trigger} ON {table}").format(
                        trigger=sql.Identifier(trigger), table=sql.Identifier(table)
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
