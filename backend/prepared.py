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

A transaction's own settings (``set_config(name, value, true)``: the audit context of an
operation) can be left to ride with the next statement instead of a round trip of their own
(``set_local(..., defer=True)``): ``fetch_prepared_value`` sends them in its statement; any
other statement on the connection, through Django's cursors or ``fetch_prepared``, sends them
just before it, so no statement of the transaction runs without them (a COPY, which Django's
cursors pass straight to psycopg, calls ``send_deferred`` first). A deferred setting the
transaction never needed ends with it, unsent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

__all__ = ["fetch_prepared", "fetch_prepared_value", "send_deferred", "set_local"]

#: Where a connection keeps its deferred settings: the outermost atomic block they belong to,
#: and the settings by name.
_DEFERRED = "_tipgraph_deferred_settings"
_SET_SQL = "SELECT set_config(%s, %s, true)"
#: Appended to a scalar statement: applies the deferred settings (two arrays: names, values).
_CARRY_SQL = "(SELECT count(set_config(n, v, true)) FROM unnest(%s::text[], %s::text[]) AS s(n, v))"


def set_local(name: str, value: str, *, using: str = DEFAULT_DB_ALIAS, defer: bool = False) -> None:
    """``set_config(name, value, true)``: ``name`` is ``value`` until the transaction ends.

    With ``defer``, inside ``transaction.atomic``, nothing is sent now: the next statement on
    the connection carries the setting or is preceded by it (see the module's description).
    Outside a transaction, or without ``defer``, it is sent at once, and replaces a deferred
    value of the same name."""
    connection = connections[using]
    if defer and connection.in_atomic_block:
        block = connection.atomic_blocks[0]
        state = connection.__dict__.get(_DEFERRED)
        if state is None or state[0] is not block:
            state = (block, {})
            setattr(connection, _DEFERRED, state)
        state[1][name] = value
        if _send_deferred not in connection.execute_wrappers:
            # first, so that it runs before any other wrapper's work (and a test's
            # ``execute_wrapper`` block, which pops the last one, never removes it)
            connection.execute_wrappers.insert(0, _send_deferred)
        return
    state = connection.__dict__.get(_DEFERRED)
    if state is not None:
        state[1].pop(name, None)
    with connection.cursor() as cursor:
        cursor.execute(_SET_SQL, [name, value])


def _take_deferred(connection: Any) -> dict[str, str]:
    """The connection's deferred settings of its current transaction, now no longer deferred
    (those of a transaction that has ended are dropped)."""
    state = connection.__dict__.pop(_DEFERRED, None)
    if state is None or not state[1]:
        return {}
    blocks = connection.atomic_blocks
    return state[1] if blocks and blocks[0] is state[0] else {}


def _send_deferred(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """Django's execute wrapper: the deferred settings go before the statement."""
    _send_now(context["connection"])
    return execute(sql, params, many, context)


def send_deferred(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Send the connection's deferred settings now, if any: before a statement that Django's
    execute wrappers do not see (a COPY)."""
    _send_now(connections[using])


def _send_now(connection: Any) -> None:
    """Send ``connection``'s deferred settings, if any, each in a statement of its own."""
    if connection.__dict__.get(_DEFERRED) is None:
        return  # (every statement passes here: nothing to take apart)
    for name, value in _take_deferred(connection).items():
        with connection.cursor() as cursor:
            cursor.execute(_SET_SQL, [name, value])


def fetch_prepared(
    sql: str,
    params: Sequence[Any] | Mapping[str, Any],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``%s`` or ``%(name)s`` placeholders) run with ``params`` as a
    prepared statement on Django's connection ``using``, inside its current transaction if
    any; a database error is raised as Django's (``django.db.IntegrityError``...)."""
    connection = connections[using]
    _send_now(connection)
    return _run(connection, sql, params)


def fetch_prepared_value(sql: str, params: Sequence[Any], *, using: str = DEFAULT_DB_ALIAS) -> Any:
    """The value of the scalar ``sql`` (one column, at most one row; ``%s`` placeholders), or
    ``None`` when it has no row, run prepared as ``fetch_prepared`` does; the connection's
    deferred settings (``set_local``) are applied by the same statement."""
    connection = connections[using]
    deferred = _take_deferred(connection)
    statement = f"SELECT ({sql}), {_CARRY_SQL}"
    [(value, _)] = _run(connection, statement, [*params, list(deferred), list(deferred.values())])
    return value


def _run(
    connection: Any,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any],
) -> list[tuple[Any, ...]]:
    connection.ensure_connection()
    prepared = bool(settings.DATABASE_PREPARED_STATEMENTS)
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=prepared)
        rows = cursor.fetchall()
    if connection.queries_logged:  # as Django logs its own: the text with its values in it
        elapsed = f"{time.monotonic() - started:.3f}"
        with psycopg.ClientCursor(connection.connection) as client:
            text = client.mogrify(sql, params)
        entry: dict[str, Any] = {"sql": text, "time": elapsed}
        if prepared:  # as run, for a benchmark that replays it prepared (request_path_bench)
            entry["prepared"] = (sql, params)
        connection.queries_log.append(entry)
    return rows
