"""Sources of tips and field offices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import sources as resolve
from schema.base import MutationError, ScopedNode, SourceKindEnum, model_type, mutation_errors

if TYPE_CHECKING:
    from schema.lead import LeadType
    from schema.tip import TipType

__all__ = [
    "CreateSourceInput",
    "OfficeType",
    "SourceFilter",
    "SourceMutation",
    "SourcePayload",
    "SourceQuery",
    "SourceType",
]

TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
LeadRef = Annotated["LeadType", strawberry.lazy("schema.lead")]


@strawberry_django.filter_type(m.Source, lookups=True)
class SourceFilter:
    kind: auto
    name: auto
    country: auto


@model_type(m.Source, filters=SourceFilter)
class SourceType(ScopedNode):
    """Who sent tips: a field office, tip line, police force, INTERPOL, NGO or clearinghouse."""

    kind: SourceKindEnum
    name: auto
    country: auto
    tips: DjangoListConnection[TipRef] = strawberry_django.connection()


@model_type(m.Office)
class OfficeType(ScopedNode):
    """A field office that receives leads."""

    name: auto
    region: auto
    contact_point: auto
    leads: DjangoListConnection[LeadRef] = strawberry_django.connection()


@strawberry.input(description="A new source of tips.")
class CreateSourceInput:
    kind: SourceKindEnum
    name: str
    country: str = ""


@strawberry.type(description="The source a mutation created, or why it did not.")
class SourcePayload:
    source: SourceType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class SourceQuery:
    sources: DjangoListConnection[SourceType] = strawberry_django.connection(
        extensions=allow("Query.sources"), description=describe("Query.sources", "Sources of tips.")
    )
    offices: DjangoListConnection[OfficeType] = strawberry_django.connection(
        extensions=allow("Query.offices"), description=describe("Query.offices", "Field offices.")
    )


@strawberry.type
class SourceMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.createSource"),
        description=describe("Mutation.createSource", "Register a source."),
    )
    def create_source(self, info: Info, input: CreateSourceInput) -> SourcePayload:
        obj, errors = resolve.create(
            info, kind=input.kind.value, name=input.name, country=input.country
        )
        return SourcePayload(source=obj, errors=mutation_errors(errors))
