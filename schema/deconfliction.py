"""Deconfliction notices: another office's active lead was touched; both offices see it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from audit.operations import carries
from backend import models as m
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import deconfliction as resolve
from schema.base import MutationError, ScopedNode, model_type, mutation_errors

if TYPE_CHECKING:
    from schema.identifier import IdentifierType
    from schema.lead import LeadType
    from schema.source import OfficeType
    from schema.subject import SubjectType
    from schema.tip import TipType

__all__ = [
    "DeconflictionMutation",
    "DeconflictionNoticeType",
    "DeconflictionQuery",
    "NoticeRecipientType",
]

LeadRef = Annotated["LeadType", strawberry.lazy("schema.lead")]
TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
OfficeRef = Annotated["OfficeType", strawberry.lazy("schema.source")]
IdentifierRef = Annotated["IdentifierType", strawberry.lazy("schema.identifier")]
SubjectRef = Annotated["SubjectType", strawberry.lazy("schema.subject")]


@strawberry_django.filter_type(m.NoticeRecipient, lookups=True)
class NoticeRecipientFilter:
    acknowledged_at: auto


@model_type(m.NoticeRecipient, filters=NoticeRecipientFilter)
class NoticeRecipientType(ScopedNode):
    """One office's copy of a notice."""

    notice: DeconflictionNoticeType
    office: OfficeRef
    contact_point: auto
    acknowledged_at: auto


# The reason names the lead and the identifiers and subjects touched (the notice keeps the
# first of each: those are recorded as returned with it).
@carries(
    {
        "reason": lambda notice: [
            (m.Lead, notice.lead_id),
            (m.Identifier, notice.identifier_id),
            (m.Subject, notice.subject_id),
        ]
    }
)
@model_type(m.DeconflictionNotice)
class DeconflictionNoticeType(ScopedNode):
    """New work touched an identifier or subject of another office's active lead."""

    created_at: auto
    reason: auto = strawberry_django.field(
        only=["reason", "lead_id", "identifier_id", "subject_id"]
    )
    lead: LeadRef
    identifier: IdentifierRef | None
    subject: SubjectRef | None
    triggered_by_tip: TipRef | None
    triggered_by_lead: LeadRef | None
    recipients: DjangoListConnection[NoticeRecipientType] = strawberry_django.connection()


@strawberry.type(description="The acknowledged copy, or why it was not acknowledged.")
class AcknowledgePayload:
    recipient: NoticeRecipientType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class DeconflictionQuery:
    deconfliction_notices: DjangoListConnection[NoticeRecipientType] = strawberry_django.connection(
        extensions=allow("Query.deconflictionNotices"),
        description=describe(
            "Query.deconflictionNotices",
            "Notices per office (filter acknowledgedAt: {isNull: true} for open ones).",
        ),
    )


@strawberry.type
class DeconflictionMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.acknowledgeNotice"),
        description=describe(
            "Mutation.acknowledgeNotice",
            "Acknowledge an office's copy of a deconfliction notice (users attached to an "
            "office: their own office's copies only).",
        ),
    )
    def acknowledge_notice(self, info: Info, recipient_id: relay.GlobalID) -> AcknowledgePayload:
        recipient, errors = resolve.acknowledge_notice(info, recipient_id)
        return AcknowledgePayload(recipient=recipient, errors=mutation_errors(errors))
