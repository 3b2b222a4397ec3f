"""Read replicas: statistics may read from one; nothing else does.

``DATABASE_REPLICA_URL`` adds the ``replica`` database alias (``backend.database``): a
PostgreSQL streaming replica (hot standby) of the primary, as the application role. The rule
is conservative: a read goes to the replica only when all of these hold:

- a replica is configured;
- the code asked for it, inside ``reading_from_replica()`` (the statistics service,
  ``backend.services.statistics``, whose answers are aggregates that may lag the primary by
  the replication delay);
- the primary's current transaction has written nothing (``pg_current_xact_id_if_assigned()``
  is null): what a transaction wrote is read back from the primary, where it is;
- for ORM reads, the model is not of an app that is audited or disclosing (``audit``, the
  sessions and sign-in lockouts).

Writes always go to the primary (even for an instance read from the replica), migrations
never run on the replica, and everything outside ``reading_from_replica()`` (lookups,
disclosures, the audit log, every resolver) reads the primary as it did before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

__all__ = [
    "PRIMARY_ONLY_APPS",
    "REPLICA",
    "ReplicaRouter",
    "read_alias",
    "read_cursor",
    "reading_from_replica",
    "replica_configured",
]

#: The alias of the read replica in ``settings.DATABASES``.
REPLICA = "replica"
#: Apps whose models are always read from the primary: the audit log (and what it accounts
#: for), sessions, sign-in lockouts.
PRIMARY_ONLY_APPS = frozenset({"audit", "sessions", "axes", "admin"})

_reading: ContextVar[bool] = ContextVar("tipgraph_reading_from_replica", default=False)


def replica_configured() -> bool:
    """Whether ``DATABASE_REPLICA_URL`` configured a replica."""
    return REPLICA in connections.settings


@contextmanager
def reading_from_replica() -> Iterator[None]:
    """Within the block, reads may go to the replica (see the module's rules)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def _primary_has_written() -> bool:
    """Whether the primary's current transaction has written anything (and so holds rows the
    replica cannot have). Outside a transaction (autocommit) nothing is pending."""
    primary = connections[DEFAULT_DB_ALIAS]
    if not primary.in_atomic_block:
        return False
    with primary.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
        (written,) = cursor.fetchone()
    return bool(written)


def read_alias() -> str:
    """The alias a read may use now: ``replica`` inside ``reading_from_replica()`` when one is
    configured and the primary's transaction has written nothing, else ``default``."""
    if not _reading.get() or not replica_configured() or _primary_has_written():
        return DEFAULT_DB_ALIAS
    return REPLICA


@contextmanager
def read_cursor() -> Iterator[CursorWrapper]:
    """A cursor, in a transaction, for read-only raw SQL that may run on the replica.

    The statistics service runs its queries here inside ``reading_from_replica()``; outside it
    (or with no replica) this is a cursor on the primary, in a transaction (a savepoint within
    the request's), as before. Settings made with ``set_config(..., true)`` end with it.
    """
    alias = read_alias()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        yield cursor


class ReplicaRouter:
    """``settings.DATABASE_ROUTERS``: the rules above, for ORM queries."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return DEFAULT_DB_ALIAS
        alias = read_alias()
        return alias if alias == REPLICA else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        aliases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None
