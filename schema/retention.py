"""Retention: legal holds, and the preview of what the retention schedule makes due for
disposal (``backend.retention``, ``backend.services.retention``; docs/retention.md)."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from backend.registry import type_name
from backend.retention import NARA_SCHEDULE, SCHEDULE, Category
from backend.services.retention import CategoryPreview
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import retention as resolve
from schema.base import MutationError, ScopedNode, model_type, mutation_errors

__all__ = [
    "DisposalCategory",
    "DisposalPart",
    "DisposalPreview",
    "LegalHoldPayload",
    "LegalHoldType",
    "LiftLegalHoldInput",
    "PlaceLegalHoldInput",
    "RetentionCategoryEnum",
    "RetentionMutation",
    "RetentionQuery",
]

RetentionCategoryEnum = strawberry.enum(  # type: ignore[misc]
    Enum(  # type: ignore[misc]
        "RetentionCategory",
        {
            category.value: strawberry.enum_value(
                category.value, description=SCHEDULE[category].label
            )
            for category in Category
        },
    ),
    name="RetentionCategory",
    description="A category of the retention schedule: records kept for one period after one "
    "kind of event (docs/retention.md).",
)


@model_type(m.LegalHold)
class LegalHoldType(ScopedNode):
    """A legal hold: while it is active, the tip, lead or subject it holds, and everything
    linked to it, are never disposed of (a held tip keeps the tips linked to it, its leads,
    identifiers, subjects, sightings, research results and notes; a held lead its tips; a held
    subject the tips and leads naming them). Lifted holds are kept, with who lifted them, when
    and why."""

    reason: auto = strawberry_django.field(description="Why the record must be kept.")
    reference: auto = strawberry_django.field(
        description="The legal matter: case number, preservation letter, order."
    )
    placed_at: auto = strawberry_django.field(description="When it was placed.")
    lifted_at: auto = strawberry_django.field(description="Null while the hold is active.")
    lift_reason: auto = strawberry_django.field(description="Empty while the hold is active.")

    @strawberry_django.field(
        only=["tip_id", "lead_id", "subject_id"],
        description="The global id of the tip, lead or subject held.",
    )
    def record_id(self, root: m.LegalHold) -> relay.GlobalID:
        for model, pk in (
            (m.Tip, root.tip_id),
            (m.Lead, root.lead_id),
            (m.Subject, root.subject_id),
        ):
            if pk is not None:
                return relay.GlobalID(type_name(model), str(pk))
        raise AssertionError("a legal hold always has its record")  # the database ensures it

    @strawberry_django.field(only=["lifted_at"], description="True until the hold is lifted.")
    def active(self, root: m.LegalHold) -> bool:
        return root.lifted_at is None

    @strawberry_django.field(
        select_related=["placed_by"],
        only=["placed_by__username"],
        description="The program manager who placed it.",
    )
    def placed_by_name(self, root: m.LegalHold) -> str:
        return root.placed_by.username

    @strawberry_django.field(
        select_related=["lifted_by"],
        only=["lifted_by__username"],
        description="The program manager who lifted it; null while active.",
    )
    def lifted_by_name(self, root: m.LegalHold) -> str | None:
        return root.lifted_by.username if root.lifted_by_id else None


@strawberry.input(description="A legal hold to place on a tip, lead or subject.")
class PlaceLegalHoldInput:
    record_id: relay.GlobalID = strawberry.field(description="A Tip, Lead or Subject id.")
    reason: str = strawberry.field(description="Why the record must be kept; required.")
    reference: str = strawberry.field(
        description="The legal matter's reference (case number, preservation letter, order); "
        "required. One active hold per record and reference (ignoring case)."
    )


@strawberry.input(description="A legal hold to lift.")
class LiftLegalHoldInput:
    id: relay.GlobalID = strawberry.field(description="The LegalHold's id.")
    reason: str = strawberry.field(description="Why the hold ends; required.")


@strawberry.type(description="The legal hold placed or lifted, or why it was not.")
class LegalHoldPayload:
    legal_hold: LegalHoldType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type(description="Rows of one kind that a category would dispose of.")
class DisposalPart:
    name: str = strawberry.field(description='What the rows are ("tips", "sightings").')
    model: str = strawberry.field(description='The table\'s model ("backend.Tip").')
    due: int = strawberry.field(description="How many rows are due.")


@strawberry.type(description="What one retention category would dispose of, and why.")
class DisposalCategory:
    category: RetentionCategoryEnum  # type: ignore[valid-type]
    label: str = strawberry.field(description="What the category holds.")
    period_days: int = strawberry.field(
        description="The category's period: the agency's setting, else the default."
    )
    trigger: str = strawberry.field(description="The event that starts a record's clock.")
    cutoff: datetime.datetime = strawberry.field(
        description="Records whose clock started at or before this moment are past their period."
    )
    due: int = strawberry.field(
        description="The category's own records due (tips, leads, lookups...); records a legal "
        "hold keeps are never counted."
    )
    held: int = strawberry.field(
        description="Its own records past their period that a legal hold keeps."
    )
    oldest_clock_start: datetime.datetime | None = strawberry.field(
        description="The earliest clock start among the records due; null when none is due."
    )
    reason: str = strawberry.field(description="The rule, with the cutoff, in words.")
    parts: list[DisposalPart] = strawberry.field(
        description="Every kind of row the category would dispose of, with the records that go "
        "with its own (a tip's sightings, notes, links)."
    )

    @classmethod
    def of(cls, preview: CategoryPreview) -> DisposalCategory:
        return cls(
            category=RetentionCategoryEnum(preview.category.value),
            label=preview.label,
            period_days=preview.period_days,
            trigger=preview.trigger,
            cutoff=preview.cutoff,
            due=preview.due,
            held=preview.held,
            oldest_clock_start=preview.oldest_clock_start,
            reason=preview.reason,
            parts=[DisposalPart(name=p.name, model=p.model, due=p.due) for p in preview.parts],
        )


@strawberry.type(description="What the retention schedule makes due for disposal, by category.")
class DisposalPreview:
    as_of: datetime.datetime = strawberry.field(description="The moment the clocks were read at.")
    schedule: str = strawberry.field(
        description="The records schedule the periods implement (the agency sets its periods)."
    )
    categories: list[DisposalCategory]


@strawberry.type
class RetentionQuery:
    @strawberry_django.connection(
        DjangoListConnection[LegalHoldType],
        extensions=allow("Query.legalHolds"),
        description=describe(
            "Query.legalHolds",
            "Legal holds, newest first: only the active ones with active: true, only the "
            "lifted ones with active: false, every one when it is left out.",
        ),
    )
    def legal_holds(self, info: Info, active: bool | None = None) -> QuerySet[m.LegalHold]:
        return resolve.legal_holds(info, active=active)

    @strawberry.field(
        extensions=allow("Query.disposalPreview"),
        description=describe(
            "Query.disposalPreview",
            "What the retention schedule makes due for disposal, by category: counts, the "
            "records legal holds keep (never counted as due), the oldest clock start and the "
            "rule. Reads only; asOf (default now) looks ahead or back. Also on the command "
            "line: manage.py dispose --dry-run.",
        ),
    )
    def disposal_preview(
        self,
        info: Info,
        as_of: datetime.datetime | None = None,
        categories: list[RetentionCategoryEnum] | None = None,  # type: ignore[valid-type]
    ) -> DisposalPreview:
        now, previews = resolve.disposal_preview(
            as_of=as_of, categories=None if categories is None else [c.value for c in categories]
        )
        return DisposalPreview(
            as_of=now,
            schedule=NARA_SCHEDULE,
            categories=[DisposalCategory.of(preview) for preview in previews],
        )


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.placeLegalHold"),
        description=describe(
            "Mutation.placeLegalHold",
            "Place a legal hold on a tip, lead or subject, with the reason and the legal "
            "matter's reference: it and everything linked to it are kept past their retention "
            "period until the hold is lifted. Errors: NOT_FOUND (no such tip, lead or subject), "
            "INVALID_INPUT (empty reason or reference), ALREADY_HELD (an active hold for that "
            "reference).",
        ),
    )
    def place_legal_hold(self, info: Info, input: PlaceLegalHoldInput) -> LegalHoldPayload:
        hold, errors = resolve.place_hold(
            info, record_id=input.record_id, reason=input.reason, reference=input.reference
        )
        return LegalHoldPayload(legal_hold=hold, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.liftLegalHold"),
        description=describe(
            "Mutation.liftLegalHold",
            "Lift a legal hold, with the reason; the record stays held while another matter's "
            "hold on it is active. Errors: NOT_FOUND, INVALID_INPUT (empty reason), NOT_HELD "
            "(lifted already).",
        ),
    )
    def lift_legal_hold(self, info: Info, input: LiftLegalHoldInput) -> LegalHoldPayload:
        hold, errors = resolve.lift_hold(info, hold_id=input.id, reason=input.reason)
        return LegalHoldPayload(legal_hold=hold, errors=mutation_errors(errors))
