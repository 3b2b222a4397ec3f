"""Handling markings: the caveats that travel with a record to whoever is shown it.

A tip carries its own handling caveat. A person or an identifier carries the caveats of the
tips through which the caller sees it: a person, of the tips naming them that the caller may
see (for a partner, only the tips where they are a suspect); an identifier, of the tips it
was seen in and of the tips naming a person holding it, again as far as the caller may see
them (``permissions.scoping``). ``NONE`` is no marking. What each caveat means is
``HandlingCaveat``'s docstring.

The rows that give a person or an identifier its markings are fetched as prefetches
(``marking_prefetches``), so that a list of records gets them in one or two more queries
whatever its length, and read back with ``markings_from``; ``markings_of`` does both for a
set of ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, Model, OuterRef, Prefetch, QuerySet

from backend import models as m
from permissions.compiled import among, compiled
from permissions.scoping import scope_queryset

__all__ = [
    "MARKABLE",
    "MARKINGS",
    "load_markings",
    "marking_prefetch_builders",
    "marking_prefetches",
    "markings_from",
    "markings_of",
]

#: The caveats that are markings, in the order they are listed.
MARKINGS: tuple[str, ...] = tuple(c for c in m.HandlingCaveat.values if c != "NONE")
#: The records that carry markings.
MARKABLE: tuple[type[Model], ...] = (m.Tip, m.Subject, m.Identifier)

_LINKS = "_marking_links"
_SIGHTINGS = "_marking_sightings"
_HOLDERS = "_marking_holders"


def _marked_links(user: Any) -> QuerySet[m.TipSubject]:
    """The person-in-a-tip rows ``user`` may see whose tip carries a marking (``_caveat``)."""
    return (
        scope_queryset(m.TipSubject.objects.filter(tip__handling_caveat__in=MARKINGS), user)
        .annotate(_caveat=F("tip__handling_caveat"))
        .only("id", "subject_id", "tip_id")
    )


def _marked_sightings(user: Any) -> QuerySet[m.TipIdentifier]:
    """The sightings ``user`` may see whose tip carries a marking (``_caveat``)."""
    return (
        scope_queryset(m.TipIdentifier.objects.filter(tip__handling_caveat__in=MARKINGS), user)
        .annotate(_caveat=F("tip__handling_caveat"))
        .only("id", "identifier_id", "tip_id")
    )


def _holders(user: Any) -> QuerySet[m.SubjectIdentifier]:
    """The identifiers' holders ``user`` may see, each with the markings of the tips naming
    them that ``user`` may see (``_caveats``)."""
    return (
        scope_queryset(m.SubjectIdentifier.objects.all(), user)
        .annotate(
            _caveats=ArraySubquery(
                _marked_links(user).filter(subject=OuterRef("subject_id")).values("_caveat")
            )
        )
        .only("id", "identifier_id", "subject_id")
    )


@dataclass(frozen=True)
class _Source:
    """Rows a record's markings are read from: ``rows(user)`` of the relation ``relation``
    (whose foreign key to the record is ``key``), kept on the record as ``attribute``;
    ``value`` names the annotation that holds their caveat (``_caveat``) or caveats
    (``_caveats``)."""

    attribute: str
    rows: Callable[[Any], QuerySet[Any]]
    relation: str
    key: str
    value: str

    def prefetch(self, user: Any) -> Prefetch:
        """The rows as a prefetch of the records' ``relation``."""
        return Prefetch(self.relation, queryset=self.rows(user), to_attr=self.attribute)

    def among(self, user: Any) -> QuerySet[Any]:
        """The rows of the records asked for, (record id, caveat or caveats), to compile."""
        return self.rows(user).filter(among(self.key)).values_list(self.key, self.value)


@dataclass(frozen=True)
class _Row:
    """What ``markings_from`` reads of such a row: a caveat, or a holder's caveats."""

    _caveat: str = ""
    _caveats: tuple[str, ...] = ()


#: Where each kind of record's markings come from (none for a tip: its own caveat).
_SOURCES: dict[type[Model], tuple[_Source, ...]] = {
    m.Tip: (),
    m.Subject: (_Source(_LINKS, _marked_links, "tip_links", "subject_id", "_caveat"),),
    m.Identifier: (
        _Source(_SIGHTINGS, _marked_sightings, "sightings", "identifier_id", "_caveat"),
        _Source(_HOLDERS, _holders, "subject_links", "identifier_id", "_caveats"),
    ),
}


def load_markings(model: type[Model], records: dict[Any, Model], user: Any) -> None:
    """Give each of ``records`` (``model``'s, by id) what ``markings_from`` needs for ``user``,
    as ``marking_prefetches`` would, with one compiled statement per prefetch
    (``permissions.compiled``; ``user`` must be one that ``compiles_for`` accepts)."""
    partner = user.role == m.Role.INVESTIGATOR
    for source in _SOURCES[model]:
        found: dict[Any, list[_Row]] = {pk: [] for pk in records}
        if records:
            statement = compiled(source.among, user.role, partner=partner)
            for pk, value in statement.rows(user, list(records)):
                caveats = tuple(value) if source.value == "_caveats" else value
                found[pk].append(_Row(**{source.value: caveats}))
        for pk, record in records.items():
            setattr(record, source.attribute, found[pk])


def marking_prefetch_builders(model: type[Model]) -> tuple[Callable[[Any], Prefetch], ...]:
    """Functions of the user giving the prefetches ``markings_from`` needs of a ``model``
    record (none for a tip, which carries its own caveat)."""
    if model not in _SOURCES:
        raise TypeError(f"{model.__name__} records carry no handling markings")
    return tuple(source.prefetch for source in _SOURCES[model])


def marking_prefetches(model: type[Model], user: Any) -> list[Prefetch]:
    """What ``markings_from`` needs of each ``model`` record, as prefetches for ``user``."""
    return [build(user) for build in marking_prefetch_builders(model)]


def _ordered(caveats: Iterable[str]) -> list[str]:
    present = set(caveats)
    return [caveat for caveat in MARKINGS if caveat in present]


def markings_from(record: Model) -> list[str] | None:
    """The markings of ``record``, from its own caveat (a tip) or from what
    ``marking_prefetches`` fetched; None when that was not fetched."""
    if isinstance(record, m.Tip):
        return _ordered([record.handling_caveat])
    if isinstance(record, m.Subject):
        if not hasattr(record, _LINKS):
            return None
        return _ordered(link._caveat for link in getattr(record, _LINKS))
    if isinstance(record, m.Identifier):
        if not (hasattr(record, _SIGHTINGS) and hasattr(record, _HOLDERS)):
            return None
        caveats = [sighting._caveat for sighting in getattr(record, _SIGHTINGS)]
        for holder in getattr(record, _HOLDERS):
            caveats += holder._caveats
        return _ordered(caveats)
    raise TypeError(f"{type(record).__name__} records carry no handling markings")


def markings_of(model: type[Model], ids: Iterable[Any], user: Any) -> dict[Any, list[str]]:
    """The markings of each ``model`` record of ``ids`` for ``user`` (records without one left
    out), in one query and its prefetches."""
    records = model._default_manager.filter(pk__in=list(ids)).prefetch_related(
        *marking_prefetches(model, user)
    )
    records = records.only("pk", *(["handling_caveat"] if model is m.Tip else []))
    found = {record.pk: markings_from(record) or [] for record in records}
    return {pk: marks for pk, marks in found.items() if marks}
