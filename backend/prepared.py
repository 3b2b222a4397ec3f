"""Hot read statements run prepared: planned once per database connection, not per request.

The traveller lookup reads everything in one statement over the partner rule
(``backend.services.lookups``); PostgreSQL took about 4 ms to plan it and half a millisecond
to run it. Django's cursors bind parameters on the client and Django turns psycopg's prepared
statements off, so ``fetch_prepared`` runs such a statement on a server-binding psycopg cursor
of the same connection (in the same transaction) and asks psycopg to prepare it (settings turn
preparing on for statements that ask, ``prepare_threshold``): the first executions are planned
as usual, later ones reuse the plan (0.4 ms in all, at 100,000 tips). The statement is still
logged where Django logs queries (``connection.queries``, ``CaptureQueriesContext``), so
statement counts stay honest.

``DATABASE_PREPARED_STATEMENTS`` (``TIPGRAPH_DB_PREPARED_STATEMENTS=0``) turns preparing off,
for a connection pooler that cannot keep prepared statements (PgBouncer before 1.21 in
transaction mode).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

__all__ = ["fetch_prepared"]


def fetch_prepared(
    sql: str, params: Sequence[Any] | Mapping[str, Any], *, using: str = DEFAULT_DB_ALIAS
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``%s`` or ``%(name)s`` placeholders) run with ``params`` as a
    prepared statement on Django's connection ``using``, inside its current transaction if
    any; a database error is raised as Django's (``django.db.IntegrityError``...)."""
    connection = connections[using]
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=bool(settings.DATABASE_PREPARED_STATEMENTS))
        rows = cursor.fetchall()
    if connection.queries_logged:  # as Django logs its own: the text with its values in it
        with psycopg.ClientCursor(connection.connection) as client:
            text = client.mogrify(sql, params)
        elapsed = f"{time.monotonic() - started:.3f}"
        # (and as run, for a benchmark that replays it prepared: bench/request_path_bench.py)
        connection.queries_log.append({"sql": text, "time": elapsed, "prepared": (sql, params)})
    return rows
