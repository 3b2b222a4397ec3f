"""Helpers of the audit tests: a plain audit row, and the owner tampering with the log."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent
from audit.writer import write_event
from tests.owner import owner_cursor

__all__ = ["as_tampering_superuser", "operation"]


def operation(name: str = "TipQuery", **fields: Any) -> AuditEvent:
    """Write an ALLOWED query row of an analyst, with ``fields`` overriding."""
    values: dict[str, Any] = {
        "kind": "OPERATION",
        "outcome": "ALLOWED",
        "user_id": 7,
        "username": "analyst-user",
        "role": "ANALYST",
        "auth_method": "session",
        "client_address": "192.0.2.10",
        "user_agent": "pytest",
        "operation_type": "query",
        "operation_name": name,
        "variables": {"id": "VGlwOjE="},
        "records_returned": ["Tip:1"],
        **fields,
    }
    return write_event(**values)


def as_tampering_superuser(table: str, sql: str, params: list[Any] | None = None) -> int:
    """Run ``sql`` on ``table`` with its user triggers disabled, as only the table owner or a
    superuser can (the application role cannot), and re-enable them; returns the rows
    affected. Commits on the owner's connection: the calling test must be transactional."""
    with owner_cursor() as cursor:
        # ALTER TABLE refuses while deferred foreign-key checks on the table are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        affected = cursor.rowcount
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")
    return affected
