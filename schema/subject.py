"""Subjects: people named in tips, their identifiers, tips, leads and redress marks."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from permissions.classes import NEED_TO_KNOW_NOTE, allow, need_to_know
from permissions.matrix import describe
from resolvers import subjects as resolve
from schema.base import HandlingCaveatEnum, MutationError, ScopedNode, model_type, mutation_errors
from schema.caveat import handling_markings_field
from schema.identifier import IdentifierInput

if TYPE_CHECKING:
    from schema.identifier import IdentifierType
    from schema.lead import LeadType
    from schema.note import NoteType
    from schema.tip import TipSubjectType

__all__ = [
    "CreateSubjectInput",
    "SubjectFilter",
    "SubjectIdentifierType",
    "SubjectMutation",
    "SubjectOrder",
    "SubjectPayload",
    "SubjectQuery",
    "SubjectType",
    "UpdateSubjectInput",
]

TipLinkRef = Annotated["TipSubjectType", strawberry.lazy("schema.tip")]
IdentifierRef = Annotated["IdentifierType", strawberry.lazy("schema.identifier")]
LeadRef = Annotated["LeadType", strawberry.lazy("schema.lead")]
NoteRef = Annotated["NoteType", strawberry.lazy("schema.note")]


@strawberry_django.filter_type(m.Subject, lookups=True)
class SubjectFilter:
    full_name: auto
    date_of_birth: auto
    nationality: auto
    sex_offender_registered: auto
    known_misidentification: auto


@strawberry_django.order_type(m.Subject)
class SubjectOrder:
    full_name: auto
    date_of_birth: auto
    created_at: auto


@model_type(m.Subject, filters=SubjectFilter, ordering=SubjectOrder)
class SubjectType(ScopedNode):
    """A person named in tips."""

    full_name: auto
    aliases: list[str]
    date_of_birth: auto
    nationality: auto
    sex_offender_registered: auto
    known_misidentification: auto
    redress_case_number: auto
    handling_markings: list[HandlingCaveatEnum] = handling_markings_field(m.Subject)  # type: ignore[valid-type]
    created_at: auto
    updated_at: auto
    tips: DjangoListConnection[TipLinkRef] = strawberry_django.connection(
        field_name="tip_links", description="Tips naming this person, with their role in each."
    )
    identifiers: DjangoListConnection[SubjectIdentifierType] = strawberry_django.connection(
        field_name="identifier_links", description="Identifiers known to belong to this person."
    )
    leads: DjangoListConnection[LeadRef] | None = strawberry_django.connection(
        extensions=need_to_know("Subject.leads"),
        description=f"Leads naming this person. {NEED_TO_KNOW_NOTE}",
    )
    notes: DjangoListConnection[NoteRef] = strawberry_django.connection()


@model_type(m.SubjectIdentifier)
class SubjectIdentifierType(ScopedNode):
    """An identifier known to belong to a subject."""

    subject: SubjectType
    identifier: IdentifierRef
    created_at: auto


@strawberry.input(description="A person named in tips.")
class CreateSubjectInput:
    full_name: str
    aliases: list[str] = strawberry.field(default_factory=list)
    date_of_birth: datetime.date | None = None
    nationality: str = ""
    sex_offender_registered: bool = False


@strawberry.input(description="Fields of a subject to change; omitted fields stay as they are.")
class UpdateSubjectInput:
    id: relay.GlobalID
    full_name: str | None = None
    aliases: list[str] | None = None
    date_of_birth: datetime.date | None = None
    nationality: str | None = None
    sex_offender_registered: bool | None = None
    known_misidentification: bool | None = strawberry.field(
        default=None, description="Mark as wrongly matched (redress); needs redressCaseNumber."
    )
    redress_case_number: str | None = None


@strawberry.type(description="The subject a mutation changed, or why it did not.")
class SubjectPayload:
    subject: SubjectType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class SubjectQuery:
    subjects: DjangoListConnection[SubjectType] = strawberry_django.connection(
        extensions=allow("Query.subjects"),
        description=describe("Query.subjects", "Browse subjects."),
    )


@strawberry.type
class SubjectMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.createSubject"),
        description=describe("Mutation.createSubject", "Record a person."),
    )
    def create_subject(self, info: Info, input: CreateSubjectInput) -> SubjectPayload:
        obj, errors = resolve.create(
            info,
            full_name=input.full_name,
            aliases=input.aliases,
            date_of_birth=input.date_of_birth,
            nationality=input.nationality,
            sex_offender_registered=input.sex_offender_registered,
        )
        return SubjectPayload(subject=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.updateSubject"),
        description=describe("Mutation.updateSubject", "Edit a person."),
    )
    def update_subject(self, info: Info, input: UpdateSubjectInput) -> SubjectPayload:
        obj, errors = resolve.update(
            info,
            subject_id=input.id,
            full_name=input.full_name,
            aliases=input.aliases,
            date_of_birth=input.date_of_birth,
            nationality=input.nationality,
            sex_offender_registered=input.sex_offender_registered,
            known_misidentification=input.known_misidentification,
            redress_case_number=input.redress_case_number,
        )
        return SubjectPayload(subject=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.addIdentifierToSubject"),
        description=describe(
            "Mutation.addIdentifierToSubject", "Record that an identifier belongs to a person."
        ),
    )
    def add_identifier_to_subject(
        self, info: Info, subject_id: relay.GlobalID, identifier: IdentifierInput
    ) -> SubjectPayload:
        obj, errors = resolve.add_identifier(info, subject_id, **identifier.values())
        return SubjectPayload(subject=obj, errors=mutation_errors(errors))
