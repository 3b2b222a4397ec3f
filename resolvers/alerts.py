"""Alerts: the caller's alerts, and their acknowledgement."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import alerts as service
from permissions.scoping import scope_queryset
from resolvers.common import Outcome, acting_user, load_many, run

__all__ = ["acknowledge_alerts", "alerts"]


def alerts(info: Info, *, unacknowledged: bool, kinds: Iterable[str] | None) -> QuerySet[m.Alert]:
    """The alerts addressed to the caller (an investigator: theirs; an analyst: theirs and
    their office's), newest first; only the open ones with ``unacknowledged``."""
    found = scope_queryset(m.Alert.objects.all(), acting_user(info))
    if unacknowledged:
        found = found.filter(acknowledged_at__isnull=True)
    if kinds:
        found = found.filter(kind__in=list(kinds))
    return found.order_by("-created_at", "-id")


def acknowledge_alerts(info: Info, ids: list[relay.GlobalID]) -> Outcome:
    """Acknowledge the caller's alerts ``ids`` (all or none)."""

    def action() -> list[m.Alert]:
        found = load_many(info, ids, m.Alert, field="ids")
        return service.acknowledge_alerts(alerts=found, by=acting_user(info))

    return run(action)
