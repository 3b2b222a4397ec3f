"""Traveller lookup: the narrow query a partner-agency targeting officer may run.

Matching here is exact: normalised identifiers, and a name (case and accents folded)
together with a date of birth. What a lookup returns is written down as disclosures, so
the caller may afterwards open those records (and only those, for an investigator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from backend import models as m
from backend.errors import InvalidInput
from backend.identifiers import IdentifierKind
from backend.names import fold_name
from backend.services.identifiers import normalise_or_raise

__all__ = ["LookupCriteria", "LookupOutcome", "fold_name", "traveller_lookup"]

#: A lookup matching more than this many tips is too broad to be a traveller query.
MAX_TIPS = 200
ACTIVE_LEAD_STATUSES = (m.LeadStatus.REFERRED, m.LeadStatus.ACCEPTED)


@dataclass(frozen=True)
class LookupCriteria:
    """What a traveller query may ask by: identifiers, or a name with a date of birth."""

    name: str = ""
    date_of_birth: date | None = None
    email: str = ""
    username: str = ""
    platform: str = ""
    phone: str = ""
    passport: str = ""
    passport_country: str = ""


@dataclass
class LookupOutcome:
    lookup: m.TravellerLookup
    tip_ids: list[int] = field(default_factory=list)
    subject_ids: list[int] = field(default_factory=list)
    identifier_ids: list[int] = field(default_factory=list)
    matched_on: list[str] = field(default_factory=list)
    investigation_contacts: list[str] = field(default_factory=list)

    @property
    def relevant_to_investigation(self) -> bool:
        return bool(self.investigation_contacts)


def _identifier_query(criteria: LookupCriteria) -> tuple[Q | None, list[str], dict[str, Any]]:
    """A filter over Identifier for the identifiers asked by, the kinds asked, the criteria."""
    asked: list[tuple[str, str, str, str]] = []
    if criteria.email.strip():
        asked.append((IdentifierKind.EMAIL, criteria.email, "", "email"))
    if criteria.username.strip():
        if not criteria.platform.strip():
            raise InvalidInput("a username lookup needs the platform", field="platform")
        asked.append((IdentifierKind.USERNAME, criteria.username, criteria.platform, "username"))
    if criteria.phone.strip():
        asked.append((IdentifierKind.PHONE, criteria.phone, "", "phone"))
    if criteria.passport.strip():
        asked.append(
            (IdentifierKind.PASSPORT, criteria.passport, criteria.passport_country, "passport")
        )
    query: Q | None = None
    kinds: list[str] = []
    normalised: dict[str, Any] = {}
    for kind, raw, qualifier, field_name in asked:
        norm = normalise_or_raise(kind=kind, value=raw, qualifier=qualifier, field=field_name)
        condition = Q(kind=norm.kind.value, value=norm.value)
        if norm.qualifier:
            condition &= Q(qualifier=norm.qualifier)
        query = condition if query is None else query | condition
        kinds.append(norm.kind.value)
        normalised[field_name] = norm.value if not norm.qualifier else [norm.value, norm.qualifier]
    return query, kinds, normalised


def _check(criteria: LookupCriteria) -> None:
    folded = fold_name(criteria.name)
    if folded and criteria.date_of_birth is None:
        raise InvalidInput("a name lookup needs the date of birth", field="dateOfBirth")
    if criteria.date_of_birth is not None and not folded:
        raise InvalidInput("a date of birth alone is too broad; give the name too", field="name")
    if folded and sum(c.isalpha() for c in folded) < 2:
        raise InvalidInput("the name is too short to look up", field="name")


@transaction.atomic
def traveller_lookup(*, by: m.User, criteria: LookupCriteria, owner_view: bool) -> LookupOutcome:
    """Run a traveller query and record what it disclosed.

    ``owner_view`` is True for the owning agency's analysts; for partner investigators,
    OWNER_ONLY tips, removed records and victims are never matched or returned.
    """
    _check(criteria)
    id_query, kinds, normalised = _identifier_query(criteria)
    folded = fold_name(criteria.name)
    if id_query is None and not folded:
        raise InvalidInput(
            "give an e-mail, username with platform, phone, passport, or a name with a date of "
            "birth",
            field="input",
        )

    matched_on: list[str] = list(kinds)
    identifiers = list(
        m.Identifier.objects.filter(id_query, removed_at__isnull=True).values_list("pk", flat=True)
        if id_query is not None
        else []
    )
    subjects: set[int] = set()
    if folded:
        normalised["name"] = folded
        normalised["dateOfBirth"] = criteria.date_of_birth.isoformat()  # type: ignore[union-attr]
        for subject in m.Subject.objects.filter(
            date_of_birth=criteria.date_of_birth, removed_at__isnull=True
        ).only("pk", "full_name", "aliases"):
            names = [subject.full_name, *subject.aliases]
            if any(fold_name(n) == folded for n in names):
                subjects.add(subject.pk)
        if subjects:
            matched_on.append("NAME_AND_DATE_OF_BIRTH")
    subjects |= set(
        m.SubjectIdentifier.objects.filter(
            identifier__in=identifiers, subject__removed_at__isnull=True
        ).values_list("subject_id", flat=True)
    )

    tips = m.Tip.objects.filter(removed_at__isnull=True).filter(
        Q(sightings__identifier__in=identifiers)
        | Q(subject_links__subject__in=subjects, subject_links__role__in=_named_roles())
    )
    if not owner_view:
        tips = tips.exclude(handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    tip_ids = sorted(set(tips.values_list("pk", flat=True)))
    if len(tip_ids) > MAX_TIPS:
        raise InvalidInput(
            f"the lookup matches more than {MAX_TIPS} tips; narrow it down", field="input"
        )
    if not owner_view:
        # a partner sees a person or identifier only through a tip it may see, never a victim
        subjects = set(
            m.TipSubject.objects.filter(tip__in=tip_ids, subject__in=subjects)
            .exclude(role=m.SubjectRole.VICTIM)
            .values_list("subject_id", flat=True)
        )
        identifiers = list(
            set(
                m.TipIdentifier.objects.filter(
                    tip__in=tip_ids, identifier__in=identifiers
                ).values_list("identifier_id", flat=True)
            )
            | set(
                m.SubjectIdentifier.objects.filter(
                    subject__in=subjects, identifier__in=identifiers
                ).values_list("identifier_id", flat=True)
            )
        )
    contacts = sorted(
        set(
            m.Lead.objects.filter(
                tips__in=tip_ids, status__in=ACTIVE_LEAD_STATUSES, removed_at__isnull=True
            )
            .exclude(office=None)
            .values_list("office__contact_point", flat=True)
        )
        - {""}
    )
    lookup = m.TravellerLookup.objects.create(
        user=by, criteria=normalised, subject_hits=len(subjects), tip_hits=len(tip_ids)
    )
    _disclose(lookup, by, m.Tip, tip_ids)
    _disclose(lookup, by, m.Subject, sorted(subjects))
    _disclose(lookup, by, m.Identifier, sorted(identifiers))
    return LookupOutcome(
        lookup=lookup,
        tip_ids=tip_ids,
        subject_ids=sorted(subjects),
        identifier_ids=sorted(identifiers),
        matched_on=matched_on if (tip_ids or subjects or identifiers) else [],
        investigation_contacts=contacts,
    )


def _named_roles() -> list[str]:
    return [r for r in m.SubjectRole.values if r != m.SubjectRole.VICTIM]


def _disclose(lookup: m.TravellerLookup, user: m.User, model: type, ids: list[int]) -> None:
    content_type = ContentType.objects.get_for_model(model)
    m.Disclosure.objects.bulk_create(
        [
            m.Disclosure(lookup=lookup, user=user, content_type=content_type, object_id=pk)
            for pk in ids
        ]
    )
