"""Row scoping: the one function every GraphQL type's ``get_queryset`` calls.

Lists, node fetches, nested relations and mutation look-ups all pass through
``scope_queryset``, so a rule written here holds on every path at once:

- removed records (and links an analyst removed) are hidden from everyone but the program
  manager;
- analysts and program managers (the owning agency) see the rest of the graph;
- a partner-agency investigator sees only records a traveller lookup of theirs returned,
  for ``DISCLOSURE_REOPEN_DAYS`` after that lookup (then they must look it up again), and of
  those only what the partner rule (``permissions.partner``) lets a partner learn at all:
  never an OWNER_ONLY tip, a person only as a suspect on a visible tip (never a victim,
  witness, reporting person or other), no leads, sources, offices or research results, and
  of the notes on their records only targeting notes and notes by investigators;
- auditors and system administrators see the audit log, and nobody else does;
- every other role sees no rows of the graph at all.

Edge rows (a tip's identifiers, subjects and links) are visible only when the records at
both ends are, so a nested relation never leads from a visible record to a hidden one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from backend import models as m
from backend.registry import removable_models
from permissions.partner import (
    OWNING_AGENCY,
    partner_identifiers,
    partner_subjects,
    partner_tip_subjects,
    partner_tips,
)

__all__ = ["disclosure_cutoff", "scope_queryset", "statistics_threshold"]

M = TypeVar("M", bound=Model)

_AUDIT_READERS = frozenset({m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR})
_DISCLOSABLE = (m.Tip, m.Subject, m.Identifier)


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _visible(model: type[Model], user: Any) -> QuerySet[Any]:
    return scope_queryset(model._default_manager.all(), user)


def disclosure_cutoff() -> datetime:
    """Disclosures made at or before this time may no longer be reopened: a partner may open
    what a lookup of theirs returned for ``DISCLOSURE_REOPEN_DAYS`` days, then must look the
    traveller up again."""
    return timezone.now() - timedelta(days=settings.DISCLOSURE_REOPEN_DAYS)


def _disclosed(model: type[Model], user: Any) -> QuerySet[Any]:
    """Ids of the ``model`` records a lookup of ``user``'s returned within the reopening
    window: the one place the window applies."""
    return m.Disclosure.objects.filter(
        user=user,
        content_type=ContentType.objects.get_for_model(model),
        created_at__gt=disclosure_cutoff(),
    ).values("object_id")


def _note_records(user: Any) -> Q:
    """Notes on records visible to ``user``."""
    condition = Q(pk__in=[])
    for model in _DISCLOSABLE:
        condition |= Q(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=_visible(model, user).values("pk"),
        )
    return condition


def _owning_agency(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    model = queryset.model
    if user.role == m.Role.PROGRAM_MANAGER:
        return queryset
    if model in removable_models():
        queryset = queryset.filter(removed_at__isnull=True)
    if model is m.TipIdentifier:
        return queryset.filter(tip__removed_at__isnull=True, identifier__removed_at__isnull=True)
    if model is m.TipSubject:
        return queryset.filter(tip__removed_at__isnull=True, subject__removed_at__isnull=True)
    if model is m.SubjectIdentifier:
        return queryset.filter(
            subject__removed_at__isnull=True, identifier__removed_at__isnull=True
        )
    if model is m.TipLink:
        return queryset.filter(
            removed_at__isnull=True,
            from_tip__removed_at__isnull=True,
            to_tip__removed_at__isnull=True,
        )
    return queryset


#: The partner rule for each record a lookup can disclose (permissions.partner).
_PARTNER_RULE = {
    m.Tip: partner_tips,
    m.Subject: partner_subjects,
    m.Identifier: partner_identifiers,
}


def _investigator(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    model = queryset.model
    if model in _DISCLOSABLE:
        return _PARTNER_RULE[model](queryset).filter(pk__in=_disclosed(model, user))  # type: ignore[operator]
    if model is m.TipIdentifier:
        return queryset.filter(
            tip__in=_visible(m.Tip, user), identifier__in=_visible(m.Identifier, user)
        )
    if model is m.TipSubject:
        return partner_tip_subjects(queryset).filter(  # type: ignore[return-value]
            tip__in=_visible(m.Tip, user), subject__in=_visible(m.Subject, user)
        )
    if model is m.SubjectIdentifier:
        return queryset.filter(
            subject__in=_visible(m.Subject, user), identifier__in=_visible(m.Identifier, user)
        )
    if model is m.Note:
        return queryset.filter(
            Q(kind=m.NoteKind.TARGETING) | Q(author__role=m.Role.INVESTIGATOR)
        ).filter(_note_records(user))
    return queryset.none()


def scope_queryset(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Return the rows of ``queryset`` that ``user`` may see."""
    if not _active(user):
        return queryset.none()
    if queryset.model._meta.app_label == "audit":
        return queryset if user.role in _AUDIT_READERS else queryset.none()
    if user.role in OWNING_AGENCY:
        return _owning_agency(queryset, user)
    if user.role == m.Role.INVESTIGATOR:
        return _investigator(queryset, user)
    return queryset.none()


def statistics_threshold(user: Any) -> int:
    """The smallest group whose figures ``user`` may see in statistics: 0 (everything) for the
    owning agency's analysts and program managers, who may read the records themselves;
    ``STATS_MIN_GROUP_SIZE`` for everyone else (reporting clients), so that no person can be
    singled out from an aggregate."""
    if _active(user) and user.role in OWNING_AGENCY:
        return 0
    return settings.STATS_MIN_GROUP_SIZE
