"""The one writer of audit rows, and the context id that ties record changes to an operation.

``write_event`` is the only code that inserts into the audit log (record changes are
written by database triggers, never by Python). The database numbers and chains the row;
``write_event`` returns it with ``seq``, ``prev_hash``, ``row_hash`` and ``occurred_at`` as
the database stored them.

Writes of domain records are tied to the operation that made them through a context id:
``set_context(new_context())`` inside the operation's transaction, before it writes, and the
same id as ``write_event(context_id=...)``. The setting is transaction-local: it ends with the
transaction, so nothing is left on a connection for its next user (``set_context(None)``
clears it earlier within the same transaction).

Write the audit row outside the operation's own transaction (or after it committed): a row
written inside a transaction that is rolled back is rolled back with it. The chain trigger
holds an advisory lock until the writing transaction ends, so keep that transaction short.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import NOT_PROVIDED

from audit.models import AuditEvent, AuditQueryText, RecordChange
from backend.prepared import fetch_prepared, set_local

__all__ = [
    "CONTEXT_SETTING",
    "REDACTED",
    "current_context",
    "new_context",
    "query_text_hash",
    "set_context",
    "write_event",
]

#: The PostgreSQL setting the record-change trigger reads the context id from.
CONTEXT_SETTING = "tipgraph.audit_context"

#: What a secret variable is replaced with before it is logged.
REDACTED = "[redacted]"

#: Characters PostgreSQL cannot store in text: NUL, and UTF-16 surrogates on their own (a
#: JSON request may carry one as an escape, "\\ud800").
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

#: Variable names (compared case-insensitively, ignoring "_" and "-") whose values are secret.
_SECRET_NAMES = frozenset({"password", "token", "secret", "apikey", "key", "rawkey"})
_SECRET_PARTS = ("password", "secret")


def query_text_hash(text: str) -> str:
    """The key of a query text in ``AuditQueryText``: SHA-256 (hex) of its UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


def write_event(
    *,
    query: str | None = None,
    changes_named: dict[str, str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    **fields: Any,
) -> AuditEvent:
    """Append one row to the audit log and return it as stored.

    ``fields`` are ``AuditEvent`` fields (``kind``, ``outcome``, ``user_id``, ``username``,
    ``role``, ``auth_method``, ``client_address``, ``user_agent``, ``operation_type``,
    ``operation_name``, ``variables``, ``error_codes``, ``duration_ms``, ``records_returned``,
    ``records_changed``, ``context_id``, and optionally ``occurred_at``; the database's clock
    is used when it is left out). ``query`` is the query text: it is stored once in
    ``AuditQueryText`` and the row refers to it by hash (an empty text is not stored).
    ``seq``, ``prev_hash`` and ``row_hash`` are set by the database and may not be given.

    ``changes_named`` (table name -> type name) has the database fill ``records_changed``
    itself: the records of those tables changed under the row's ``context_id``, as
    ``"Type:id"``, sorted. The query text, the change lookup and the chained row are one
    statement, one round trip.

    Values are made storable rather than refused, so that a hostile request cannot prevent
    its own audit row: NUL characters and lone surrogates (which PostgreSQL cannot store)
    become U+FFFD, text longer than its column (an operation name, say) is cut to fit (the
    query text keeps it whole), and the values of variables named like a password, secret or
    token are replaced by ``REDACTED``.

    ``using`` names another connection to write on (the disposal worker writes its batch
    events on its own, in the batch's transaction).
    """
    connection = connections[using]
    chained = {"seq", "prev_hash", "row_hash", "pk", "id"} & fields.keys()
    if chained:
        raise TypeError(f"write_event: {sorted(chained)} are set by the database")
    if changes_named is not None and "records_changed" in fields:
        raise TypeError("write_event: records_changed is given or looked up, not both")
    fields = {name: _storable(value) for name, value in fields.items()}
    if "variables" in fields:
        fields["variables"] = _redact(fields["variables"] or {})
    for name in ("error_codes", "records_returned", "records_changed"):
        if name in fields:
            fields[name] = _strings(fields[name])
    fields = {name: _fitted(name, value) for name, value in fields.items()}
    sql, params, text_params = [], [], []
    columns: list[str] = []
    for field in _WRITTEN_FIELDS:
        if field.name in fields:
            value = fields[field.name]
        elif field.db_default is not NOT_PROVIDED:
            continue  # the database's (the time of the row)
        else:
            value = field.get_default()  # as the ORM would: "" for text, [] for arrays...
        columns.append(connection.ops.quote_name(field.column))
        sql.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    prefix = ""
    if query:
        text = _storable(query)
        digest = query_text_hash(text)
        prefix = (
            f"WITH _text AS (INSERT INTO {AuditQueryText._meta.db_table} (hash, text) "
            "VALUES (%s, %s) ON CONFLICT (hash) DO NOTHING) "
        )
        text_params = [digest, text]
        columns.append("query_hash_id")
        sql.append("%s")
        params.append(digest)
    columns.append("records_changed")
    if changes_named is None:
        sql.append("%s")
        params.append(fields.get("records_changed", []))
    else:
        sql.append(_CHANGED_SQL)
        params += [list(changes_named), list(changes_named.values()), fields.get("context_id")]
    statement = (
        f"{prefix}INSERT INTO {AuditEvent._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(sql)}) RETURNING {', '.join(_RETURNED)}"
    )
    # prepared (planned once per connection and shape of row): the statement is the same for
    # every request of a kind, and planning its CTEs cost the database more than running them
    [stored] = fetch_prepared(statement, [*text_params, *params], using=using)
    row = dict(zip(_RETURNED, stored, strict=True))
    event = AuditEvent(**{**fields, "id": row.pop("id")})
    for name, value in row.items():
        setattr(event, name, value)
    if query:
        event.query_hash_id = digest
    event._state.adding = False
    event._state.db = connection.alias
    return event


#: The columns ``write_event`` writes (the database sets the id, the chain and, by default, the
#: time; the query text's hash and ``records_changed`` are written separately).
_WRITTEN_FIELDS = [
    field
    for field in AuditEvent._meta.concrete_fields
    if field.name
    not in {
        "id",
        "seq",
        "prev_hash",
        "row_hash",
        "payload_digest",
        "redacted_by_run",
        "query_hash",
        "records_changed",
    }
]
#: What the database decides, read back by ``RETURNING``.
_RETURNED = ("id", "seq", "occurred_at", "prev_hash", "row_hash", "records_changed")
#: ``records_changed`` looked up in the statement that writes the row: the records of the
#: named tables changed under the row's context id, as "Type:id", distinct, sorted by code
#: point (as Python sorts them), each cut to the column's length.
_NAMED_LENGTH = AuditEvent._meta.get_field("records_changed").base_field.max_length
_CHANGED_SQL = f"""COALESCE((
    SELECT array_agg(LEFT(named, {_NAMED_LENGTH})
                     ORDER BY named COLLATE "C")
    FROM (
        SELECT DISTINCT t.type_name || ':' || c.row_id AS named
        FROM {RecordChange._meta.db_table} c
        JOIN unnest(%s::text[], %s::text[]) AS t(table_name, type_name)
          ON t.table_name = c.table_name
        WHERE c.context_id = %s
    ) AS changed
), '{{}}')"""


def new_context() -> uuid.UUID:
    """A fresh context id for one operation."""
    return uuid.uuid4()


def set_context(
    context_id: uuid.UUID | None, *, using: str = DEFAULT_DB_ALIAS, defer: bool = False
) -> None:
    """Tie the database writes that follow, on this connection, to ``context_id``.

    ``None`` clears it. The setting lasts until the current transaction ends (``SET LOCAL``),
    so no context outlives the operation that set it, even when the database connection is
    shared between clients (PgBouncer in transaction mode): every caller sets it inside the
    transaction of the writes it names. With ``defer`` (a GraphQL operation's), it is sent
    with the next statement of the transaction rather than on its own
    (``backend.prepared.set_local``).
    """
    value = "" if context_id is None else str(uuid.UUID(str(context_id)))
    set_local(CONTEXT_SETTING, value, using=using, defer=defer)


def current_context() -> uuid.UUID | None:
    """The context id set on this connection, if any."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [CONTEXT_SETTING])
        (value,) = cursor.fetchone()
    return uuid.UUID(value) if value else None


def _storable(value: Any) -> Any:
    """``value`` with NUL characters and lone surrogates replaced in every string,
    recursively."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _fitted(name: str, value: Any) -> Any:
    """``value`` cut to the length of its ``AuditEvent`` column (each item, for an array)."""
    try:
        field = AuditEvent._meta.get_field(name)
    except FieldDoesNotExist:
        return value
    if isinstance(field, ArrayField) and isinstance(value, list):
        limit = getattr(field.base_field, "max_length", None)
        return [v[:limit] if limit and isinstance(v, str) else v for v in value]
    limit = getattr(field, "max_length", None)
    return value[:limit] if limit and isinstance(value, str) else value


def _is_secret(name: str) -> bool:
    folded = name.lower().replace("_", "").replace("-", "")
    return folded in _SECRET_NAMES or any(part in folded for part in _SECRET_PARTS)


def _redact(value: Any) -> Any:
    """``value`` with the values of secret-looking keys replaced, recursively."""
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _strings(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in values or ()]
