"""Notes: append-only remarks on tips, subjects, identifiers, leads and research results."""

from __future__ import annotations

import datetime

import strawberry
import strawberry_django
from django.contrib.contenttypes.models import ContentType
from strawberry import auto, relay
from strawberry.types import Info

from backend import models as m
from backend.registry import type_name
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import notes as resolve
from resolvers.notes import TravelSpec
from schema.base import (
    MutationError,
    NoteKindEnum,
    ScopedNode,
    ScreeningOutcomeEnum,
    model_type,
    mutation_errors,
)

__all__ = ["AddNoteInput", "NoteMutation", "NotePayload", "NoteType", "TravelInput"]


@model_type(m.Note)
class NoteType(ScopedNode):
    """An append-only remark. Targeting notes carry the travel data of a screened traveller."""

    kind: NoteKindEnum
    body: auto
    created_at: auto
    carrier: auto
    flight_number: auto
    travel_date: auto
    port: auto

    @strawberry_django.field(
        select_related=["author"], only=["author__username"], description="Who wrote the note."
    )
    def author_name(self, root: m.Note) -> str:
        return root.author.username

    @strawberry_django.field(
        only=["content_type_id", "object_id"], description="The global id of the record noted."
    )
    def record_id(self, root: m.Note) -> relay.GlobalID:
        model = ContentType.objects.get_for_id(root.content_type_id).model_class()
        return relay.GlobalID(type_name(model), str(root.object_id))

    @strawberry_django.field(only=["screening_outcome"], description="TARGETING notes only.")
    def screening_outcome(self, root: m.Note) -> ScreeningOutcomeEnum | None:  # type: ignore[valid-type]
        return root.screening_outcome or None


@strawberry.input(description="Travel data of a border-targeting note.")
class TravelInput:
    screening_outcome: ScreeningOutcomeEnum
    carrier: str = ""
    flight_number: str = ""
    travel_date: datetime.date | None = None
    port: str = ""

    def spec(self) -> TravelSpec:
        """The travel data as plain values, for the resolver."""
        return TravelSpec(
            screening_outcome=self.screening_outcome.value,
            carrier=self.carrier,
            flight_number=self.flight_number,
            travel_date=self.travel_date,
            port=self.port,
        )


@strawberry.input(description="A note on a record.")
class AddNoteInput:
    record_id: relay.GlobalID = strawberry.field(
        description="A Tip, Subject, Identifier, Lead or ResearchResult id."
    )
    body: str
    kind: NoteKindEnum = NoteKindEnum.GENERAL  # type: ignore[attr-defined]
    travel: TravelInput | None = strawberry.field(default=None, description="TARGETING notes only.")


@strawberry.type(description="The note added, or why it was not.")
class NotePayload:
    note: NoteType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class NoteMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.addNote"),
        description=describe("Mutation.addNote", "Append a note to a record."),
    )
    def add_note(self, info: Info, input: AddNoteInput) -> NotePayload:
        obj, errors = resolve.add(
            info,
            record_id=input.record_id,
            body=input.body,
            kind=input.kind.value,
            travel=None if input.travel is None else input.travel.spec(),
        )
        return NotePayload(note=obj, errors=mutation_errors(errors))
