"""Searching the audit log: the ``auditEvents`` query, the audit CSV export and the count of
partner-agency operations per day read it through here."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from audit.models import AuditEvent
from backend.models import Role

__all__ = ["AuditSearch", "audit_search", "investigator_query_volume"]


@dataclass(frozen=True)
class AuditSearch:
    """What to look for; every field given narrows the result. ``record`` is the record's
    ``(type name, id)`` as the audit rows name it ("Tip", "12")."""

    username: str | None = None
    role: str | None = None
    kind: str | None = None
    outcome: str | None = None
    operation_name: str | None = None
    occurred_from: datetime.datetime | None = None
    occurred_to: datetime.datetime | None = None
    record: tuple[str, str] | None = None
    seen_only: bool = False


def audit_search(where: AuditSearch | None) -> QuerySet[AuditEvent]:
    """The audit rows matching ``where``, newest first."""
    queryset = AuditEvent.objects.all()
    if where is None:
        return queryset.order_by("-seq")
    exact = {
        "username": where.username,
        "role": where.role,
        "kind": where.kind,
        "outcome": where.outcome,
        "operation_name": where.operation_name,
    }
    queryset = queryset.filter(**{k: v for k, v in exact.items() if v})
    if where.occurred_from:
        queryset = queryset.filter(occurred_at__gte=where.occurred_from)
    if where.occurred_to:
        queryset = queryset.filter(occurred_at__lt=where.occurred_to)
    if where.record is not None:
        key = f"{where.record[0]}:{where.record[1]}"
        seen = Q(records_returned__contains=[key])
        queryset = queryset.filter(
            seen if where.seen_only else seen | Q(records_changed__contains=[key])
        )
    return queryset.order_by("-seq")


def investigator_query_volume(
    *, occurred_from: datetime.datetime, occurred_to: datetime.datetime
) -> list[dict[str, Any]]:
    """Investigators' operations per day and user (``day``, ``username``, ``operations``,
    ``lookups``, ``denied``), in that order."""
    rows = (
        AuditEvent.objects.filter(
            kind="OPERATION",
            role=Role.INVESTIGATOR,
            occurred_at__gte=occurred_from,
            occurred_at__lt=occurred_to,
        )
        .annotate(day=TruncDate("occurred_at"))
        .values("day", "username")
        .annotate(
            operations=Count("pk"),
            lookups=Count("pk", filter=Q(query_hash__text__contains="travellerLookup")),
            denied=Count("pk", filter=Q(outcome="DENIED")),
        )
        .order_by("day", "username")
    )
    return list(rows)
