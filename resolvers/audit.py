"""The auditor's queries: search the audit log, count partner-agency operations per day."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet

from audit import search as service
from audit.models import AuditEvent
from audit.search import AuditSearch

__all__ = ["audit_events", "investigator_query_volume"]


def audit_events(where: AuditSearch | None) -> QuerySet[AuditEvent]:
    """The audit rows matching ``where``, newest first (the connection pages them)."""
    return service.audit_search(where)


def investigator_query_volume(
    *, occurred_from: datetime.datetime, occurred_to: datetime.datetime
) -> list[dict[str, Any]]:
    return service.investigator_query_volume(occurred_from=occurred_from, occurred_to=occurred_to)
