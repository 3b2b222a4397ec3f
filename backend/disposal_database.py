"""The disposal role: the one database role that may delete notes and history and redact the
audit log, and only while it carries out an approved disposal run.

Notes, record history and the audit log refuse UPDATE and DELETE to every role
(``backend/migrations/0002_note_append_only.py``, ``audit/migrations/0002_triggers.py``).
Since ``audit/migrations/0004_disposal.py`` their triggers make one exception: a member of the
role ``tipgraph_disposal`` (``DISPOSAL_ROLE``) whose transaction names a RUNNING disposal run
in the setting ``tipgraph.disposal_run`` may delete those rows, and may rewrite an audit or
history row only into its redacted form naming that run. The application role is no member,
so neither the server nor anyone signed in to it can do it, setting or not.

The disposal worker connects as that role through the database alias ``disposal``
(``DATABASE_DISPOSAL_URL``; without it, the application's server and database as the user
``tipgraph_disposal``, which the embedded server and a local server trusting local users
accept without a password). ``migrate`` creates the role when it is missing (with the URL's
password), makes the URL's user a member when it is another role, and grants it DML on the
tables of the model registry. Keep ``DATABASE_DISPOSAL_URL`` in the environment of the worker
that runs the ``disposal`` queue only, as ``DATABASE_OWNER_URL`` is kept in migrate's only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql

from backend.database import CONNECTION_KEYS, parse_database_url

__all__ = [
    "DISPOSAL_ALIAS",
    "DISPOSAL_ROLE",
    "RUN_SETTING",
    "connect_signals",
    "disposal_cursor",
    "disposal_settings",
    "grant_disposal_role",
]

log = logging.getLogger(__name__)

#: The group role the triggers check (``pg_has_role(current_user, ..., 'MEMBER')``).
DISPOSAL_ROLE = "tipgraph_disposal"
#: The Django database alias the disposal worker writes through.
DISPOSAL_ALIAS = "disposal"
#: The transaction-local setting naming the run a transaction carries out.
RUN_SETTING = "tipgraph.disposal_run"

_ROLE_ATTRIBUTES = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def disposal_settings(default: dict[str, Any]) -> dict[str, Any]:
    """The ``disposal`` database: ``DATABASE_DISPOSAL_URL``, else ``default``'s server and
    database as ``tipgraph_disposal`` without a password. In a test run it mirrors the test
    database (``TEST["MIRROR"]``): no database of its own."""
    url = os.environ.get("DATABASE_DISPOSAL_URL", "").strip()
    config = {key: value for key, value in default.items() if key != "TEST"}
    config["OPTIONS"] = {k: v for k, v in default.get("OPTIONS", {}).items() if k != "pool"}
    if url:
        parsed = parse_database_url(url)
        for key in CONNECTION_KEYS:
            config[key] = parsed[key]
    else:
        config["USER"], config["PASSWORD"] = DISPOSAL_ROLE, ""
    # One connection per batch, closed after it: a worker holds none between runs.
    config["CONN_MAX_AGE"] = 0
    config["TEST"] = {"MIRROR": "default"}
    return config


@contextmanager
def disposal_cursor(run_id: int) -> Iterator[Any]:
    """A cursor on the ``disposal`` connection inside its current transaction, with the run
    named in ``tipgraph.disposal_run`` until the transaction ends (``SET LOCAL``)."""
    from django.db import connections

    connection = connections[DISPOSAL_ALIAS]
    if not connection.in_atomic_block:
        raise RuntimeError("a disposal batch runs inside transaction.atomic(using='disposal')")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [RUN_SETTING, str(int(run_id))])
        yield cursor


def _role_exists(cursor: Any, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def grant_disposal_role(connection: Any) -> None:
    """As the owner: create ``tipgraph_disposal`` if missing (able to log in when it is the
    ``disposal`` alias's user), make the alias's user a member when it is another role, and
    grant the role DML on every table of the model registry and the sequences behind them."""
    from django.conf import settings

    from backend.database_roles import privileges_by_table

    user = settings.DATABASES.get(DISPOSAL_ALIAS, {}).get("USER") or DISPOSAL_ROLE
    password = settings.DATABASES.get(DISPOSAL_ALIAS, {}).get("PASSWORD") or None
    ident = sql.Identifier(DISPOSAL_ROLE)
    with connection.cursor() as cursor:
        if not _role_exists(cursor, DISPOSAL_ROLE):
            login = "LOGIN" if user == DISPOSAL_ROLE else "NOLOGIN"
            cursor.execute(
                sql.SQL("CREATE ROLE {} " + login + " " + _ROLE_ATTRIBUTES).format(ident)
            )
            if password and user == DISPOSAL_ROLE:
                cursor.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password))
                )
        if user != DISPOSAL_ROLE and _role_exists(cursor, user):
            cursor.execute(sql.SQL("GRANT {} TO {}").format(ident, sql.Identifier(user)))
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        existing = {name for (name,) in cursor.fetchall()}
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        cursor.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident)
        )
        for table in sorted(set(privileges_by_table()) & existing):
            cursor.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in _PRIVILEGES),
                    sql.Identifier(table),
                    ident,
                )
            )


def _after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate, as the owner: the disposal role and its grants (a flush is skipped)."""
    from django.db import connections, transaction
    from django.db.utils import DatabaseError

    from backend.database_roles import is_owner

    if sender.label != "backend":
        return
    connection = connections[using]
    if not is_owner(connection):
        return
    try:
        with transaction.atomic(using=using):
            grant_disposal_role(connection)
    except DatabaseError as error:  # no CREATEROLE: the agency creates the role itself
        log.warning(
            "could not set up the database role %s (%s): create it, make the disposal "
            "worker's user a member, and run manage.py setup_database_roles",
            DISPOSAL_ROLE,
            error,
        )


def connect_signals() -> None:
    """Called from ``BackendConfig.ready``."""
    from django.db.models.signals import post_migrate

    post_migrate.connect(_after_migrate, dispatch_uid="backend.disposal_database.grant")
