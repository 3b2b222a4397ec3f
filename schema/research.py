"""Research results: subpoena and summons returns and database checks, entered by hand."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import research as resolve
from schema.base import LegalProcessEnum, MutationError, ScopedNode, model_type, mutation_errors

if TYPE_CHECKING:
    from schema.identifier import IdentifierType
    from schema.note import NoteType
    from schema.tip import TipType

__all__ = [
    "CreateResearchResultInput",
    "ResearchMutation",
    "ResearchQuery",
    "ResearchResultPayload",
    "ResearchResultType",
    "UpdateResearchResultInput",
]

IdentifierRef = Annotated["IdentifierType", strawberry.lazy("schema.identifier")]
TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
NoteRef = Annotated["NoteType", strawberry.lazy("schema.note")]


@strawberry_django.filter_type(m.ResearchResult, lookups=True)
class ResearchResultFilter:
    legal_process: auto
    served_at: auto
    returned_at: auto


@model_type(m.ResearchResult, filters=ResearchResultFilter)
class ResearchResultType(ScopedNode):
    """Results of research done outside the system, resolving an identifier."""

    legal_process: LegalProcessEnum
    served_on: auto
    served_at: auto
    returned_at: auto
    findings: auto
    identifier: IdentifierRef
    tip: TipRef | None
    created_at: auto
    updated_at: auto
    notes: DjangoListConnection[NoteRef] = strawberry_django.connection()


@strawberry.input(description="A research result to record.")
class CreateResearchResultInput:
    identifier_id: relay.GlobalID
    legal_process: LegalProcessEnum
    findings: str
    served_on: str = ""
    served_at: datetime.date | None = None
    returned_at: datetime.date | None = None
    tip_id: relay.GlobalID | None = None


@strawberry.input(description="Corrections to a research result.")
class UpdateResearchResultInput:
    id: relay.GlobalID
    findings: str | None = None
    served_on: str | None = None
    served_at: datetime.date | None = None
    returned_at: datetime.date | None = None


@strawberry.type(description="The research result a mutation changed, or why it did not.")
class ResearchResultPayload:
    research_result: ResearchResultType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class ResearchQuery:
    research_results: DjangoListConnection[ResearchResultType] = strawberry_django.connection(
        extensions=allow("Query.researchResults"),
        description=describe("Query.researchResults", "Browse research results."),
    )


@strawberry.type
class ResearchMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.createResearchResult"),
        description=describe("Mutation.createResearchResult", "Record a research result."),
    )
    def create_research_result(
        self, info: Info, input: CreateResearchResultInput
    ) -> ResearchResultPayload:
        obj, errors = resolve.create(
            info,
            identifier_id=input.identifier_id,
            legal_process=input.legal_process.value,
            findings=input.findings,
            served_on=input.served_on,
            served_at=input.served_at,
            returned_at=input.returned_at,
            tip_id=input.tip_id,
        )
        return ResearchResultPayload(research_result=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.updateResearchResult"),
        description=describe("Mutation.updateResearchResult", "Correct a research result."),
    )
    def update_research_result(
        self, info: Info, input: UpdateResearchResultInput
    ) -> ResearchResultPayload:
        obj, errors = resolve.update(
            info,
            result_id=input.id,
            findings=input.findings,
            served_on=input.served_on,
            served_at=input.served_at,
            returned_at=input.returned_at,
        )
        return ResearchResultPayload(research_result=obj, errors=mutation_errors(errors))
