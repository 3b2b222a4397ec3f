"""The database owner's own connection, for tests that play the owner (or a superuser).

The tests run as the application role (tests/conftest.py); what only the owner can do
(disable a trigger, rewrite the audit log) happens on a separate connection to the same test
database, which commits: such tests use ``django_db(transaction=True)`` so that both
connections see the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection

__all__ = ["owner_cursor"]


@contextmanager
def owner_cursor() -> Iterator[psycopg.Cursor]:
    """A cursor of the owner on the test database, committed when the block ends."""
    owner = settings.DATABASE_OWNER
    params = {
        "dbname": connection.settings_dict["NAME"],
        "user": owner["USER"],
        "password": owner["PASSWORD"] or None,
        "host": owner["HOST"] or None,
        "port": owner["PORT"] or None,
        **owner["OPTIONS"],
    }
    with (
        psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn,
        conn.cursor() as cursor,
    ):
        yield cursor
