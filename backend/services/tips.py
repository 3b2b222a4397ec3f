"""Tips: intake, edits, review decisions and status changes, identifiers and subjects on tips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.errors import DuplicateRecord, InvalidInput
from backend.models import (
    HandlingCaveat,
    Identifier,
    SightingEvent,
    Source,
    Subject,
    SubjectRole,
    Tip,
    TipCategory,
    TipIdentifier,
    TipStatus,
    TipSubject,
    User,
)
from backend.services.alerts import raise_correction_alerts, raise_link_alerts
from backend.services.clusters import enter_tip_graph
from backend.services.deconfliction import deconflict
from backend.services.guards import check_lengths, refusing_duplicates
from backend.services.identifiers import normalise_or_raise, resolve_identifier
from backend.services.linking import link_tips
from backend.services.priority import apply_priority
from backend.states import TIP_MACHINE
from backend.vocabulary import MAX_IDENTIFIERS_PER_TIP, MAX_SUBJECTS_PER_TIP

__all__ = [
    "SightingSpec",
    "add_identifier_to_tip",
    "add_subject_to_tip",
    "change_tip_status",
    "create_tip",
    "update_tip",
]

MAX_IDENTIFIERS_PER_CALL = MAX_IDENTIFIERS_PER_TIP
MAX_SUBJECTS_PER_CALL = MAX_SUBJECTS_PER_TIP
#: Editing one of these re-scores the tip's priority.
PRIORITY_FACTOR_FIELDS = frozenset({"category", "escalated", "access_to_children", "hands_on"})


@dataclass(frozen=True, slots=True)
class SightingSpec:
    """An identifier as given with a tip: raw value plus the event it was seen in."""

    kind: str
    value: str
    qualifier: str = ""
    event: str = SightingEvent.REPORTED
    captured_at: datetime | None = None


def _check_choice(value: str, choices: Any, field: str) -> None:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise InvalidInput(f"{field} {value!r} is not one of: {allowed}", field=field)


def _check_priority(priority: int) -> None:
    if not 1 <= priority <= 5:
        raise InvalidInput(
            f"priority must be 1 (highest) to 5 (lowest), got {priority}", field="priority"
        )


def _attach_identifiers(
    tip: Tip, specs: Sequence[SightingSpec], *, indexed: bool = True
) -> list[TipIdentifier]:
    """Check ``specs`` in the order given, write their identifier rows in the order of their
    normalised values, then add the sightings in the order given. Writing identifier rows (a
    new row, or first/last seen) locks them until commit: in one order for every writer, two
    tips sharing identifiers never wait for each other's rows crosswise."""
    fields = [f"identifiers[{i}]" if indexed else "identifiers" for i in range(len(specs))]
    order: list[tuple[str, str, str]] = []
    for spec, where in zip(specs, fields, strict=True):
        _check_choice(spec.event, SightingEvent, f"{where}.event")
        norm = normalise_or_raise(
            kind=spec.kind, value=spec.value, qualifier=spec.qualifier, field=f"{where}.value"
        )
        order.append((norm.kind.value, norm.qualifier, norm.value))
    resolved: dict[int, Identifier] = {}
    for index in sorted(range(len(specs)), key=order.__getitem__):
        spec = specs[index]
        resolved[index], _ = resolve_identifier(
            kind=spec.kind,
            value=spec.value,
            qualifier=spec.qualifier,
            seen_at=spec.captured_at or tip.received_at,
            field=f"{fields[index]}.value",
        )
    sightings = []
    for index, spec in enumerate(specs):
        sighting, _ = TipIdentifier.objects.get_or_create(
            tip=tip,
            identifier=resolved[index],
            event=spec.event,
            captured_at=spec.captured_at,
            defaults={"raw_value": spec.value.strip()},
        )
        sightings.append(sighting)
    return sightings


def _attach_subject(tip: Tip, subject: Subject, role: str) -> TipSubject:
    _check_choice(role, SubjectRole, "role")
    link, _ = TipSubject.objects.get_or_create(tip=tip, subject=subject, role=role)
    return link


@transaction.atomic
def create_tip(
    *,
    by: User | None,
    source: Source,
    source_reference: str,
    received_at: datetime,
    category: str,
    narrative: str = "",
    priority: int | None = None,
    handling_caveat: str = HandlingCaveat.NONE,
    identifiers: Sequence[SightingSpec] = (),
    subjects: Sequence[tuple[Subject, str]] = (),
    escalated: bool = False,
    access_to_children: bool = False,
    hands_on: bool = False,
) -> Tip:
    """Record a tip as received, with its identifiers and subjects, link it and score its
    priority. Without ``priority``, the priority is the band of the computed score."""
    reference = source_reference.strip()
    if not reference:
        raise InvalidInput("sourceReference must not be empty", field="sourceReference")
    _check_choice(category, TipCategory, "category")
    _check_choice(handling_caveat, HandlingCaveat, "handlingCaveat")
    if priority is not None:
        _check_priority(priority)
    if len(identifiers) > MAX_IDENTIFIERS_PER_CALL:
        raise InvalidInput(
            f"at most {MAX_IDENTIFIERS_PER_CALL} identifiers per call", field="identifiers"
        )
    if len(subjects) > MAX_SUBJECTS_PER_CALL:
        raise InvalidInput(f"at most {MAX_SUBJECTS_PER_CALL} subjects per call", field="subjects")
    check_lengths(Tip, {"source_reference": reference, "narrative": narrative})
    duplicate = f"source {source.name!r} already sent a tip with reference {reference!r}"
    if Tip.objects.filter(source=source, source_reference=reference).exists():
        raise DuplicateRecord(duplicate, field="sourceReference")
    # the graph lock, shared, before the first row (backend.services.clusters)
    enter_tip_graph()
    # a concurrent request may insert the same tip between the check and the insert
    with refusing_duplicates({"tip_source_reference_unique": (duplicate, "sourceReference")}):
        tip = Tip.objects.create(
            source=source,
            source_reference=reference,
            received_at=received_at,
            category=category,
            narrative=narrative,
            priority=priority if priority is not None else 3,
            handling_caveat=handling_caveat,
            created_by=by,
            escalated=escalated,
            access_to_children=access_to_children,
            hands_on=hands_on,
        )
    _attach_identifiers(tip, identifiers)
    for subject, role in subjects:
        _attach_subject(tip, subject, role)
    link_tips(tip_ids=[tip.pk])
    apply_priority(tip=tip, set_band=priority is None)
    deconflict_tip(tip=tip, by=by)
    raise_link_alerts([tip.pk], new=True)
    return tip


def deconflict_tip(*, tip: Tip, by: User | None) -> None:
    """Tell offices whose active leads share this tip's identifiers or subjects."""
    deconflict(
        identifier_ids=tip.sightings.values_list("identifier_id", flat=True),
        subject_ids=tip.subject_links.values_list("subject_id", flat=True),
        origin_office=getattr(by, "office", None),
        by=by,
        tip=tip,
    )


@transaction.atomic
def update_tip(
    *,
    tip: Tip,
    narrative: str | None = None,
    category: str | None = None,
    priority: int | None = None,
    handling_caveat: str | None = None,
    received_at: datetime | None = None,
    escalated: bool | None = None,
    access_to_children: bool | None = None,
    hands_on: bool | None = None,
) -> Tip:
    """Edit a tip's descriptive fields; re-score its priority when a priority factor changed.
    Status moves through ``change_tip_status`` only."""
    changed: list[str] = []
    for name, value in (
        ("escalated", escalated),
        ("access_to_children", access_to_children),
        ("hands_on", hands_on),
    ):
        if value is not None:
            setattr(tip, name, value)
            changed.append(name)
    if category is not None:
        _check_choice(category, TipCategory, "category")
        tip.category = category
        changed.append("category")
    if handling_caveat is not None:
        _check_choice(handling_caveat, HandlingCaveat, "handlingCaveat")
        tip.handling_caveat = handling_caveat
        changed.append("handling_caveat")
    if priority is not None:
        _check_priority(priority)
        tip.priority = priority
        changed.append("priority")
    if narrative is not None:
        check_lengths(Tip, {"narrative": narrative})
        tip.narrative = narrative
        changed.append("narrative")
    if received_at is not None:
        tip.received_at = received_at
        changed.append("received_at")
    # Write only the edited columns: a stale ``tip`` must not write back an old status or review.
    tip.save(update_fields=[*changed, "updated_at"])
    if PRIORITY_FACTOR_FIELDS & set(changed):
        apply_priority(tip=tip)
    if changed:
        raise_correction_alerts(Tip, [tip.pk], removed=False)
        raise_link_alerts([tip.pk])
    return tip


@transaction.atomic
def change_tip_status(*, tip: Tip, by: User | None, status: str, reason: str = "") -> Tip:
    """Move a tip to ``status``. Deciding ACTIONABLE or NOT_ACTIONABLE records the review."""
    tip = Tip.objects.select_for_update().get(pk=tip.pk)
    TIP_MACHINE.check(tip.status, status)
    check_lengths(Tip, {"actionable_reason": reason}, fields={"actionable_reason": "reason"})
    if status in (TipStatus.ACTIONABLE, TipStatus.NOT_ACTIONABLE):
        if not reason.strip():
            raise InvalidInput("a review decision needs a reason", field="reason")
        if tip.status == TipStatus.UNDER_REVIEW:
            tip.is_actionable = status == TipStatus.ACTIONABLE
            tip.actionable_reason = reason.strip()
            tip.reviewed_by = by
            tip.reviewed_at = timezone.now()
    tip.status = status
    tip.save()
    return tip


@transaction.atomic
def add_identifier_to_tip(
    *, tip: Tip, sighting: SightingSpec, by: User | None = None
) -> TipIdentifier:
    """Add one identifier sighting to a tip and link the tip to others that share it."""
    enter_tip_graph()
    (result,) = _attach_identifiers(tip, [sighting], indexed=False)
    link_tips(tip_ids=[tip.pk])
    apply_priority(tip=tip)
    deconflict_tip(tip=tip, by=by)
    raise_link_alerts([tip.pk])
    return result


@transaction.atomic
def add_subject_to_tip(
    *, tip: Tip, subject: Subject, role: str = SubjectRole.SUSPECT, by: User | None = None
) -> TipSubject:
    """Name a subject in a tip and link the tip to others naming the same subject."""
    enter_tip_graph()
    result = _attach_subject(tip, subject, role)
    link_tips(tip_ids=[tip.pk])
    apply_priority(tip=tip)
    deconflict_tip(tip=tip, by=by)
    raise_link_alerts([tip.pk])
    return result
