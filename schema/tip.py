"""Tips: the Tip type and its edges (identifier sightings, subjects, links), filters, ordering,
inputs, queries and mutations."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
import strawberry_django
from django.db.models import Prefetch, Q, QuerySet
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.optimizer import OptimizerStore, optimize
from strawberry_django.relay import DjangoListConnection

from audit.operations import carries
from backend import models as m
from backend.states import TIP_MACHINE
from permissions.classes import NEED_TO_KNOW_NOTE, allow, need_to_know
from permissions.matrix import describe
from resolvers import tips as resolve
from resolvers.tips import SightingSpec, SubjectInTip
from schema.base import (
    HandlingCaveatEnum,
    MutationError,
    ScopedNode,
    SightingEventEnum,
    SubjectRoleEnum,
    TipCategoryEnum,
    TipLinkKindEnum,
    TipStatusEnum,
    enum_value,
    model_type,
    mutation_errors,
)
from schema.caveat import handling_markings_field
from schema.identifier import IdentifierInput

if TYPE_CHECKING:
    from schema.identifier import IdentifierType
    from schema.lead import LeadType
    from schema.note import NoteType
    from schema.research import ResearchResultType
    from schema.source import SourceType
    from schema.subject import SubjectType

__all__ = [
    "CreateTipInput",
    "PriorityFactorType",
    "SightingInput",
    "SightingType",
    "TipFilter",
    "TipLinkType",
    "TipMutation",
    "TipOrder",
    "TipPayload",
    "TipQuery",
    "TipSubjectType",
    "TipType",
    "TipVictimType",
    "UpdateTipInput",
]

IdentifierRef = Annotated["IdentifierType", strawberry.lazy("schema.identifier")]
SubjectRef = Annotated["SubjectType", strawberry.lazy("schema.subject")]
SourceRef = Annotated["SourceType", strawberry.lazy("schema.source")]
LeadRef = Annotated["LeadType", strawberry.lazy("schema.lead")]
NoteRef = Annotated["NoteType", strawberry.lazy("schema.note")]
ResearchRef = Annotated["ResearchResultType", strawberry.lazy("schema.research")]


@strawberry_django.filter_type(m.Tip, lookups=True)
class TipFilter:
    status: auto
    category: auto
    priority: auto
    handling_caveat: auto
    received_at: auto
    source_reference: auto
    is_actionable: auto


@strawberry_django.order_type(m.Tip)
class TipOrder:
    received_at: auto
    priority: auto
    created_at: auto
    updated_at: auto


# A link is stored once per pair, lower tip id first (``backend.models.TipLink``): a tip's
# links are the rows naming it at either end, prefetched from both ends for a page of tips
# (two queries, whatever the page's size, and two for the linked tips: one per end), each row
# seen from the tip it was read for (``viewer_tip_id``), so that its ``tip`` is the other end.
_LINK_ENDS = {"from_tip": "links_from", "to_tip": "links_to"}


def _links_at(end: str) -> Callable[[Info], Prefetch]:
    """The optimizer's prefetch of the (row-scoped, optimized) links stored with a tip at
    ``end``."""

    def prefetch(info: Info) -> Prefetch:
        queryset = _links_queryset(m.TipLink.objects.all(), info)
        # the tip at ``end`` is the one whose links these are: only the other end is fetched
        other = [p for p in queryset._prefetch_related_lookups if _through(p) != end]
        queryset = queryset.prefetch_related(None).prefetch_related(*other)
        return Prefetch(_LINK_ENDS[end], queryset=queryset)

    return prefetch


def _through(lookup: str | Prefetch) -> str:
    return lookup.prefetch_through if isinstance(lookup, Prefetch) else lookup


def _links_queryset(queryset: QuerySet[m.TipLink], info: Info) -> QuerySet[m.TipLink]:
    """``queryset`` row-scoped as ``TipLink`` rows are, optimized for the selection of
    ``Tip.links``; both ends' ids loaded (the other end is chosen per row)."""
    queryset = TipLinkType.get_queryset(queryset, info)
    return optimize(
        queryset, info, store=OptimizerStore.with_hints(only=["from_tip_id", "to_tip_id"])
    )


def _tip_links(root: m.Tip, info: Info) -> Iterable[m.TipLink]:
    """The links of ``root`` at either end, oldest first, each seen from ``root``."""
    cache = getattr(root, "_prefetched_objects_cache", {})
    if all(name in cache for name in _LINK_ENDS.values()):
        rows = [link for name in _LINK_ENDS.values() for link in cache[name]]
    else:
        where = Q(from_tip_id=root.pk) | Q(to_tip_id=root.pk)
        rows = list(_links_queryset(m.TipLink.objects.filter(where), info))
    for link in rows:
        link.viewer_tip_id = root.pk
    return sorted(rows, key=lambda link: link.pk)


@model_type(m.Tip, filters=TipFilter, ordering=TipOrder)
class TipType(ScopedNode):
    """One report as received from a source."""

    source: SourceRef | None = strawberry_django.field(
        extensions=need_to_know("Tip.source"), description=f"Who sent the tip. {NEED_TO_KNOW_NOTE}"
    )
    source_reference: auto
    received_at: auto
    category: TipCategoryEnum
    narrative: str | None = strawberry_django.field(
        extensions=need_to_know("Tip.narrative"),
        description=f"The report's own words. {NEED_TO_KNOW_NOTE}",
    )
    status: TipStatusEnum
    priority: auto
    priority_score: float | None = strawberry_django.field(
        description="Computed priority score: the sum of the points of priorityExplanation. "
        "Null until scored."
    )
    escalated: auto
    access_to_children: bool | None = strawberry_django.field(
        extensions=need_to_know("Tip.accessToChildren"),
        description=f"The subject is reported to have access to children. {NEED_TO_KNOW_NOTE}",
    )
    hands_on: bool | None = strawberry_django.field(
        extensions=need_to_know("Tip.handsOn"),
        description=f"Indicators of hands-on offending. {NEED_TO_KNOW_NOTE}",
    )
    handling_caveat: HandlingCaveatEnum
    handling_markings: list[HandlingCaveatEnum] = handling_markings_field(m.Tip)  # type: ignore[valid-type]
    is_actionable: auto
    actionable_reason: str | None = strawberry_django.field(
        extensions=need_to_know("Tip.actionableReason"),
        description=f"Why the review found the tip (not) actionable. {NEED_TO_KNOW_NOTE}",
    )
    reviewed_at: auto
    created_at: auto
    updated_at: auto
    identifiers: DjangoListConnection[SightingType] = strawberry_django.connection(
        field_name="sightings",
        description="Identifiers seen in this tip, with event and time. Investigators see only "
        "the identifiers their lookups returned.",
    )
    subjects: DjangoListConnection[TipSubjectType] = strawberry_django.connection(
        field_name="subject_links",
        description="People named in this tip, with their role. Investigators never see "
        "victims here: those rows are left out for them.",
    )
    victims: DjangoListConnection[TipVictimType] | None = strawberry_django.connection(
        field_name="subject_links",
        extensions=need_to_know("Tip.victims"),
        description=f"Victims named in this tip. {NEED_TO_KNOW_NOTE}",
    )
    cluster: Annotated[ClusterType, strawberry.lazy("schema.cluster")] | None = (  # noqa: F821
        strawberry_django.field(
            extensions=need_to_know("Tip.cluster"),
            description=f"The matter this tip belongs to: its linked tips. {NEED_TO_KNOW_NOTE}",
        )
    )
    links: DjangoListConnection[TipLinkType] | None = strawberry_django.connection(
        resolver=_tip_links,
        prefetch_related=[_links_at(end) for end in _LINK_ENDS],
        extensions=need_to_know("Tip.links"),
        description=f"Links to other tips, each with its reason. {NEED_TO_KNOW_NOTE}",
    )
    leads: DjangoListConnection[LeadRef] | None = strawberry_django.connection(
        extensions=need_to_know("Tip.leads"),
        description=f"Leads built from this tip. {NEED_TO_KNOW_NOTE}",
    )
    notes: DjangoListConnection[NoteRef] = strawberry_django.connection(
        description="Notes on this tip. Investigators see targeting notes and notes written "
        "by investigators only; the owning agency's internal notes are left out for them."
    )
    research_results: DjangoListConnection[ResearchRef] | None = strawberry_django.connection(
        extensions=need_to_know("Tip.researchResults"),
        description=f"Research results on this tip. {NEED_TO_KNOW_NOTE}",
    )

    @strawberry_django.field(only=["status"], description="Statuses this tip may move to next.")
    def allowed_transitions(self, root: m.Tip) -> list[TipStatusEnum]:  # type: ignore[valid-type]
        return sorted(TIP_MACHINE.allowed(root.status))  # type: ignore[return-value]

    @strawberry_django.field(
        only=["priority_factors"],
        extensions=need_to_know("Tip.priorityExplanation"),
        description="The factors of priorityScore, each with its points and why it applies. "
        + NEED_TO_KNOW_NOTE,
    )
    def priority_explanation(self, root: m.Tip) -> list[PriorityFactorType] | None:
        return [
            PriorityFactorType(
                name=f["name"], points=float(f["points"]), explanation=f["explanation"]
            )
            for f in root.priority_factors or []
        ]


# The raw value is the identifier's value as the tip gave it.
@carries({"rawValue": lambda sighting: [(m.Identifier, sighting.identifier_id)]})
@model_type(m.TipIdentifier)
class SightingType(ScopedNode):
    """An identifier seen in a tip: the event it was seen in and when it was captured."""

    tip: TipType
    identifier: IdentifierRef
    event: SightingEventEnum
    captured_at: auto
    raw_value: auto = strawberry_django.field(only=["raw_value", "identifier_id"])


@model_type(m.TipSubject)
class TipSubjectType(ScopedNode):
    """A person named in a tip, in a role."""

    tip: TipType
    subject: SubjectRef
    role: SubjectRoleEnum


@strawberry_django.type(m.TipSubject, name="TipVictim")
class TipVictimType(ScopedNode):
    """A victim named in a tip."""

    tip: TipType
    subject: SubjectRef

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Any], info: Info, **kwargs: Any) -> QuerySet[Any]:
        queryset = super().get_queryset(queryset, info, **kwargs)
        return queryset.filter(role=m.SubjectRole.VICTIM)


def _tip_at(end: str) -> Callable[[Info], Prefetch]:
    """The optimizer's prefetch of a link's tip at ``end`` (row-scoped, optimized for the
    selection of ``TipLink.tip``): either end may be the linked tip."""

    def prefetch(info: Info) -> Prefetch:
        return Prefetch(
            end, queryset=optimize(TipType.get_queryset(m.Tip.objects.all(), info), info)
        )

    return prefetch


def _other_end(root: m.TipLink) -> TipType:
    """The tip at the other end from the tip the link was read for (``viewer_tip_id``, set by
    ``Tip.links`` and ``addTipLink``), else the higher end."""
    viewer = getattr(root, "viewer_tip_id", root.from_tip_id)
    return root.to_tip if viewer == root.from_tip_id else root.from_tip  # type: ignore[return-value]


# An automatic link's reason names the shared identifier's value or the shared subject's name.
@carries(
    {"reason": lambda link: [(m.Subject, link.subject_id), (m.Identifier, link.identifier_id)]}
)
@model_type(
    m.TipLink,
    description="A link between two tips, with its reason (shared identifier, shared subject, "
    "or by hand); the same link is read from either of its tips.",
)
class TipLinkType(ScopedNode):
    """A link from this tip to another, with the reason (shared identifier, subject, manual)."""

    tip: TipType = strawberry_django.field(
        resolver=_other_end,
        only=["from_tip_id", "to_tip_id"],
        prefetch_related=[_tip_at(end) for end in _LINK_ENDS],
        description="The linked tip: seen from the tip whose links are read, the other one (in "
        "addTipLink's answer, the toTipId tip; where the link is read on its own, the later "
        "recorded of the two).",
    )
    kind: TipLinkKindEnum
    reason: auto = strawberry_django.field(only=["reason", "subject_id", "identifier_id"])
    identifier: IdentifierRef | None
    subject: SubjectRef | None
    created_at: auto


@strawberry.type(name="PriorityFactor", description="One reason for a tip's priority score.")
class PriorityFactorType:
    name: str = strawberry.field(
        description="CATEGORY, ESCALATED, ACCESS_TO_CHILDREN, HANDS_ON, PRIOR_TIPS_IN_CLUSTER "
        "or SEX_OFFENDER_REGISTERED."
    )
    points: float = strawberry.field(description="Points this factor adds to the score.")
    explanation: str = strawberry.field(description="Why the factor applies.")


@strawberry.input(description="An identifier as seen in a tip.")
class SightingInput:
    identifier: IdentifierInput
    event: SightingEventEnum = SightingEventEnum.REPORTED  # type: ignore[attr-defined]
    captured_at: datetime.datetime | None = None

    def spec(self) -> SightingSpec:
        """The sighting as plain values, for the resolvers."""
        return SightingSpec(
            **self.identifier.values(), event=self.event.value, captured_at=self.captured_at
        )


@strawberry.input(description="A subject named in a tip.")
class TipSubjectInput:
    subject_id: relay.GlobalID
    role: SubjectRoleEnum = SubjectRoleEnum.SUSPECT  # type: ignore[attr-defined]

    def spec(self) -> SubjectInTip:
        """The person and role as plain values, for the resolvers."""
        return SubjectInTip(subject_id=self.subject_id, role=self.role.value)


@strawberry.input(description="A tip as received.")
class CreateTipInput:
    source_id: relay.GlobalID
    source_reference: str
    received_at: datetime.datetime
    category: TipCategoryEnum
    narrative: str = ""
    priority: int | None = strawberry.field(
        default=None,
        description="1 (highest) to 5 (lowest); when omitted, the band of the computed "
        "priority score.",
    )
    handling_caveat: HandlingCaveatEnum = HandlingCaveatEnum.NONE  # type: ignore[attr-defined]
    identifiers: list[SightingInput] = strawberry.field(default_factory=list)
    subjects: list[TipSubjectInput] = strawberry.field(default_factory=list)
    escalated: bool = strawberry.field(
        default=False, description="The source flagged the tip as urgent."
    )
    access_to_children: bool = strawberry.field(
        default=False, description="The subject is reported to have access to children."
    )
    hands_on: bool = strawberry.field(
        default=False, description="Indicators of hands-on (contact) offending."
    )


@strawberry.input(description="Fields of a tip to change; omitted fields stay as they are.")
class UpdateTipInput:
    id: relay.GlobalID
    narrative: str | None = None
    category: TipCategoryEnum | None = None
    priority: int | None = None
    handling_caveat: HandlingCaveatEnum | None = None
    received_at: datetime.datetime | None = None
    escalated: bool | None = None
    access_to_children: bool | None = None
    hands_on: bool | None = None


@strawberry.type(description="The tip a mutation changed, or why it did not.")
class TipPayload:
    tip: TipType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class TipQuery:
    tips: DjangoListConnection[TipType] = strawberry_django.connection(
        extensions=allow("Query.tips"),
        description=describe("Query.tips", "Browse tips."),
    )


@strawberry.type
class TipMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.createTip"),
        description=describe("Mutation.createTip", "Record a tip."),
    )
    def create_tip(self, info: Info, input: CreateTipInput) -> TipPayload:
        obj, errors = resolve.create_tip(
            info,
            source_id=input.source_id,
            source_reference=input.source_reference,
            received_at=input.received_at,
            category=input.category.value,
            narrative=input.narrative,
            priority=input.priority,
            handling_caveat=input.handling_caveat.value,
            identifiers=[sighting.spec() for sighting in input.identifiers],
            subjects=[subject.spec() for subject in input.subjects],
            escalated=input.escalated,
            access_to_children=input.access_to_children,
            hands_on=input.hands_on,
        )
        return TipPayload(tip=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.updateTip"),
        description=describe("Mutation.updateTip", "Edit a tip."),
    )
    def update_tip(self, info: Info, input: UpdateTipInput) -> TipPayload:
        obj, errors = resolve.update_tip(
            info,
            tip_id=input.id,
            narrative=input.narrative,
            category=enum_value(input.category),
            priority=input.priority,
            handling_caveat=enum_value(input.handling_caveat),
            received_at=input.received_at,
            escalated=input.escalated,
            access_to_children=input.access_to_children,
            hands_on=input.hands_on,
        )
        return TipPayload(tip=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.changeTipStatus"),
        description=describe(
            "Mutation.changeTipStatus",
            (
                "Move a tip to another status. Deciding ACTIONABLE or NOT_ACTIONABLE "
                "from UNDER_REVIEW records the review and needs a reason."
            ),
        ),
    )
    def change_tip_status(
        self, info: Info, id: relay.GlobalID, status: TipStatusEnum, reason: str = ""
    ) -> TipPayload:
        obj, errors = resolve.change_tip_status(info, id, status=status.value, reason=reason)
        return TipPayload(tip=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.addIdentifierToTip"),
        description=describe(
            "Mutation.addIdentifierToTip",
            "Add an identifier sighting to a tip; links tips sharing it.",
        ),
    )
    def add_identifier_to_tip(
        self, info: Info, tip_id: relay.GlobalID, sighting: SightingInput
    ) -> TipPayload:
        obj, errors = resolve.add_identifier(info, tip_id, sighting=sighting.spec())
        return TipPayload(tip=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.addSubjectToTip"),
        description=describe(
            "Mutation.addSubjectToTip", "Name a subject in a tip and link it to tips naming them."
        ),
    )
    def add_subject_to_tip(
        self, info: Info, tip_id: relay.GlobalID, subject: TipSubjectInput
    ) -> TipPayload:
        obj, errors = resolve.add_subject(
            info, tip_id, subject_id=subject.subject_id, role=subject.role.value
        )
        return TipPayload(tip=obj, errors=mutation_errors(errors))
