"""What every schema module shares: the scoped node base, typed mutation errors, enums."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from permissions.scoping import scope_queryset

__all__ = [
    "ErrorCode",
    "HandlingCaveatEnum",
    "IdentifierKindEnum",
    "LeadOutcomeEnum",
    "LeadStatusEnum",
    "LegalProcessEnum",
    "MutationError",
    "NoteKindEnum",
    "ScopedNode",
    "ScreeningOutcomeEnum",
    "SightingEventEnum",
    "SourceKindEnum",
    "SubjectRoleEnum",
    "TipCategoryEnum",
    "TipLinkKindEnum",
    "TipStatusEnum",
]


class ScopedNode(relay.Node):
    """Base of every model type: lists, node fetches and nested relations are row-scoped."""

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Any], info: Info, **kwargs: Any) -> QuerySet[Any]:
        return scope_queryset(queryset, info.context.request.user)


def _enum(choices: type[Any], name: str, description: str) -> Any:
    members = {value if value else "NONE": value for value in choices.values}
    return strawberry.enum(Enum(name, members), name=name, description=description)  # type: ignore[misc]


TipStatusEnum = _enum(m.TipStatus, "TipStatus", "Where a tip stands in review and referral.")
TipCategoryEnum = _enum(m.TipCategory, "TipCategory", "The kind of offence a tip reports.")
HandlingCaveatEnum = strawberry.enum(  # type: ignore[misc]
    Enum(  # type: ignore[misc]
        "HandlingCaveat",
        {
            caveat.value: strawberry.enum_value(caveat.value, description=caveat.effect)
            for caveat in m.HandlingCaveat
        },
    ),
    name="HandlingCaveat",
    description="Who may see a tip and how it must be handled. Each value says its effect; "
    "a caveat other than NONE travels with the records reached through the tip as a handling "
    "marking (handlingMarkings).",
)
SourceKindEnum = _enum(m.SourceKind, "SourceKind", "The kind of organisation that sent tips.")
IdentifierKindEnum = _enum(m.IdentifierKind, "IdentifierKind", "The kind of an identifier.")
SightingEventEnum = _enum(m.SightingEvent, "SightingEvent", "What the identifier was seen doing.")
SubjectRoleEnum = _enum(m.SubjectRole, "SubjectRole", "The part a person plays in a tip.")
TipLinkKindEnum = _enum(m.TipLinkKind, "TipLinkKind", "Why two tips are linked.")
LeadStatusEnum = _enum(m.LeadStatus, "LeadStatus", "Where a lead stands.")
LeadOutcomeEnum = _enum(m.LeadOutcome, "LeadOutcome", "What came of a lead (NONE: not yet).")
NoteKindEnum = _enum(m.NoteKind, "NoteKind", "A general remark or a border-targeting note.")
ScreeningOutcomeEnum = _enum(
    m.ScreeningOutcome, "ScreeningOutcome", "What border screening decided for a traveller."
)
LegalProcessEnum = _enum(m.LegalProcess, "LegalProcess", "How research results were obtained.")


@strawberry.enum(description="Stable codes of mutation errors.")
class ErrorCode(Enum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_IDENTIFIER = "INVALID_IDENTIFIER"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"


@strawberry.type(description="Why a mutation did not happen. Nothing was changed.")
class MutationError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None, description="The input field at fault, in the mutation's camelCase names."
    )
