"""Alerts: what the platform tells a partner account or an office's analysts, as rows a
client reads and acknowledges (the subscription delivers the same rows as they happen)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from backend.registry import type_name
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import alerts as resolve
from schema.base import MutationError, ScopedNode, model_type, mutation_errors

if TYPE_CHECKING:
    from schema.deconfliction import NoticeRecipientType
    from schema.lead import LeadType
    from schema.redress import RedisseminationRequestType
    from schema.tip import TipType

__all__ = ["AlertKindEnum", "AlertMutation", "AlertQuery", "AlertType"]

TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
LeadRef = Annotated["LeadType", strawberry.lazy("schema.lead")]
NoticeRef = Annotated["NoticeRecipientType", strawberry.lazy("schema.deconfliction")]
RequestRef = Annotated["RedisseminationRequestType", strawberry.lazy("schema.redress")]


@strawberry.enum(name="AlertKind", description="What an alert tells.")
class AlertKindEnum(Enum):
    LINKED_TIP = strawberry.enum_value(
        m.AlertKind.LINKED_TIP.value,
        description="To a partner: a new or changed tip holds an identifier, or names as a "
        "suspect a person, that a lookup of theirs returned within the disclosure period. "
        "The alert discloses the tip (accounting of disclosures, purpose ALERT).",
    )
    CORRECTION = strawberry.enum_value(
        m.AlertKind.CORRECTION.value,
        description="To a partner: a record they received was corrected or removed.",
    )
    REDISSEMINATION_DECIDED = strawberry.enum_value(
        m.AlertKind.REDISSEMINATION_DECIDED.value,
        description="To a partner: their request to pass a record on was approved or refused.",
    )
    DECONFLICTION = strawberry.enum_value(
        m.AlertKind.DECONFLICTION.value,
        description="To an office's analysts: a deconfliction notice for the office.",
    )
    REFERRAL = strawberry.enum_value(
        m.AlertKind.REFERRAL.value,
        description="To an office's analysts: a lead was referred to the office.",
    )


@model_type(m.Alert)
class AlertType(ScopedNode):
    """An alert to the caller or to the caller's office. Related records are shown only where
    the caller may see them (a partner: the tip an alert disclosed, never a lead)."""

    created_at: auto
    message: auto
    acknowledged_at: auto
    tip: TipRef | None = strawberry_django.field(description="LINKED_TIP: the new or changed tip.")
    lead: LeadRef | None = strawberry_django.field(
        description="REFERRAL and DECONFLICTION: the lead (analysts only)."
    )
    notice: NoticeRef | None = strawberry_django.field(
        description="DECONFLICTION: the office's copy of the notice, to acknowledge it."
    )
    redissemination: RequestRef | None = strawberry_django.field(
        description="REDISSEMINATION_DECIDED: the request decided."
    )

    @strawberry_django.field(only=["kind"], description="What the alert tells.")
    def kind(self, root: m.Alert) -> AlertKindEnum:
        return AlertKindEnum(root.kind)

    @strawberry_django.field(
        only=["content_type_id", "object_id"],
        description="The record the alert is about (LINKED_TIP: the record you received that "
        "the tip links to; CORRECTION: the record corrected or removed), or null.",
    )
    def record_id(self, root: m.Alert) -> relay.GlobalID | None:
        if root.content_type_id is None or root.object_id is None:
            return None
        from django.contrib.contenttypes.models import ContentType

        model = ContentType.objects.get_for_id(root.content_type_id).model_class()
        return relay.GlobalID(type_name(model), str(root.object_id))  # type: ignore[arg-type]


@strawberry.type(description="The alerts acknowledged, or why none was.")
class AcknowledgeAlertsPayload:
    alerts: list[AlertType] = strawberry.field(default_factory=list)
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class AlertQuery:
    @strawberry_django.connection(
        DjangoListConnection[AlertType],
        extensions=allow("Query.alerts"),
        description=describe(
            "Query.alerts",
            "Your alerts, newest first (an analyst: also those to your office): the same "
            "alerts the subscription delivers, for clients that cannot hold a socket. "
            "unacknowledged: true for the open ones only; kinds to narrow them down.",
        ),
    )
    def alerts(
        self,
        info: Info,
        unacknowledged: bool = False,
        kinds: list[AlertKindEnum] | None = None,
    ) -> Iterable[m.Alert]:
        return resolve.alerts(
            info,
            unacknowledged=unacknowledged,
            kinds=None if kinds is None else [kind.value for kind in kinds],
        )


@strawberry.type
class AlertMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.acknowledgeAlerts"),
        description=describe(
            "Mutation.acknowledgeAlerts",
            "Acknowledge alerts addressed to you or your office (at most 100), all or none: an "
            "unknown id or another's alert is NOT_FOUND, an alert already acknowledged "
            "INVALID_INPUT.",
        ),
    )
    def acknowledge_alerts(self, info: Info, ids: list[relay.GlobalID]) -> AcknowledgeAlertsPayload:
        found, errors = resolve.acknowledge_alerts(info, ids)
        return AcknowledgeAlertsPayload(alerts=found or [], errors=mutation_errors(errors))
