"""Retention: legal holds, the preview of what the retention schedule makes due for disposal,
and disposal runs (``backend.retention``, ``backend.services.retention``,
``backend.services.disposal``; docs/retention.md)."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry
import strawberry_django
from django.db.models import Count, QuerySet
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
    "ApproveDisposalInput",
    "CancelDisposalInput",
    "DisposalCategory",
    "DisposalPart",
    "DisposalPreview",
    "DisposalProgress",
    "DisposalRunPayload",
    "DisposalRunType",
    "DisposalStatusEnum",
    "LegalHoldPayload",
    "LegalHoldType",
    "LiftLegalHoldInput",
    "PlaceLegalHoldInput",
    "RequestDisposalInput",
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


DisposalStatusEnum = strawberry.enum(  # type: ignore[misc]
    Enum(  # type: ignore[misc]
        "DisposalStatus",
        {
            status.value: strawberry.enum_value(status.value, description=status.label)
            for status in m.DisposalStatus
        },
    ),
    name="DisposalStatus",
    description="Where a disposal run stands: REQUESTED, APPROVED (by a second program "
    "manager), RUNNING, DONE; FAILED (resumable) or CANCELLED.",
)


@strawberry.type(description="How far a disposal run has got, in rows of its work list.")
class DisposalProgress:
    pending: int = strawberry.field(description="Not reached yet.")
    done: int = strawberry.field(description="Disposed of.")
    held: int = strawberry.field(description="Kept: a legal hold placed after the request.")
    kept: int = strawberry.field(
        description="Kept: no longer due (activity on the record since the request)."
    )
    gone: int = strawberry.field(description="Gone already when the run reached them.")


@strawberry.type(description="What one category of a disposal run held when it was requested.")
class DisposalRunCategory:
    category: RetentionCategoryEnum  # type: ignore[valid-type]
    due: int = strawberry.field(description="The category's own records due.")
    held: int = strawberry.field(description="Its records past their period a hold kept.")


@model_type(m.DisposalRun)
class DisposalRunType(ScopedNode):
    """A disposal run: what the retention schedule made due at ``asOf`` in its categories,
    fixed when a program manager requested it, approved by another, then disposed of for good
    by the background worker, in batches. It keeps ids and counts only."""

    as_of: auto = strawberry_django.field(description="The moment the clocks were read at.")
    reason: auto = strawberry_django.field(description="The requester's note.")
    items_total: auto = strawberry_django.field(description="Rows in the work list.")
    requested_at: auto
    approved_at: auto
    cancelled_at: auto
    cancel_reason: auto
    started_at: auto
    finished_at: auto
    batches: auto = strawberry_django.field(description="Batches committed.")
    attempts: auto = strawberry_django.field(description="Times the run was started.")
    error: auto = strawberry_django.field(description="Why the last attempt failed.")

    @strawberry_django.field(only=["status"])
    def status(self, root: m.DisposalRun) -> DisposalStatusEnum:  # type: ignore[valid-type]
        return DisposalStatusEnum(root.status)

    @strawberry_django.field(only=["categories"])
    def categories(self, root: m.DisposalRun) -> list[RetentionCategoryEnum]:  # type: ignore[valid-type]
        return [RetentionCategoryEnum(c) for c in root.categories]

    @strawberry_django.field(
        only=["counts"], description="What each category held when the run was requested."
    )
    def counts(self, root: m.DisposalRun) -> list[DisposalRunCategory]:
        return [
            DisposalRunCategory(
                category=RetentionCategoryEnum(name),
                due=int(found.get("due", 0)),
                held=int(found.get("held", 0)),
            )
            for name, found in sorted(root.counts.items())
        ]

    @strawberry_django.field(only=["id"], description="The work list's rows by state.")
    def progress(self, root: m.DisposalRun) -> DisposalProgress:
        states = dict(
            m.DisposalItem.objects.filter(run_id=root.pk)
            .values_list("state")
            .annotate(n=Count("id"))
            .order_by()
        )
        return DisposalProgress(
            **{state.lower(): states.get(state, 0) for state in m.DisposalItemState.values}
        )

    @strawberry_django.field(
        select_related=["requested_by"],
        only=["requested_by__username"],
        description="The program manager who requested it; null for the nightly schedule.",
    )
    def requested_by_name(self, root: m.DisposalRun) -> str | None:
        return root.requested_by.username if root.requested_by_id else None

    @strawberry_django.field(
        select_related=["approved_by"],
        only=["approved_by__username"],
        description="The program manager who approved it.",
    )
    def approved_by_name(self, root: m.DisposalRun) -> str | None:
        return root.approved_by.username if root.approved_by_id else None

    @strawberry_django.field(
        select_related=["cancelled_by"],
        only=["cancelled_by__username"],
        description="The program manager who cancelled it.",
    )
    def cancelled_by_name(self, root: m.DisposalRun) -> str | None:
        return root.cancelled_by.username if root.cancelled_by_id else None


@strawberry.input(description="A disposal run to request: what is due now (or earlier).")
class RequestDisposalInput:
    categories: list[RetentionCategoryEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The categories to dispose of (default: every one)."
    )
    as_of: datetime.datetime | None = strawberry.field(
        default=None,
        description="Read the clocks at this moment (default now; never ahead of now).",
    )
    reason: str = strawberry.field(default="", description="A note for the approver.")


@strawberry.input(description="A requested disposal run to approve.")
class ApproveDisposalInput:
    id: relay.GlobalID = strawberry.field(description="The DisposalRun's id.")


@strawberry.input(description="A disposal run to cancel.")
class CancelDisposalInput:
    id: relay.GlobalID = strawberry.field(description="The DisposalRun's id.")
    reason: str = strawberry.field(description="Why; required.")


@strawberry.type(description="The disposal run requested, approved or cancelled, or why not.")
class DisposalRunPayload:
    disposal_run: DisposalRunType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


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

    @strawberry_django.connection(
        DjangoListConnection[DisposalRunType],
        extensions=allow("Query.disposalRuns"),
        description=describe(
            "Query.disposalRuns",
            "Disposal runs, newest first (only those in status, when given): what each "
            "disposed of, who requested and approved it, and how far it has got.",
        ),
    )
    def disposal_runs(
        self,
        info: Info,
        status: DisposalStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> QuerySet[m.DisposalRun]:
        return resolve.disposal_runs(info, status=None if status is None else status.value)

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
        extensions=allow("Mutation.requestDisposal"),
        description=describe(
            "Mutation.requestDisposal",
            "Request a disposal run: what the retention schedule makes due at asOf (default "
            "now, never ahead) in the categories given (default every one) is fixed as the "
            "run's work list, for another program manager to approve. Errors: INVALID_INPUT "
            "(asOf ahead of now), INVALID_TRANSITION (another run is still open).",
        ),
    )
    def request_disposal(self, info: Info, input: RequestDisposalInput) -> DisposalRunPayload:
        run, errors = resolve.request_disposal(
            info,
            as_of=input.as_of,
            categories=None if input.categories is None else [c.value for c in input.categories],
            reason=input.reason,
        )
        return DisposalRunPayload(disposal_run=run, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.approveDisposal"),
        description=describe(
            "Mutation.approveDisposal",
            "Approve a requested disposal run; the background worker then disposes of it for "
            "good, in batches, keeping what a legal hold placed since protects. Another program "
            "manager than the requester approves (unless the agency turned that off). Errors: "
            "NOT_FOUND, INVALID_TRANSITION (not requested, or your own request).",
        ),
    )
    def approve_disposal(self, info: Info, input: ApproveDisposalInput) -> DisposalRunPayload:
        run, errors = resolve.approve_disposal(info, run_id=input.id)
        return DisposalRunPayload(disposal_run=run, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.cancelDisposal"),
        description=describe(
            "Mutation.cancelDisposal",
            "Cancel a disposal run not finished, with the reason; a running run stops after "
            "its current batch (what it disposed of stays disposed of). Errors: NOT_FOUND, "
            "INVALID_INPUT (no reason), INVALID_TRANSITION (done or cancelled already).",
        ),
    )
    def cancel_disposal(self, info: Info, input: CancelDisposalInput) -> DisposalRunPayload:
        run, errors = resolve.cancel_disposal(info, run_id=input.id, reason=input.reason)
        return DisposalRunPayload(disposal_run=run, errors=mutation_errors(errors))

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
