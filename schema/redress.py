"""Redress cases on the cleared traveller (DHS TRIP), and partners' requests to pass a record
they received on (redissemination), with the owning agency's decision."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from enum import Enum
from typing import Any

import strawberry
import strawberry_django
from django.contrib.contenttypes.models import ContentType
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from backend.registry import type_name
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import redress as resolve
from schema.base import MutationError, ScopedNode, model_type, mutation_errors

__all__ = [
    "DecideRedisseminationInput",
    "RecordRedressCaseInput",
    "RedisseminationPayload",
    "RedisseminationRequestType",
    "RedisseminationStatusEnum",
    "RedressCasePayload",
    "RedressCaseType",
    "RedressMutation",
    "RedressOutcomeEnum",
    "RedressQuery",
    "RequestRedisseminationInput",
    "UpdateRedressCaseInput",
]


@strawberry.enum(name="RedressOutcome", description="Where a DHS TRIP redress case stands.")
class RedressOutcomeEnum(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Under review.")
    CLEARED = strawberry.enum_value(
        "CLEARED",
        description="The traveller is not the person sought: any later lookup matching them "
        "shows the redress mark first.",
    )
    NOT_CLEARED = strawberry.enum_value("NOT_CLEARED", description="Not cleared.")


@strawberry.enum(name="RedisseminationStatus", description="Where a request stands.")
class RedisseminationStatusEnum(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Awaiting the owning agency.")
    APPROVED = strawberry.enum_value("APPROVED", description="The partner may pass it on.")
    REFUSED = strawberry.enum_value("REFUSED", description="The partner may not pass it on.")


@model_type(m.RedressCase)
class RedressCaseType(ScopedNode):
    """A DHS Traveler Redress Inquiry Program case, recorded on the traveller it is about (not
    on a suspect): a later traveller lookup or passenger screening matching a CLEARED case by
    name and date of birth, or by a document number, shows its case number first (the
    result's redress, and every match's first reason). Owning agency only."""

    case_number: auto
    full_name: auto
    date_of_birth: auto
    document_numbers: list[str] = strawberry_django.field(
        description="Travel document numbers, normalised as passport identifiers are."
    )
    opened_on: auto
    decided_on: auto
    created_at: auto
    updated_at: auto

    @strawberry_django.field(only=["outcome"], description="The case's outcome.")
    def outcome(self, root: m.RedressCase) -> RedressOutcomeEnum:
        return RedressOutcomeEnum(root.outcome)


@model_type(m.RedisseminationRequest)
class RedisseminationRequestType(ScopedNode):
    """A partner's request for the owning agency's authorisation to pass on a record a lookup
    or alert of theirs disclosed to them, and the decision. Investigators see their own."""

    recipient: auto
    purpose: auto
    created_at: auto
    decided_at: auto
    decision_reason: auto

    @strawberry_django.field(only=["status"], description="Where the request stands.")
    def status(self, root: m.RedisseminationRequest) -> RedisseminationStatusEnum:
        return RedisseminationStatusEnum(root.status)

    @strawberry_django.field(
        only=["disclosure__content_type_id", "disclosure__object_id"],
        select_related=["disclosure"],
        description="The record to pass on.",
    )
    def record_id(self, root: m.RedisseminationRequest) -> relay.GlobalID:
        disclosure = root.disclosure
        model = ContentType.objects.get_for_id(disclosure.content_type_id).model_class()
        return relay.GlobalID(type_name(model), str(disclosure.object_id))  # type: ignore[arg-type]

    @strawberry_django.field(
        only=["requested_by__username", "requested_by__agency"],
        select_related=["requested_by"],
        description="Who asked: username (agency).",
    )
    def requested_by(self, root: m.RedisseminationRequest) -> str:
        user = root.requested_by
        return f"{user.username} ({user.agency or 'no agency'})"


@strawberry.input(description="A DHS TRIP redress case to record.")
class RecordRedressCaseInput:
    case_number: str
    full_name: str
    date_of_birth: datetime.date
    document_numbers: list[str] = strawberry.field(default_factory=list)
    outcome: RedressOutcomeEnum = RedressOutcomeEnum.PENDING
    opened_on: datetime.date
    decided_on: datetime.date | None = None


@strawberry.input(
    description="Fields of a redress case to change; omitted fields stay as they are "
    "(decidedOn: null clears it, for a case back to PENDING)."
)
class UpdateRedressCaseInput:
    id: relay.GlobalID
    full_name: str | None = None
    date_of_birth: datetime.date | None = None
    document_numbers: list[str] | None = None
    outcome: RedressOutcomeEnum | None = None
    opened_on: datetime.date | None = None
    decided_on: datetime.date | None = strawberry.UNSET


@strawberry.input(description="A request to pass on a record you received.")
class RequestRedisseminationInput:
    record_id: relay.GlobalID = strawberry.field(
        description="The tip, subject or identifier a lookup or alert of yours disclosed."
    )
    recipient: str = strawberry.field(description="The agency or person to pass it on to.")
    purpose: str = strawberry.field(description="Why.")


@strawberry.input(description="The decision on a redissemination request.")
class DecideRedisseminationInput:
    request_id: relay.GlobalID
    approve: bool
    reason: str = strawberry.field(default="", description="Required for a refusal.")


@strawberry.type(description="The redress case recorded or changed, or why it was not.")
class RedressCasePayload:
    redress_case: RedressCaseType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type(description="The request made or decided, or why it was not.")
class RedisseminationPayload:
    request: RedisseminationRequestType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class RedressQuery:
    @strawberry_django.connection(
        DjangoListConnection[RedressCaseType],
        extensions=allow("Query.redressCases"),
        description=describe(
            "Query.redressCases",
            "DHS TRIP redress cases, newest first; by case number or outcome.",
        ),
    )
    def redress_cases(
        self,
        info: Info,
        case_number: str | None = None,
        outcome: RedressOutcomeEnum | None = None,
    ) -> Iterable[m.RedressCase]:
        return resolve.redress_cases(
            info, case_number=case_number, outcome=None if outcome is None else outcome.value
        )

    @strawberry_django.connection(
        DjangoListConnection[RedisseminationRequestType],
        extensions=allow("Query.redisseminationRequests"),
        description=describe(
            "Query.redisseminationRequests",
            "Requests to pass a disclosed record on, newest first (an investigator: their "
            "own); only those of status when given.",
        ),
    )
    def redissemination_requests(
        self, info: Info, status: RedisseminationStatusEnum | None = None
    ) -> Iterable[m.RedisseminationRequest]:
        return resolve.redisseminations(info, status=None if status is None else status.value)


def _changes(input: UpdateRedressCaseInput) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "full_name": input.full_name,
        "date_of_birth": input.date_of_birth,
        "document_numbers": input.document_numbers,
        "outcome": None if input.outcome is None else input.outcome.value,
        "opened_on": input.opened_on,
    }
    if input.decided_on is not strawberry.UNSET:
        changes["decided_on"] = input.decided_on
    return changes


@strawberry.type
class RedressMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.recordRedressCase"),
        description=describe(
            "Mutation.recordRedressCase",
            "Record a DHS TRIP redress case on the traveller it is about. A decided case "
            "(CLEARED, NOT_CLEARED) needs decidedOn, between openedOn and today; document "
            "numbers are normalised as passports (INVALID_IDENTIFIER when malformed); a case "
            "number recorded already is DUPLICATE.",
        ),
    )
    def record_redress_case(self, info: Info, input: RecordRedressCaseInput) -> RedressCasePayload:
        case, errors = resolve.record_redress_case(
            info,
            case_number=input.case_number,
            full_name=input.full_name,
            date_of_birth=input.date_of_birth,
            document_numbers=input.document_numbers,
            outcome=input.outcome.value,
            opened_on=input.opened_on,
            decided_on=input.decided_on,
        )
        return RedressCasePayload(redress_case=case, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.updateRedressCase"),
        description=describe(
            "Mutation.updateRedressCase",
            "Correct a redress case or record its outcome, checked as recordRedressCase.",
        ),
    )
    def update_redress_case(self, info: Info, input: UpdateRedressCaseInput) -> RedressCasePayload:
        case, errors = resolve.update_redress_case(info, input.id, **_changes(input))
        return RedressCasePayload(redress_case=case, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.requestRedissemination"),
        description=describe(
            "Mutation.requestRedissemination",
            "Ask the owning agency's authorisation to pass on a record a lookup or alert of "
            "yours disclosed to you (one you may still open: NOT_FOUND otherwise), naming the "
            "recipient and the purpose. You are alerted of the decision "
            "(REDISSEMINATION_DECIDED); the accounting of disclosures lists the request.",
        ),
    )
    def request_redissemination(
        self, info: Info, input: RequestRedisseminationInput
    ) -> RedisseminationPayload:
        request, errors = resolve.request_redissemination(
            info, record_id=input.record_id, recipient=input.recipient, purpose=input.purpose
        )
        return RedisseminationPayload(request=request, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.decideRedissemination"),
        description=describe(
            "Mutation.decideRedissemination",
            "Approve or refuse a pending redissemination request (a refusal needs its reason; "
            "a request decided already is INVALID_TRANSITION). The partner is alerted.",
        ),
    )
    def decide_redissemination(
        self, info: Info, input: DecideRedisseminationInput
    ) -> RedisseminationPayload:
        request, errors = resolve.decide_redissemination(
            info, request_id=input.request_id, approve=input.approve, reason=input.reason
        )
        return RedisseminationPayload(request=request, errors=mutation_errors(errors))
