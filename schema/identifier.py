"""Identifiers: one node per normalised value, with every tip and subject it appears in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from permissions.classes import NEED_TO_KNOW_NOTE, allow, need_to_know
from permissions.matrix import describe
from resolvers import identifiers as resolve
from schema.base import (
    HandlingCaveatEnum,
    IdentifierKindEnum,
    MutationError,
    ScopedNode,
    model_type,
    mutation_errors,
)
from schema.caveat import handling_markings_field

if TYPE_CHECKING:
    from schema.note import NoteType
    from schema.research import ResearchResultType
    from schema.subject import SubjectIdentifierType
    from schema.tip import SightingType

__all__ = [
    "IdentifierFilter",
    "IdentifierInput",
    "IdentifierMutation",
    "IdentifierOrder",
    "IdentifierPayload",
    "IdentifierQuery",
    "IdentifierType",
]

SightingRef = Annotated["SightingType", strawberry.lazy("schema.tip")]
SubjectLinkRef = Annotated["SubjectIdentifierType", strawberry.lazy("schema.subject")]
NoteRef = Annotated["NoteType", strawberry.lazy("schema.note")]
ResearchRef = Annotated["ResearchResultType", strawberry.lazy("schema.research")]


@strawberry_django.filter_type(m.Identifier, lookups=True)
class IdentifierFilter:
    kind: auto
    qualifier: auto
    value: auto
    canonical: auto
    first_seen: auto
    last_seen: auto


@strawberry_django.order_type(m.Identifier)
class IdentifierOrder:
    kind: auto
    value: auto
    first_seen: auto
    last_seen: auto


@model_type(m.Identifier, filters=IdentifierFilter, ordering=IdentifierOrder)
class IdentifierType(ScopedNode):
    """An Internet or personal identifier, one node per normalised value."""

    kind: IdentifierKindEnum
    qualifier: auto
    value: auto
    canonical: auto
    raw_value: auto
    first_seen: auto
    last_seen: auto
    handling_markings: list[HandlingCaveatEnum] = handling_markings_field(m.Identifier)  # type: ignore[valid-type]
    sightings: DjangoListConnection[SightingRef] = strawberry_django.connection(
        description="Every tip this identifier was seen in (follow .tip to the tip)."
    )
    subjects: DjangoListConnection[SubjectLinkRef] = strawberry_django.connection(
        field_name="subject_links", description="Subjects known to use this identifier."
    )
    research_results: DjangoListConnection[ResearchRef] | None = strawberry_django.connection(
        extensions=need_to_know("Identifier.researchResults"),
        description=f"Research results resolving this identifier. {NEED_TO_KNOW_NOTE}",
    )
    notes: DjangoListConnection[NoteRef] = strawberry_django.connection()


@strawberry.input(description="An identifier value as received; the platform normalises it.")
class IdentifierInput:
    kind: IdentifierKindEnum
    value: str
    qualifier: str | None = strawberry.field(
        default=None,
        description="Username platform, hash algorithm, passport country or payment provider.",
    )

    def values(self) -> dict[str, str]:
        """The identifier as the resolvers take it: ``kind``, ``value``, ``qualifier``."""
        return {"kind": self.kind.value, "value": self.value, "qualifier": self.qualifier or ""}


@strawberry.type(description="The identifier a mutation created or changed, or why it did not.")
class IdentifierPayload:
    identifier: IdentifierType | None = None
    created: bool = strawberry.field(default=False, description="True when the value was new.")
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class IdentifierQuery:
    identifiers: DjangoListConnection[IdentifierType] = strawberry_django.connection(
        extensions=allow("Query.identifiers"),
        description=describe("Query.identifiers", "Browse identifiers."),
    )

    @strawberry_django.field(
        extensions=allow("Query.identifierByValue"),
        description=describe(
            "Query.identifierByValue",
            "The identifier with this value after normalisation, if the platform has it.",
        ),
    )
    def identifier_by_value(self, info: Info, identifier: IdentifierInput) -> IdentifierType | None:
        return resolve.by_value(info, **identifier.values())


@strawberry.type
class IdentifierMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.createIdentifier"),
        description=describe(
            "Mutation.createIdentifier",
            "Record an identifier (analysts); returns the existing node for a known value.",
        ),
    )
    def create_identifier(self, info: Info, input: IdentifierInput) -> IdentifierPayload:
        obj, created, errors = resolve.create(info, **input.values())
        return IdentifierPayload(identifier=obj, created=created, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.updateIdentifier"),
        description=describe(
            "Mutation.updateIdentifier",
            "Correct an identifier's value (analysts); refused if it would duplicate one.",
        ),
    )
    def update_identifier(
        self, info: Info, id: relay.GlobalID, input: IdentifierInput
    ) -> IdentifierPayload:
        obj, errors = resolve.update(info, id, **input.values())
        return IdentifierPayload(identifier=obj, errors=mutation_errors(errors))
