"""Deconfliction: when new work touches another office's active lead, both offices are told.

A tip, a lead or a traveller lookup that touches an identifier or a subject belonging to an
active lead (REFERRED or ACCEPTED) of another office raises one notice per touched lead,
with a copy for each office and, on each copy, whom to contact on the other side. Work
within one office raises nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend import models as m
from backend.errors import InvalidInput
from backend.prepared import fetch_prepared
from backend.services.alerts import raise_notice_alerts

__all__ = [
    "ACTIVE_LEAD_STATUSES",
    "acknowledge",
    "deconflict",
    "touched_leads_sql",
]

ACTIVE_LEAD_STATUSES = (m.LeadStatus.REFERRED, m.LeadStatus.ACCEPTED)


def touched_leads_sql(identifiers: str, subjects: str, office: str) -> str:
    """SQL selecting the ids of the active leads (REFERRED or ACCEPTED, live, with an office)
    of offices other than ``office`` that these identifiers or subjects touch: an identifier
    seen in one of the lead's tips, a person of the lead, or a person in one of its tips.

    The arguments are SQL expressions: two arrays of record ids and an office id (NULL for
    work from no office, which every office's lead is "other" to). Written once, and run on
    its own (``deconflict``) or inside the statement that records a traveller lookup
    (``backend.services.lookups.record_lookups``), which so needs no statement of its own
    to learn that, as nearly always, there is nothing to deconflict.
    """
    lead, tip_links = m.Lead._meta.db_table, m.Lead.tips.through._meta.db_table
    subject_links = m.Lead.subjects.through._meta.db_table
    active = ", ".join(f"'{status.value}'" for status in ACTIVE_LEAD_STATUSES)
    return f"""
SELECT l.id FROM {lead} l
WHERE l.status IN ({active}) AND l.removed_at IS NULL AND l.office_id IS NOT NULL
  AND l.office_id IS DISTINCT FROM {office}
  AND l.id IN (
      SELECT lt.lead_id FROM {tip_links} lt
      JOIN {m.TipIdentifier._meta.db_table} ti ON ti.tip_id = lt.tip_id
      WHERE ti.identifier_id = ANY({identifiers})
      UNION
      SELECT ls.lead_id FROM {subject_links} ls WHERE ls.subject_id = ANY({subjects})
      UNION
      SELECT lt.lead_id FROM {tip_links} lt
      JOIN {m.TipSubject._meta.db_table} ts ON ts.tip_id = lt.tip_id
      WHERE ts.subject_id = ANY({subjects})
  )"""


_TOUCHED_SQL = touched_leads_sql(
    "%(identifiers)s::bigint[]", "%(subjects)s::bigint[]", "%(office)s::bigint"
)


def _contact(office: m.Office | None, user: m.User | None) -> str:
    if office is not None:
        return office.contact_point or office.name
    if user is not None:
        return f"{user.get_full_name() or user.get_username()} ({user.agency or 'no agency'})"
    return "unknown"


def deconflict(
    *,
    identifier_ids: Iterable[int] = (),
    subject_ids: Iterable[int] = (),
    origin_office: m.Office | None,
    by: m.User | None = None,
    tip: m.Tip | None = None,
    lead: m.Lead | None = None,
    lookup: m.TravellerLookup | None = None,
    touched: Sequence[int] | None = None,
) -> list[m.DeconflictionNotice]:
    """Raise the notices for work from ``origin_office`` touching these identifiers and subjects.

    Exactly one of ``tip``, ``lead`` or ``lookup`` names what touched them. ``touched``: the
    active leads they touch when the caller has read them already (``touched_leads_sql``
    inside its own statement); None to read them here.
    """
    identifier_ids, subject_ids = set(identifier_ids), set(subject_ids)
    if not identifier_ids and not subject_ids:
        return []
    if touched is None:
        touched = _touched_leads(identifier_ids, subject_ids, origin_office)
    touched = [pk for pk in touched if lead is None or pk != lead.pk]
    if not touched:
        return []  # the usual case: read only, no transaction or savepoint of its own
    trigger = {"triggered_by_tip": tip, "triggered_by_lead": lead, "triggered_by_lookup": lookup}
    active_leads = list(m.Lead.objects.filter(pk__in=touched).select_related("office"))
    with transaction.atomic():
        return _raise_notices(active_leads, trigger, identifier_ids, subject_ids, origin_office, by)


def _touched_leads(
    identifier_ids: set[int], subject_ids: set[int], origin_office: m.Office | None
) -> list[int]:
    """The ids of the active leads of offices other than ``origin_office`` that these
    identifiers or subjects touch (one prepared statement)."""
    office = origin_office.pk if origin_office is not None else None
    rows = fetch_prepared(
        _TOUCHED_SQL,
        {"identifiers": sorted(identifier_ids), "subjects": sorted(subject_ids), "office": office},
    )
    return [pk for (pk,) in rows]


def _raise_notices(
    leads: list[m.Lead],
    trigger: dict[str, Any],
    identifier_ids: set[int],
    subject_ids: set[int],
    origin_office: m.Office | None,
    by: m.User | None,
) -> list[m.DeconflictionNotice]:
    tip, lead = trigger["triggered_by_tip"], trigger["triggered_by_lead"]
    notices = []
    recipients: list[int] = []
    for active in leads:
        if m.DeconflictionNotice.objects.filter(lead=active, **trigger).exists():
            continue  # this work already told both offices about this lead
        touched = _touched(active, identifier_ids, subject_ids)
        what = "tip" if tip is not None else "lead" if lead is not None else "traveller lookup"
        notice = m.DeconflictionNotice.objects.create(
            lead=active,
            identifier_id=touched["identifiers"][0] if touched["identifiers"] else None,
            subject_id=touched["subjects"][0] if touched["subjects"] else None,
            **trigger,
            reason=f"A new {what} touches {touched['text']} of active lead "
            f"'{active.title}' of {active.office.name}.",
        )
        copies = [
            m.NoticeRecipient.objects.create(
                notice=notice, office=active.office, contact_point=_contact(origin_office, by)
            )
        ]
        if origin_office is not None:
            copies.append(
                m.NoticeRecipient.objects.create(
                    notice=notice,
                    office=origin_office,
                    contact_point=_contact(active.office, None),
                )
            )
        recipients += [copy.pk for copy in copies]
        notices.append(notice)
    raise_notice_alerts(recipients)  # each office's analysts are alerted
    return notices


def _touched(lead: m.Lead, identifier_ids: set[int], subject_ids: set[int]) -> dict[str, Any]:
    identifiers = sorted(
        set(
            m.TipIdentifier.objects.filter(
                tip__leads=lead, identifier__in=identifier_ids
            ).values_list("identifier_id", flat=True)
        )
    )
    subjects = sorted(
        set(lead.subjects.filter(pk__in=subject_ids).values_list("pk", flat=True))
        | set(
            m.TipSubject.objects.filter(tip__leads=lead, subject__in=subject_ids).values_list(
                "subject_id", flat=True
            )
        )
    )
    names: dict[str, list[str]] = defaultdict(list)
    for ident in m.Identifier.objects.filter(pk__in=identifiers).order_by("pk"):
        names["identifier"].append(f"{ident.kind.lower()} {ident.value}")
    for subject in m.Subject.objects.filter(pk__in=subjects).order_by("pk"):
        names["subject"].append(subject.full_name)
    text = "; ".join(f"{kind} {', '.join(values)}" for kind, values in names.items() if values)
    return {"identifiers": identifiers, "subjects": subjects, "text": text or "records"}


@transaction.atomic
def acknowledge(*, recipient: m.NoticeRecipient, by: m.User) -> m.NoticeRecipient:
    """Acknowledge one office's copy of a notice. Users attached to an office acknowledge
    only that office's copies."""
    if by.office_id is not None and by.office_id != recipient.office_id:
        raise InvalidInput(
            "you can acknowledge only your own office's notices", field="recipientId"
        )
    if recipient.acknowledged_at is not None:
        raise InvalidInput(
            "this notice is already acknowledged for that office", field="recipientId"
        )
    recipient.acknowledged_at = timezone.now()
    recipient.acknowledged_by = by
    recipient.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return recipient
