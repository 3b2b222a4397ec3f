"""Redress cases (analysts record them) and redissemination requests (partners ask, analysts
decide)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.registry import type_name
from backend.services import redissemination, redress
from backend.services.disclosures import DISCLOSED_MODELS
from permissions.scoping import scope_queryset
from resolvers.common import Outcome, acting_user, load, run

__all__ = [
    "decide_redissemination",
    "record_redress_case",
    "redisseminations",
    "redress_cases",
    "request_redissemination",
    "update_redress_case",
]

#: GraphQL type name -> model of the records a partner may ask to pass on.
_DISCLOSED = {type_name(model): model for model in DISCLOSED_MODELS}


def redress_cases(
    info: Info, *, case_number: str | None, outcome: str | None
) -> QuerySet[m.RedressCase]:
    """The redress cases the caller may see (the owning agency's), newest first."""
    cases = scope_queryset(m.RedressCase.objects.all(), acting_user(info))
    if case_number:
        cases = cases.filter(case_number=" ".join(case_number.split()).upper())
    if outcome:
        cases = cases.filter(outcome=outcome)
    return cases.order_by("-opened_on", "-id")


def record_redress_case(
    info: Info,
    *,
    case_number: str,
    full_name: str,
    date_of_birth: dt.date,
    document_numbers: Sequence[str],
    outcome: str,
    opened_on: dt.date,
    decided_on: dt.date | None,
) -> Outcome:
    """Record a TRIP redress case."""
    return run(
        lambda: redress.record_redress_case(
            by=acting_user(info),
            case_number=case_number,
            full_name=full_name,
            date_of_birth=date_of_birth,
            document_numbers=document_numbers,
            outcome=outcome,
            opened_on=opened_on,
            decided_on=decided_on,
        )
    )


def update_redress_case(info: Info, case_id: relay.GlobalID, **changes: Any) -> Outcome:
    """Correct a redress case, or record its outcome."""

    def action() -> m.RedressCase:
        case = load(info, case_id, m.RedressCase, field="id")
        return redress.update_redress_case(case=case, **changes)

    return run(action)


def redisseminations(info: Info, *, status: str | None) -> QuerySet[m.RedisseminationRequest]:
    """Redissemination requests the caller may see (an investigator: their own), newest
    first; only those of ``status`` when given."""
    found = scope_queryset(m.RedisseminationRequest.objects.all(), acting_user(info))
    if status:
        found = found.filter(status=status)
    return found.select_related("disclosure", "requested_by").order_by("-created_at", "-id")


def request_redissemination(
    info: Info, *, record_id: relay.GlobalID, recipient: str, purpose: str
) -> Outcome:
    """Ask to pass a record the caller received on."""

    def action() -> m.RedisseminationRequest:
        model = _DISCLOSED.get(record_id.type_name)
        if model is None:
            kinds = ", ".join(sorted(_DISCLOSED))
            raise RecordNotFound(f"recordId must be the id of a {kinds}", field="recordId")
        record = load(info, record_id, model, field="recordId")
        return redissemination.request_redissemination(
            by=acting_user(info), record=record, recipient=recipient, purpose=purpose
        )

    return run(action)


def decide_redissemination(
    info: Info, *, request_id: relay.GlobalID, approve: bool, reason: str
) -> Outcome:
    """Approve or refuse a pending redissemination request."""

    def action() -> m.RedisseminationRequest:
        request = load(info, request_id, m.RedisseminationRequest, field="requestId")
        return redissemination.decide_redissemination(
            request=request, by=acting_user(info), approve=approve, reason=reason
        )

    return run(action)
