"""Leads: investigative referrals built from tips, moved through their states."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from backend.states import LEAD_MACHINE
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import leads as resolve
from schema.base import (
    LeadOutcomeEnum,
    LeadStatusEnum,
    MutationError,
    ScopedNode,
    enum_value,
    model_type,
    mutation_errors,
)

if TYPE_CHECKING:
    from schema.note import NoteType
    from schema.source import OfficeType
    from schema.subject import SubjectType
    from schema.tip import TipType

__all__ = [
    "CreateLeadInput",
    "LeadFilter",
    "LeadMutation",
    "LeadOrder",
    "LeadPayload",
    "LeadQuery",
    "LeadType",
    "UpdateLeadInput",
]

TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
SubjectRef = Annotated["SubjectType", strawberry.lazy("schema.subject")]
OfficeRef = Annotated["OfficeType", strawberry.lazy("schema.source")]
NoteRef = Annotated["NoteType", strawberry.lazy("schema.note")]


@strawberry_django.filter_type(m.Lead, lookups=True)
class LeadFilter:
    status: auto
    outcome: auto
    referred_at: auto
    title: auto


@strawberry_django.order_type(m.Lead)
class LeadOrder:
    created_at: auto
    referred_at: auto
    title: auto


@model_type(m.Lead, filters=LeadFilter, ordering=LeadOrder)
class LeadType(ScopedNode):
    """An investigative referral built from one or more tips."""

    title: auto
    summary: auto
    office: OfficeRef | None
    status: LeadStatusEnum
    referred_at: auto
    closed_at: auto
    outcome: LeadOutcomeEnum
    outcome_notes: auto
    created_at: auto
    updated_at: auto
    tips: DjangoListConnection[TipRef] = strawberry_django.connection()
    subjects: DjangoListConnection[SubjectRef] = strawberry_django.connection()
    notes: DjangoListConnection[NoteRef] = strawberry_django.connection()

    @strawberry_django.field(only=["status"], description="Statuses this lead may move to next.")
    def allowed_transitions(self, root: m.Lead) -> list[LeadStatusEnum]:  # type: ignore[valid-type]
        return sorted(LEAD_MACHINE.allowed(root.status))  # type: ignore[return-value]


@strawberry.input(description="A new draft lead.")
class CreateLeadInput:
    title: str
    summary: str = ""
    office_id: relay.GlobalID | None = None
    tip_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)
    subject_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)


@strawberry.input(description="Changes to a lead; office, tips and subjects only while DRAFT.")
class UpdateLeadInput:
    id: relay.GlobalID
    title: str | None = None
    summary: str | None = None
    office_id: relay.GlobalID | None = None
    add_tip_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)
    remove_tip_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)
    add_subject_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)
    remove_subject_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)


@strawberry.type(description="The lead a mutation changed, or why it did not.")
class LeadPayload:
    lead: LeadType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class LeadQuery:
    leads: DjangoListConnection[LeadType] = strawberry_django.connection(
        extensions=allow("Query.leads"),
        description=describe("Query.leads", "Browse leads."),
    )


@strawberry.type
class LeadMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.createLead"),
        description=describe("Mutation.createLead", "Start a draft lead."),
    )
    def create_lead(self, info: Info, input: CreateLeadInput) -> LeadPayload:
        obj, errors = resolve.create(
            info,
            title=input.title,
            summary=input.summary,
            office_id=input.office_id,
            tip_ids=input.tip_ids,
            subject_ids=input.subject_ids,
        )
        return LeadPayload(lead=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.updateLead"),
        description=describe("Mutation.updateLead", "Edit a lead."),
    )
    def update_lead(self, info: Info, input: UpdateLeadInput) -> LeadPayload:
        obj, errors = resolve.update(
            info,
            lead_id=input.id,
            title=input.title,
            summary=input.summary,
            office_id=input.office_id,
            add_tip_ids=input.add_tip_ids,
            remove_tip_ids=input.remove_tip_ids,
            add_subject_ids=input.add_subject_ids,
            remove_subject_ids=input.remove_subject_ids,
        )
        return LeadPayload(lead=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.changeLeadStatus"),
        description=describe(
            "Mutation.changeLeadStatus",
            (
                "Move a lead along DRAFT -> REFERRED -> ACCEPTED/DECLINED -> CLOSED, or CANCELLED "
                "Referral needs an office and actionable tips; closing needs an outcome."
            ),
        ),
    )
    def change_lead_status(
        self,
        info: Info,
        id: relay.GlobalID,
        status: LeadStatusEnum,
        outcome: LeadOutcomeEnum | None = None,
        outcome_notes: str | None = None,
    ) -> LeadPayload:
        obj, errors = resolve.change_status(
            info,
            id,
            status=status.value,
            outcome=enum_value(outcome),
            outcome_notes=outcome_notes,
        )
        return LeadPayload(lead=obj, errors=mutation_errors(errors))
