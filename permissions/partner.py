"""The partner rule: what the partner agency may ever learn of the tip graph.

Partner-agency targeting officers (investigators) learn about people only where they are a
suspect on a tip they may see. The rule is written here once, and used twice:

- by the traveller lookup (``backend.services.lookups``), through ``lookup_reach``: what a
  lookup may match, count, name in ``matchedOn`` and its reasons, count towards the tip cap,
  and disclose;
- by row scoping (``permissions.scoping``): what an investigator may open afterwards, which
  is this rule (``PARTNER_RULES``) together with "a lookup of theirs returned it, within the
  reopening window" (a record) or "the records at both its ends are visible" (an edge).

The rule:

- a **tip** is visible to a partner when it is live and not ``OWNER_ONLY``;
- a **person** only where they are a ``SUSPECT`` on a visible tip. Victims, witnesses,
  reporting persons and people in any other role are never matched, counted or disclosed to
  a partner, by name, alias or identifier; a person who is a suspect on one visible tip and a
  witness on another is learned only through the first;
- a person's **place in a tip** (a ``TipSubject`` row) only in the ``SUSPECT`` role;
- an **identifier** when it is linked (``SubjectIdentifier``) to a person the partner may
  learn about, or was seen in a visible tip (a tip identifier, found through that tip) and
  belongs to no person the partner may not learn about: a victim's or witness's e-mail is
  never found, even where a tip mentions it;
- an identifier's **sighting** in a tip and a person's **identifier** (``TipIdentifier``,
  ``SubjectIdentifier``) where both of its ends are visible;
- nothing else: no links between tips, leads, sources, offices or research results.

The owning agency's analysts are not bound by it: their lookups reach every live record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from backend import models as m

__all__ = [
    "CANDIDATES",
    "OWNING_AGENCY",
    "PARTNER_RULES",
    "PARTNER_SUBJECT_ROLES",
    "LookupReach",
    "ReachSql",
    "lookup_reach",
    "lookup_reach_sql",
    "partner_identifiers",
    "partner_subjects",
    "partner_tip_subjects",
    "partner_tips",
]

#: Roles of the owning agency, who may read the whole live graph.
OWNING_AGENCY = frozenset({m.Role.ANALYST, m.Role.PROGRAM_MANAGER})
#: The roles in a tip through which a partner may learn about a person.
PARTNER_SUBJECT_ROLES = (m.SubjectRole.SUSPECT,)


def _visible_tip_condition(prefix: str = "") -> Q:
    return Q(**{f"{prefix}removed_at__isnull": True}) & ~Q(
        **{f"{prefix}handling_caveat": m.HandlingCaveat.OWNER_ONLY}
    )


def partner_tips(queryset: QuerySet[m.Tip] | None = None) -> QuerySet[m.Tip]:
    """The tips of ``queryset`` a partner may see: live and not OWNER_ONLY."""
    queryset = m.Tip.objects.all() if queryset is None else queryset
    return queryset.filter(_visible_tip_condition())


def partner_tip_subjects(
    queryset: QuerySet[m.TipSubject] | None = None,
) -> QuerySet[m.TipSubject]:
    """The person-in-a-tip rows of ``queryset`` a partner may learn: a live person as a suspect
    on a tip the partner may see."""
    queryset = m.TipSubject.objects.all() if queryset is None else queryset
    return queryset.filter(
        _visible_tip_condition("tip__"),
        role__in=PARTNER_SUBJECT_ROLES,
        subject__removed_at__isnull=True,
    )


def _is_partner_suspect(subject: Any) -> Exists:
    """Whether the person ``subject`` (an OuterRef) is a suspect on a tip a partner may see."""
    return Exists(partner_tip_subjects(m.TipSubject.objects.filter(subject=subject)))


def partner_subjects(queryset: QuerySet[m.Subject] | None = None) -> QuerySet[m.Subject]:
    """The people of ``queryset`` a partner may learn about: live suspects on a tip the partner
    may see, and nobody else."""
    queryset = m.Subject.objects.all() if queryset is None else queryset
    return queryset.filter(removed_at__isnull=True).filter(_is_partner_suspect(OuterRef("pk")))


def partner_identifiers(
    queryset: QuerySet[m.Identifier] | None = None,
) -> QuerySet[m.Identifier]:
    """The identifiers of ``queryset`` a partner may learn: live, and linked to a person the
    partner may learn about, or seen in a tip the partner may see and held by nobody else."""
    queryset = m.Identifier.objects.all() if queryset is None else queryset
    seen = m.TipIdentifier.objects.filter(identifier=OuterRef("pk")).filter(
        _visible_tip_condition("tip__")
    )
    holders = m.SubjectIdentifier.objects.filter(
        identifier=OuterRef("pk"), subject__removed_at__isnull=True
    )
    held = holders.filter(_is_partner_suspect(OuterRef("subject_id")))
    held_by_hidden = holders.exclude(_is_partner_suspect(OuterRef("subject_id")))
    # Correlated EXISTS (not IN over every sighting): checked per identifier by index.
    return queryset.filter(removed_at__isnull=True).filter(
        Exists(held) | (Exists(seen) & ~Exists(held_by_hidden))
    )


def _every_row(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """No rule of its own: an edge bound only by its ends."""
    return queryset


#: Every model a partner may ever learn rows of, with the rule for its rows; a partner learns
#: nothing of any other model. Row scoping adds the rest for an investigator: a record only
#: where a lookup of theirs returned it, an edge (``backend.registry``'s ``ends``) only where
#: the records at both of its ends are visible to them.
PARTNER_RULES: dict[type[Model], Callable[[QuerySet[Any]], QuerySet[Any]]] = {
    m.Tip: partner_tips,
    m.Subject: partner_subjects,
    m.Identifier: partner_identifiers,
    m.TipIdentifier: _every_row,
    m.TipSubject: partner_tip_subjects,
    m.SubjectIdentifier: _every_row,
}


@dataclass(frozen=True)
class LookupReach:
    """What one caller's traveller lookup may match, count and return.

    ``tips``: the tips it may return; ``tip_subjects``: the person-in-a-tip rows through which
    a matched person leads to a tip; ``subjects`` and ``identifiers``: the people and
    identifiers it may match at all."""

    partner: bool
    tips: QuerySet[m.Tip]
    tip_subjects: QuerySet[m.TipSubject]
    subjects: QuerySet[m.Subject]
    identifiers: QuerySet[m.Identifier]


def lookup_reach(user: Any) -> LookupReach:
    """The reach of a traveller lookup by ``user``: every live record for the owning agency
    (a person's tips are those naming them in any role but victim), the partner rule for
    everyone else."""
    if getattr(user, "role", None) in OWNING_AGENCY:
        return LookupReach(
            partner=False,
            tips=m.Tip.objects.filter(removed_at__isnull=True),
            tip_subjects=m.TipSubject.objects.exclude(role=m.SubjectRole.VICTIM).filter(
                tip__removed_at__isnull=True, subject__removed_at__isnull=True
            ),
            subjects=m.Subject.objects.filter(removed_at__isnull=True),
            identifiers=m.Identifier.objects.filter(removed_at__isnull=True),
        )
    return LookupReach(
        partner=True,
        tips=partner_tips(),
        tip_subjects=partner_tip_subjects(),
        subjects=partner_subjects(),
        identifiers=partner_identifiers(),
    )


#: The candidates each compiled set of a ``ReachSql`` is checked for: a statement that uses a
#: set first names the rows it asks about in a CTE of this name (``SELECT id``), so the rule is
#: checked for those rows only, by index, never evaluated over the whole table.
CANDIDATES = {
    "tips": "_tip_candidates",
    "tip_subjects": "_link_candidates",
    "subjects": "_subject_candidates",
    "identifiers": "_identifier_candidates",
}


@dataclass(frozen=True)
class ReachSql:
    """A ``LookupReach`` as SQL: for each of its sets, a ``SELECT`` of the ids in it among the
    rows of its ``CANDIDATES`` CTE, and the parameters (``%s`` placeholders) that go with it,
    to use as ``id IN (...)`` in a statement that defines that CTE."""

    tips: tuple[str, tuple[Any, ...]]
    tip_subjects: tuple[str, tuple[Any, ...]]
    subjects: tuple[str, tuple[Any, ...]]
    identifiers: tuple[str, tuple[Any, ...]]


def lookup_reach_sql(user: Any) -> ReachSql:
    """``lookup_reach`` compiled to SQL, for the lookup's hand-written statements.

    The rule takes nothing of the caller but which side they are on (partner or owning
    agency), so each side's SQL is compiled from the querysets above once per process: the
    rule stays written once, here, and a lookup no longer pays for building it."""
    return _compiled_reach(getattr(user, "role", None) not in OWNING_AGENCY)


@functools.cache
def _compiled_reach(partner: bool) -> ReachSql:
    reach = lookup_reach(None if partner else _OwningAgencyCaller())
    assert reach.partner is partner

    def ids(name: str) -> tuple[str, tuple[Any, ...]]:
        among = RawSQL(f"SELECT id FROM {CANDIDATES[name]}", [])
        queryset = getattr(reach, name).filter(pk__in=among).order_by().values("pk")
        sql, params = queryset.query.sql_with_params()
        return sql, tuple(params)

    return ReachSql(*(ids(name) for name in ("tips", "tip_subjects", "subjects", "identifiers")))


class _OwningAgencyCaller:
    """Stands for any caller of the owning agency when the owning agency's reach is compiled."""

    role = m.Role.ANALYST
