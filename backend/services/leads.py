"""Leads: build from tips and subjects, refer to an office, record the outcome."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from backend.errors import InvalidInput
from backend.models import (
    Lead,
    LeadOutcome,
    LeadStatus,
    Office,
    Subject,
    Tip,
    TipIdentifier,
    TipStatus,
    TipSubject,
    User,
)
from backend.services.alerts import raise_referral_alerts
from backend.services.deconfliction import deconflict
from backend.services.guards import check_lengths
from backend.states import LEAD_MACHINE, TIP_MACHINE

__all__ = ["change_lead_status", "create_lead", "deconflict_lead", "update_lead"]

MAX_TIPS_PER_CALL = 200


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise InvalidInput("title must not be empty", field="title")
    check_lengths(Lead, {"title": cleaned})
    return cleaned


def _check_count(items: Sequence[object], field: str) -> None:
    if len(items) > MAX_TIPS_PER_CALL:
        raise InvalidInput(f"at most {MAX_TIPS_PER_CALL} items in {field}", field=field)


@transaction.atomic
def create_lead(
    *,
    by: User | None,
    title: str,
    summary: str = "",
    office: Office | None = None,
    tips: Sequence[Tip] = (),
    subjects: Sequence[Subject] = (),
) -> Lead:
    """Start a draft lead from tips and subjects."""
    _check_count(tips, "tipIds")
    _check_count(subjects, "subjectIds")
    check_lengths(Lead, {"summary": summary})
    lead = Lead.objects.create(
        title=_clean_title(title), summary=summary, office=office, created_by=by
    )
    lead.tips.set(tips)
    lead.subjects.set(subjects)
    deconflict_lead(lead=lead, by=by)
    return lead


def deconflict_lead(*, lead: Lead, by: User | None = None) -> None:
    """Tell other offices whose active leads share this lead's identifiers or subjects."""
    identifier_ids = TipIdentifier.objects.filter(tip__leads=lead).values_list(
        "identifier_id", flat=True
    )
    subject_ids = set(lead.subjects.values_list("pk", flat=True)) | set(
        TipSubject.objects.filter(tip__leads=lead).values_list("subject_id", flat=True)
    )
    deconflict(
        identifier_ids=identifier_ids,
        subject_ids=subject_ids,
        origin_office=lead.office,
        by=by,
        lead=lead,
    )


@transaction.atomic
def update_lead(
    *,
    lead: Lead,
    title: str | None = None,
    summary: str | None = None,
    office: Office | None = None,
    add_tips: Sequence[Tip] = (),
    remove_tips: Sequence[Tip] = (),
    add_subjects: Sequence[Subject] = (),
    remove_subjects: Sequence[Subject] = (),
) -> Lead:
    """Edit a lead. Its office, tips and subjects can change only while it is a draft."""
    # Judge by the stored status (locked), not by a possibly stale ``lead`` object.
    lead.status = Lead.objects.select_for_update().values_list("status", flat=True).get(pk=lead.pk)
    structural = office is not None or add_tips or remove_tips or add_subjects or remove_subjects
    if structural and lead.status != LeadStatus.DRAFT:
        raise InvalidInput(
            f"office, tips and subjects of a {lead.status} lead cannot change; only a DRAFT's can",
            field="status",
        )
    for items, field in (
        (add_tips, "addTipIds"),
        (remove_tips, "removeTipIds"),
        (add_subjects, "addSubjectIds"),
        (remove_subjects, "removeSubjectIds"),
    ):
        _check_count(items, field)
    changed: list[str] = []
    if title is not None:
        lead.title = _clean_title(title)
        changed.append("title")
    if summary is not None:
        check_lengths(Lead, {"summary": summary})
        lead.summary = summary
        changed.append("summary")
    if office is not None:
        lead.office = office
        changed.append("office")
    # Write only the edited columns: a stale ``lead`` must not write back an old status.
    lead.save(update_fields=[*changed, "updated_at"])
    lead.tips.add(*add_tips)
    lead.tips.remove(*remove_tips)
    lead.subjects.add(*add_subjects)
    lead.subjects.remove(*remove_subjects)
    if office is not None or add_tips or add_subjects:
        deconflict_lead(lead=lead)
    return lead


def _refer(lead: Lead) -> None:
    if lead.office_id is None:
        raise InvalidInput("a lead needs an office before it can be referred", field="office")
    tips = list(lead.tips.select_for_update())
    if not tips:
        raise InvalidInput("a lead needs at least one tip before it can be referred", field="tips")
    not_ready = [t for t in tips if t.status not in (TipStatus.ACTIONABLE, TipStatus.REFERRED)]
    if not_ready:
        refs = ", ".join(sorted(t.source_reference for t in not_ready))
        raise InvalidInput(
            f"only tips found actionable can be referred; not actionable yet: {refs}", field="tips"
        )
    now = timezone.now()
    for tip in tips:
        if tip.status == TipStatus.ACTIONABLE:
            TIP_MACHINE.check(tip.status, TipStatus.REFERRED)
            tip.status = TipStatus.REFERRED
            # The first referral counts for the receipt-to-referral statistics.
            tip.referred_at = tip.referred_at or now
            tip.save(update_fields=["status", "referred_at", "updated_at"])
    lead.referred_at = now


@transaction.atomic
def change_lead_status(
    *, lead: Lead, status: str, outcome: str | None = None, outcome_notes: str | None = None
) -> Lead:
    """Move a lead along DRAFT -> REFERRED -> ACCEPTED/DECLINED -> CLOSED (or CANCELLED)."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    LEAD_MACHINE.check(lead.status, status)
    lead_referred = False
    if outcome is not None:
        if outcome not in LeadOutcome.values:
            raise InvalidInput(f"outcome {outcome!r} is not a known outcome", field="outcome")
        lead.outcome = outcome
    if outcome_notes is not None:
        check_lengths(Lead, {"outcome_notes": outcome_notes})
        lead.outcome_notes = outcome_notes
    if status == LeadStatus.REFERRED:
        _refer(lead)
        deconflict_lead(lead=lead)
        lead_referred = True
    if status == LeadStatus.CLOSED:
        if not lead.outcome:
            raise InvalidInput("closing a lead needs an outcome", field="outcome")
        lead.closed_at = timezone.now()
    lead.status = status
    lead.save()
    if lead_referred:
        raise_referral_alerts([lead.pk])  # the office's analysts are alerted
    return lead
