"""Retention: legal holds (list, place, lift), the disposal preview, and disposal runs (list,
request, approve, cancel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Model, QuerySet
from django.utils import timezone
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.registry import type_name
from backend.retention import Category
from backend.services import disposal
from backend.services import legal_holds as service
from backend.services.retention import CategoryPreview
from backend.services.retention import disposal_preview as preview
from permissions.scoping import scope_queryset
from resolvers.common import Outcome, acting_user, load, run

__all__ = [
    "HOLDABLE_TYPES",
    "approve_disposal",
    "cancel_disposal",
    "disposal_preview",
    "disposal_runs",
    "legal_holds",
    "lift_hold",
    "place_hold",
    "request_disposal",
]

#: GraphQL type name -> model of every record a legal hold can be placed on.
HOLDABLE_TYPES: dict[str, type[Model]] = {type_name(model): model for model in service.HOLDABLE}


def legal_holds(info: Info, *, active: bool | None) -> QuerySet[m.LegalHold]:
    """The legal holds the caller may see, newest first; only the active (or only the lifted)
    ones when ``active`` is given."""
    holds = scope_queryset(m.LegalHold.objects.all(), acting_user(info))
    if active is not None:
        holds = holds.filter(lifted_at__isnull=active)
    return holds.order_by("-placed_at", "-id")


def place_hold(info: Info, *, record_id: relay.GlobalID, reason: str, reference: str) -> Outcome:
    """Hold the tip, lead or subject ``record_id`` names for a legal matter."""

    def action() -> m.LegalHold:
        model = HOLDABLE_TYPES.get(record_id.type_name)
        if model is None:
            raise RecordNotFound(
                f"legal holds go on a {', '.join(HOLDABLE_TYPES)}; got a {record_id.type_name}",
                field="recordId",
            )
        record = load(info, record_id, model, field="recordId")
        return service.place_hold(
            by=acting_user(info), record=record, reason=reason, reference=reference
        )

    return run(action)


def lift_hold(info: Info, *, hold_id: relay.GlobalID, reason: str) -> Outcome:
    """Lift the legal hold ``hold_id`` names."""

    def action() -> m.LegalHold:
        hold = load(info, hold_id, m.LegalHold, field="id")
        return service.lift_hold(by=acting_user(info), hold=hold, reason=reason)

    return run(action)


def disposal_preview(
    *, as_of: dt.datetime | None, categories: Iterable[str] | None
) -> tuple[dt.datetime, list[CategoryPreview]]:
    """What each retention category would dispose of at ``as_of`` (default: now)."""
    now = as_of or timezone.now()
    wanted = None if categories is None else [Category(c) for c in categories]
    return now, preview(now=now, categories=wanted)


def disposal_runs(info: Info, *, status: str | None) -> QuerySet[m.DisposalRun]:
    """The disposal runs the caller may see, newest first; only those in ``status`` if given."""
    runs = scope_queryset(m.DisposalRun.objects.all(), acting_user(info))
    if status is not None:
        runs = runs.filter(status=status)
    return runs.order_by("-requested_at", "-id")


def request_disposal(
    info: Info, *, as_of: dt.datetime | None, categories: Iterable[str] | None, reason: str
) -> Outcome:
    """Request a disposal run of what is due at ``as_of`` (default now) in ``categories``."""

    def action() -> m.DisposalRun:
        wanted = None if categories is None else [Category(c) for c in categories]
        return disposal.request_disposal(
            by=acting_user(info), categories=wanted, as_of=as_of, reason=reason
        )

    return run(action)


def approve_disposal(info: Info, *, run_id: relay.GlobalID) -> Outcome:
    """Approve the disposal run ``run_id`` names (queues it for the worker)."""

    def action() -> m.DisposalRun:
        target = load(info, run_id, m.DisposalRun, field="id")
        return disposal.approve_disposal(by=acting_user(info), run=target)

    return run(action)


def cancel_disposal(info: Info, *, run_id: relay.GlobalID, reason: str) -> Outcome:
    """Cancel the disposal run ``run_id`` names."""

    def action() -> m.DisposalRun:
        target = load(info, run_id, m.DisposalRun, field="id")
        return disposal.cancel_disposal(by=acting_user(info), run=target, reason=reason)

    return run(action)
