"""Traveller lookup: the narrow query a partner-agency targeting officer may run.

Identifiers match exactly on their normalised values. A name matches fuzzily (pg_trgm
similarity on the folded name and aliases: case, accents and scripts folded) and only
together with the exact date of birth. Each matched person (or identifier with no person)
comes back as a ranked match with the reasons it matched. What a lookup returns is written
down as disclosures, so the caller may afterwards open those records (and only those, for an
investigator, and only for ``DISCLOSURE_REOPEN_DAYS``: ``permissions.scoping``).

A traveller matching a CLEARED DHS TRIP redress case (``backend.services.redress``) gets the
mark first: ``LookupOutcome.redress``, and a REDRESS reason ahead of every match's others.

What a lookup may match at all is not decided here: ``permissions.partner.lookup_reach``
gives the caller's reach (the partner rule for investigators: suspects on tips they may see,
never victims, witnesses, reporting persons or others).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from backend import models as m
from backend.errors import InvalidInput
from backend.identifiers import IdentifierKind
from backend.names import NAME_SEPARATOR, fold_name
from backend.prepared import fetch_prepared
from backend.services.deconfliction import ACTIVE_LEAD_STATUSES, deconflict, touched_leads_sql
from backend.services.guards import camel, check_lengths, check_text
from backend.services.identifiers import (
    MAX_QUALIFIER_LENGTH,
    MAX_VALUE_LENGTH,
    normalise_or_raise,
)
from backend.services.redress import RedressMark, apply_marks, redress_marks
from permissions.partner import CANDIDATES, ReachSql, lookup_reach_sql

__all__ = [
    "EVIDENCE",
    "Found",
    "LookupCriteria",
    "LookupMatch",
    "LookupOutcome",
    "LookupRow",
    "MatchReason",
    "Prepared",
    "Recorded",
    "evaluate",
    "fold_name",
    "name_matches",
    "prepare",
    "read_all",
    "record_lookups",
    "traveller_lookup",
    "traveller_redress",
]

#: A folded name needs at least this many letters to be looked up, even with a date of birth.
MIN_NAME_LETTERS = 3
#: How strongly one exact identifier match points at a person (0..1), by identifier kind.
EVIDENCE = {
    IdentifierKind.PASSPORT.value: 0.95,
    IdentifierKind.EMAIL.value: 0.9,
    IdentifierKind.USERNAME.value: 0.85,
    IdentifierKind.PHONE.value: 0.85,
}
#: A name matching with similarity 1.0 together with the exact date of birth.
NAME_AND_DOB_EVIDENCE = 0.9


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


@dataclass(frozen=True)
class MatchReason:
    """Why a record matched: the field (NAME, DATE_OF_BIRTH, EMAIL...), how (EXACT, FUZZY)."""

    field: str
    how: str
    detail: str


@dataclass
class LookupMatch:
    """One ranked hit: a person, or an identifier that no returned person holds."""

    score: float
    reasons: list[MatchReason]
    subject_id: int | None = None
    identifier_id: int | None = None
    tip_ids: list[int] = field(default_factory=list)
    known_misidentification: bool = False
    redress_case_number: str = ""
    #: Caveats of the match's tips (HandlingCaveat values, NONE left out): they travel with it.
    handling_markings: list[str] = field(default_factory=list)


@dataclass
class LookupOutcome:
    lookup: m.TravellerLookup
    tip_ids: list[int] = field(default_factory=list)
    subject_ids: list[int] = field(default_factory=list)
    identifier_ids: list[int] = field(default_factory=list)
    matched_on: list[str] = field(default_factory=list)
    investigation_contacts: list[str] = field(default_factory=list)
    matches: list[LookupMatch] = field(default_factory=list)
    #: The caveat of each returned tip that has one (NONE left out).
    tip_caveats: dict[int, str] = field(default_factory=dict)
    #: The CLEARED redress cases the traveller matches: shown above everything else.
    redress: list[RedressMark] = field(default_factory=list)

    @property
    def relevant_to_investigation(self) -> bool:
        return bool(self.investigation_contacts)


@dataclass(frozen=True)
class _NameHit:
    score: float
    best: str
    primary: bool


def _asked_identifiers(
    criteria: LookupCriteria,
) -> tuple[list[tuple[str, str, str]], list[str], dict[str, Any]]:
    """The identifiers asked by, normalised: ``(kind, value, qualifier)`` each (an empty
    qualifier matches any); the kinds asked; the normalised criteria."""
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
    values: list[tuple[str, str, str]] = []
    kinds: list[str] = []
    normalised: dict[str, Any] = {}
    for kind, raw, qualifier, field_name in asked:
        norm = normalise_or_raise(kind=kind, value=raw, qualifier=qualifier, field=field_name)
        values.append((norm.kind.value, norm.value, norm.qualifier))
        kinds.append(norm.kind.value)
        normalised[field_name] = norm.value if not norm.qualifier else [norm.value, norm.qualifier]
    return values, kinds, normalised


@dataclass(frozen=True)
class Prepared:
    """A lookup's criteria, checked and normalised (``prepare``)."""

    #: The identifiers asked by: ``(kind, value, qualifier)``, an empty qualifier matching any.
    asked: list[tuple[str, str, str]]
    #: The identifier kinds asked by, in the order asked (for ``matched_on``).
    kinds: list[str]
    #: The normalised criteria, as the lookup row keeps them.
    normalised: dict[str, Any]
    #: The folded name ("" when none), and its date of birth.
    folded: str
    date_of_birth: date | None


def prepare(criteria: LookupCriteria) -> Prepared:
    """Check and normalise a lookup's criteria; ``DomainError`` (with the input field) when
    they are malformed, empty or too broad to look up."""
    _check(criteria)
    asked, kinds, normalised = _asked_identifiers(criteria)
    folded = fold_name(criteria.name)
    if not asked and not folded:
        raise InvalidInput(
            "give an e-mail, username with platform, phone, passport, or a name with a date of "
            "birth",
            field="input",
        )
    if folded:
        normalised["name"] = folded
        normalised["dateOfBirth"] = criteria.date_of_birth.isoformat()  # type: ignore[union-attr]
    return Prepared(
        asked=asked,
        kinds=kinds,
        normalised=normalised,
        folded=folded,
        date_of_birth=criteria.date_of_birth,
    )


def _check_sizes(criteria: LookupCriteria) -> None:
    """Refuse over-long criteria before any work (folding a name costs time per character)."""
    check_lengths(m.Subject, {"full_name": criteria.name}, fields={"full_name": "name"})
    for name in ("email", "username", "phone", "passport"):
        check_text(getattr(criteria, name), field=name, max_length=MAX_VALUE_LENGTH)
    for name in ("platform", "passport_country"):
        check_text(getattr(criteria, name), field=camel(name), max_length=MAX_QUALIFIER_LENGTH)


def _check(criteria: LookupCriteria) -> None:
    _check_sizes(criteria)
    folded = fold_name(criteria.name)
    if folded and criteria.date_of_birth is None:
        raise InvalidInput("a name lookup needs the date of birth", field="dateOfBirth")
    if criteria.date_of_birth is not None and not folded:
        raise InvalidInput("a date of birth alone is too broad; give the name too", field="name")
    if folded and sum(c.isalpha() for c in folded) < MIN_NAME_LETTERS:
        raise InvalidInput(
            f"the name is too short to look up: give at least {MIN_NAME_LETTERS} letters",
            field="name",
        )


@dataclass(frozen=True)
class _Read:
    """What one lookup reads, from one statement (``_read``)."""

    identifiers: list[tuple[int, str, str]]  # (id, kind, value) asked for, within reach
    holders: list[tuple[int, int]]  # (subject, identifier): reached people holding them
    tips: list[tuple[int, str]]  # (id, caveat) returned, at most the cap + 1
    links: list[tuple[int, int]]  # (tip, subject): a returned person in a returned tip
    sightings: list[tuple[int, int]]  # (tip, identifier): a returned identifier in one
    marks: list[tuple[int, bool, str]]  # (subject, known misidentification, redress case)
    contacts: list[str]  # contact points of offices with an active lead on a returned tip


# -- the statements: one for every traveller looked up at once (a lookup is a list of one)


def _names_sql(reach: ReachSql) -> tuple[str, tuple[Any, ...]]:
    """The name search of every traveller with a name (one, for a single lookup), within the
    reach's people; positional parameters: the travellers' positions, folded names and dates
    of birth (three arrays), the separator, the reach's own, the threshold. The people born
    on a traveller's date of birth are the candidates (by its index: a date of birth shared by
    very many people costs in proportion); the rule is checked for them only."""
    reach_sql, reach_params = reach.subjects
    sql = f"""
WITH q AS (
    SELECT * FROM unnest(%s::integer[], %s::text[], %s::date[]) AS q(ord, name, dob)
), hits AS (
    SELECT q.ord, s.id FROM q JOIN {m.Subject._meta.db_table} s
      ON s.date_of_birth = q.dob AND s.removed_at IS NULL
     AND q.name <%% (s.names_folded || '')
), {CANDIDATES["subjects"]} AS (
    SELECT DISTINCT id FROM hits
)
SELECT q.ord, s.id, MAX(similarity(q.name, n.name)) AS score,
       (ARRAY_AGG(n.name ORDER BY similarity(q.name, n.name) DESC, n.pos))[1] AS best,
       (ARRAY_AGG(n.pos ORDER BY similarity(q.name, n.name) DESC, n.pos))[1] AS pos
FROM hits h
JOIN q ON q.ord = h.ord
JOIN {m.Subject._meta.db_table} s ON s.id = h.id
CROSS JOIN LATERAL unnest(string_to_array(s.names_folded, %s))
     WITH ORDINALITY AS n(name, pos)
WHERE s.id IN ({reach_sql})
GROUP BY q.ord, s.id
HAVING MAX(similarity(q.name, n.name)) >= %s
"""
    return sql, reach_params


def name_matches(prepared: dict[int, Prepared], reach: ReachSql) -> dict[int, dict[int, _NameHit]]:
    """Each named traveller's name hits (``{index: {subject: hit}}``), from one statement."""
    named = [(index, one) for index, one in prepared.items() if one.folded]
    if not named:
        return {}
    threshold = float(settings.LOOKUP_NAME_THRESHOLD)
    sql, reach_params = _names_sql(reach)
    params = [
        [index for index, _ in named],
        [one.folded for _, one in named],
        [one.date_of_birth for _, one in named],
        NAME_SEPARATOR,
        *reach_params,
        threshold,
    ]
    hits: dict[int, dict[int, _NameHit]] = defaultdict(dict)
    # The threshold is a transaction's setting: in the caller's transaction, or one of its own.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(threshold)]
        )
        for index, pk, score, best, pos in fetch_prepared(sql, params):
            hits[index][pk] = _NameHit(score=float(score), best=best, primary=pos == 1)
    return hits


def _read_sql(reach: ReachSql) -> str:
    """The statement of ``_read`` (for every traveller at once, each row with its
    traveller's position); its parameters, in order: the identifiers asked (four
    arrays: position, kind, value, qualifier), the reach's identifiers', the name hits (two
    arrays: position, person), the reach's people's, person-in-tip rows' and tips', the
    number of tips each traveller's read stops at. Each set of the reach is checked for the
    rows its ``CANDIDATES`` CTE names, for all travellers together."""
    active = ", ".join(f"'{status}'" for status in ACTIVE_LEAD_STATUSES)
    identifier = m.Identifier._meta.db_table
    sightings = m.TipIdentifier._meta.db_table
    return f"""
WITH asked AS (
    SELECT * FROM unnest(%s::integer[], %s::text[], %s::text[], %s::text[])
        AS a(ord, kind, value, qualifier)
), asked_ids AS (
    SELECT DISTINCT a.ord, i.id, i.kind, i.value
    FROM asked a JOIN {identifier} i
      ON i.kind = a.kind AND i.value = a.value AND (a.qualifier = '' OR i.qualifier = a.qualifier)
), {CANDIDATES["identifiers"]} AS (
    SELECT DISTINCT id FROM asked_ids
), found AS (
    SELECT ord, id, kind, value FROM asked_ids WHERE id IN ({reach.identifiers[0]})
), named AS (
    SELECT * FROM unnest(%s::integer[], %s::bigint[]) AS n(ord, id)
), held AS (
    SELECT f.ord, h.subject_id, h.identifier_id
    FROM {m.SubjectIdentifier._meta.db_table} h JOIN found f ON f.id = h.identifier_id
), {CANDIDATES["subjects"]} AS (
    SELECT DISTINCT subject_id AS id FROM held
), holders AS (
    SELECT ord, subject_id, identifier_id FROM held WHERE subject_id IN ({reach.subjects[0]})
), people AS (
    SELECT ord, id FROM named UNION SELECT ord, subject_id FROM holders
), {CANDIDATES["tip_subjects"]} AS (
    SELECT l.id FROM {m.TipSubject._meta.db_table} l
    WHERE l.subject_id IN (SELECT id FROM people)
), links AS (
    SELECT p.ord, l.tip_id, l.subject_id
    FROM {m.TipSubject._meta.db_table} l JOIN people p ON p.id = l.subject_id
    WHERE l.id IN ({reach.tip_subjects[0]})
), candidates AS (
    SELECT f.ord, s.tip_id AS id FROM {sightings} s JOIN found f ON f.id = s.identifier_id
    UNION SELECT ord, tip_id FROM links
), {CANDIDATES["tips"]} AS (
    SELECT DISTINCT id FROM candidates
), visible AS (
    SELECT t.id, t.handling_caveat FROM {m.Tip._meta.db_table} t WHERE t.id IN ({reach.tips[0]})
), ranked AS (
    SELECT c.ord, v.id, v.handling_caveat,
           row_number() OVER (PARTITION BY c.ord ORDER BY v.id) AS n
    FROM candidates c JOIN visible v ON v.id = c.id
), tips AS (
    SELECT ord, id, handling_caveat FROM ranked WHERE n <= %s
)
SELECT
    (SELECT COALESCE(json_agg(json_build_array(ord, id, kind, value)), '[]') FROM found),
    (SELECT COALESCE(json_agg(json_build_array(ord, subject_id, identifier_id)), '[]')
     FROM holders),
    (SELECT COALESCE(json_agg(json_build_array(ord, id, handling_caveat)), '[]') FROM tips),
    (SELECT COALESCE(json_agg(json_build_array(l.ord, l.tip_id, l.subject_id)), '[]')
     FROM links l WHERE (l.ord, l.tip_id) IN (SELECT ord, id FROM tips)),
    (SELECT COALESCE(json_agg(json_build_array(t.ord, s.tip_id, s.identifier_id)), '[]')
     FROM tips t JOIN {sightings} s ON s.tip_id = t.id
     JOIN found f ON f.ord = t.ord AND f.id = s.identifier_id),
    (SELECT COALESCE(json_agg(json_build_array(p.id, p.known_misidentification,
                                               p.redress_case_number)), '[]')
     FROM {m.Subject._meta.db_table} p WHERE p.id IN (SELECT id FROM people)),
    (SELECT COALESCE(json_agg(json_build_array(c.ord, c.contacts)), '[]') FROM (
        SELECT t.ord, array_agg(DISTINCT o.contact_point) AS contacts
        FROM tips t
        JOIN {m.Lead.tips.through._meta.db_table} dt ON dt.tip_id = t.id
        JOIN {m.Lead._meta.db_table} d ON d.id = dt.lead_id
        JOIN {m.Office._meta.db_table} o ON o.id = d.office_id
        WHERE d.status IN ({active}) AND d.removed_at IS NULL
        GROUP BY t.ord
    ) c)
"""


def read_all(
    reach: ReachSql,
    prepared: dict[int, Prepared],
    hits: dict[int, dict[int, _NameHit]],
    max_tips: int,
) -> dict[int, _Read]:
    """What each traveller's lookup reads after the name search, for every traveller (one,
    for a single lookup) in one statement: the identifiers asked for and the people holding
    them, the tips (each traveller's stop at ``max_tips`` + 1, enough to refuse an over-broad
    one), which returned person and identifier is in which tip, the redress marks and the
    contact points of active leads. Each set stays within ``reach`` (``permissions.partner``,
    compiled once per process)."""
    asked = [(index, *value) for index, one in prepared.items() for value in one.asked]
    named = [(index, pk) for index, found in hits.items() for pk in found]
    reads: dict[int, dict[str, list[Any]]] = {index: defaultdict(list) for index in prepared}
    if asked or named:
        sql = _read_sql(reach)
        params = [
            [row[0] for row in asked],
            [row[1] for row in asked],
            [row[2] for row in asked],
            [row[3] for row in asked],
            *reach.identifiers[1],
            [index for index, _ in named],
            [pk for _, pk in named],
            *reach.subjects[1],
            *reach.tip_subjects[1],
            *reach.tips[1],
            max_tips + 1,
        ]
        [row] = fetch_prepared(sql, params)
        found, holders, tips, links, sightings, marks, contacts = row
        for index, pk, kind, value in found:
            reads[index]["identifiers"].append((pk, kind, value))
        for index, subject, identifier in holders:
            reads[index]["holders"].append((subject, identifier))
        for index, pk, caveat in tips:
            reads[index]["tips"].append((pk, caveat))
        for index, tip, subject in links:
            reads[index]["links"].append((tip, subject))
        for index, tip, identifier in sightings:
            reads[index]["sightings"].append((tip, identifier))
        for index, offices in contacts:
            reads[index]["contacts"] = list(offices)
        mark_of = {pk: (pk, misidentified, case) for pk, misidentified, case in marks}
        for index, read in reads.items():
            people = set(hits.get(index, {})) | {subject for subject, _ in read["holders"]}
            read["marks"] = [mark_of[pk] for pk in sorted(people) if pk in mark_of]
    return {
        index: _Read(
            identifiers=read["identifiers"],
            holders=read["holders"],
            tips=read["tips"],
            links=read["links"],
            sightings=read["sightings"],
            marks=read["marks"],
            contacts=read["contacts"],
        )
        for index, read in reads.items()
    }


def _combine(evidence: list[float]) -> float:
    """Independent pieces of evidence combined: 1 - product of (1 - each)."""
    remaining = 1.0
    for value in evidence:
        remaining *= 1.0 - value
    return round(1.0 - remaining, 3)


def traveller_lookup(*, by: m.User, criteria: LookupCriteria) -> LookupOutcome:
    """Run a traveller query and record what it disclosed.

    What it may match is the caller's reach (``permissions.partner.lookup_reach``): every live
    record for the owning agency's analysts; for partner investigators only tips they may
    see, people who are suspects on them, and identifiers seen in those tips or linked to
    such a suspect. Nothing outside the reach is matched, ranked, named in ``matched_on`` or
    a reason, counted (in the lookup row or towards the tip cap), deconflicted or disclosed.
    """
    prepared = prepare(criteria)
    reach = lookup_reach_sql(by)
    max_tips = int(settings.LOOKUP_MAX_TIPS)
    name_hits = name_matches({0: prepared}, reach).get(0, {})
    [read] = read_all(reach, {0: prepared}, {0: name_hits}, max_tips).values()
    found = evaluate(prepared, name_hits, read, max_tips)
    marks = traveller_redress({0: prepared}).get(0, [])
    apply_marks(found.matches, marks, MatchReason)
    # Only writes from here: no refusal can follow, so no savepoint of its own is needed
    # inside a caller's transaction (a database error fails the caller's whole operation).
    with transaction.atomic(savepoint=False):
        recorded = _record(
            by,
            prepared.normalised,
            subject_hits=len(found.subject_ids),
            tip_hits=len(found.tip_ids),
            disclosed=found.disclosed,
        )
        deconflict_lookup(by, found, recorded)
    return found.outcome(recorded.lookup, marks)


def deconflict_lookup(by: m.User, found: Found, recorded: Recorded) -> None:
    """Tell the offices whose active leads a recorded lookup touches, and its caller's office
    (``deconfliction.deconflict``); the statement that recorded the lookup read which leads
    those are, so a lookup touching none, nearly every one, costs nothing here."""
    if recorded.touched_leads:
        deconflict(
            identifier_ids=found.identifier_ids,
            subject_ids=found.subject_ids,
            origin_office=by.office,
            by=by,
            lookup=recorded.lookup,
            touched=recorded.touched_leads,
        )


def traveller_redress(prepared: dict[int, Prepared]) -> dict[int, list[RedressMark]]:
    """The CLEARED redress cases each traveller's criteria match (by folded name with the
    date of birth, or by passport number), in one statement for every traveller
    (``backend.services.redress``)."""
    passport = IdentifierKind.PASSPORT.value
    return redress_marks(
        {
            index: (
                one.folded,
                one.date_of_birth,
                [value for kind, value, _ in one.asked if kind == passport],
            )
            for index, one in prepared.items()
        }
    )


@dataclass(frozen=True)
class Found:
    """What one lookup found (``evaluate``), before it is recorded."""

    tip_ids: list[int]
    subject_ids: list[int]
    identifier_ids: list[int]
    matched_on: list[str]
    contacts: list[str]
    matches: list[LookupMatch]
    tip_caveats: dict[int, str]

    @property
    def disclosed(self) -> dict[type, list[int]]:
        """The records it returns, by model: what its disclosures name."""
        return {m.Tip: self.tip_ids, m.Subject: self.subject_ids, m.Identifier: self.identifier_ids}

    def outcome(
        self, lookup: m.TravellerLookup, redress: list[RedressMark] | None = None
    ) -> LookupOutcome:
        return LookupOutcome(
            lookup=lookup,
            tip_ids=self.tip_ids,
            subject_ids=self.subject_ids,
            identifier_ids=self.identifier_ids,
            matched_on=self.matched_on,
            investigation_contacts=self.contacts,
            matches=self.matches,
            tip_caveats=self.tip_caveats,
            redress=list(redress or []),
        )


def evaluate(
    prepared: Prepared, name_hits: dict[int, _NameHit], read: _Read, max_tips: int
) -> Found:
    """Rank what one lookup read (its name hits and ``_read``); ``InvalidInput`` when it
    matches more than ``max_tips`` tips (too broad: nothing may be recorded)."""
    if len(read.tips) > max_tips:
        raise InvalidInput(
            f"the lookup matches more than {max_tips} tips; narrow it down", field="input"
        )
    found = {pk: {"kind": kind, "value": value} for pk, kind, value in read.identifiers}
    identifiers = set(found)
    holders = [(subject, identifier) for subject, identifier in read.holders]
    subjects = set(name_hits) | {s for s, _ in holders}
    tip_caveats = {pk: caveat for pk, caveat in read.tips if caveat != m.HandlingCaveat.NONE}
    matches = _rank(
        subjects=subjects,
        identifiers=identifiers,
        found=found,
        holders=holders,
        read=read,
        name_hits=name_hits,
        folded=prepared.folded,
        date_of_birth=prepared.date_of_birth,
        tip_caveats=tip_caveats,
    )
    return Found(
        tip_ids=sorted(pk for pk, _ in read.tips),
        subject_ids=sorted(subjects),
        identifier_ids=sorted(identifiers),
        matched_on=_matched_on(prepared.kinds, found, identifiers, name_hits),
        contacts=sorted(set(read.contacts) - {""}),
        matches=matches,
        tip_caveats=tip_caveats,
    )


def _matched_on(
    kinds: list[str],
    found: dict[int, dict[str, Any]],
    identifiers: set[int],
    name_hits: dict[int, _NameHit],
) -> list[str]:
    """The criteria that matched a returned record, in the order asked (identifier kinds, then
    NAME_AND_DATE_OF_BIRTH): a criterion that matched only what the caller may not learn is
    not named, so the answer never tells that such a record exists."""
    returned = {found[pk]["kind"] for pk in identifiers}
    matched = [kind for kind in kinds if kind in returned]
    if name_hits:
        matched.append("NAME_AND_DATE_OF_BIRTH")
    return matched


def _rank(
    *,
    subjects: set[int],
    identifiers: set[int],
    found: dict[int, dict[str, Any]],
    holders: list[tuple[int, int]],
    read: _Read,
    name_hits: dict[int, _NameHit],
    folded: str,
    date_of_birth: date | None,
    tip_caveats: dict[int, str],
) -> list[LookupMatch]:
    """One match per returned person, and per returned identifier no returned person holds,
    scored from the evidence and ordered best first."""
    held: dict[int, list[int]] = defaultdict(list)
    for subject_id, identifier_id in holders:
        if subject_id in subjects and identifier_id in identifiers:
            held[subject_id].append(identifier_id)
    tips_of_subject: dict[int, set[int]] = defaultdict(set)
    for tip_id, subject_id in read.links:
        tips_of_subject[subject_id].add(tip_id)
    tips_of_identifier: dict[int, set[int]] = defaultdict(set)
    for tip_id, identifier_id in read.sightings:
        tips_of_identifier[identifier_id].add(tip_id)
    marks = {
        pk: {"known_misidentification": misidentified, "redress_case_number": case}
        for pk, misidentified, case in read.marks
    }

    def identifier_reason(identifier_id: int) -> MatchReason:
        row = found[identifier_id]
        return MatchReason(field=row["kind"], how="EXACT", detail=row["value"])

    matches: list[LookupMatch] = []
    for subject_id in subjects:
        reasons: list[MatchReason] = []
        evidence: list[float] = []
        if hit := name_hits.get(subject_id):
            which = "" if hit.primary else " (alias)"
            reasons.append(
                MatchReason(
                    field="NAME",
                    how="EXACT" if hit.best == folded else "FUZZY",
                    detail=f"similarity {hit.score:.2f} to {hit.best!r}{which}",
                )
            )
            reasons.append(
                MatchReason(
                    field="DATE_OF_BIRTH",
                    how="EXACT",
                    detail=date_of_birth.isoformat() if date_of_birth else "",
                )
            )
            evidence.append(NAME_AND_DOB_EVIDENCE * hit.score)
        subject_tips = set(tips_of_subject[subject_id])
        for identifier_id in sorted(held[subject_id], key=lambda i: found[i]["kind"]):
            reasons.append(identifier_reason(identifier_id))
            evidence.append(EVIDENCE.get(found[identifier_id]["kind"], 0.8))
            subject_tips |= tips_of_identifier[identifier_id]
        mark = marks[subject_id]
        matches.append(
            LookupMatch(
                score=_combine(evidence),
                reasons=reasons,
                subject_id=subject_id,
                tip_ids=sorted(subject_tips),
                known_misidentification=mark["known_misidentification"],
                redress_case_number=mark["redress_case_number"],
            )
        )
    held_ids = {i for ids in held.values() for i in ids}
    for identifier_id in identifiers - held_ids:
        matches.append(
            LookupMatch(
                score=_combine([EVIDENCE.get(found[identifier_id]["kind"], 0.8)]),
                reasons=[identifier_reason(identifier_id)],
                identifier_id=identifier_id,
                tip_ids=sorted(tips_of_identifier[identifier_id]),
            )
        )
    for match in matches:
        match.handling_markings = _markings(match.tip_ids, tip_caveats)
    matches.sort(key=lambda x: (-x.score, x.subject_id is None, x.subject_id or x.identifier_id))
    return matches


def _markings(tip_ids: list[int], tip_caveats: dict[int, str]) -> list[str]:
    """The caveats of these tips, in the order HandlingCaveat declares them (NONE left out)."""
    present = {tip_caveats[pk] for pk in tip_ids if pk in tip_caveats}
    return [caveat for caveat in m.HandlingCaveat.values if caveat in present]


_RECORD_SQL = f"""
WITH rows AS (
    SELECT r.ord, nextval(pg_get_serial_sequence('{m.TravellerLookup._meta.db_table}', 'id'))
               AS id,
           r.criteria::jsonb AS criteria, r.subject_hits, r.tip_hits
    FROM unnest(%(criteria)s::text[], %(subject_hits)s::integer[], %(tip_hits)s::integer[])
         WITH ORDINALITY AS r(criteria, subject_hits, tip_hits, ord)
), returned AS (
    SELECT * FROM unnest(%(lookups)s::integer[], %(types)s::integer[], %(ids)s::bigint[])
         AS d(ord, content_type_id, object_id)
), lookup AS (
    INSERT INTO {m.TravellerLookup._meta.db_table}
        (id, user_id, created_at, criteria, subject_hits, tip_hits)
    SELECT id, %(user)s, %(now)s, criteria, subject_hits, tip_hits FROM rows ORDER BY ord
), disclosed AS (
    INSERT INTO {m.Disclosure._meta.db_table}
        (lookup_id, user_id, content_type_id, object_id, created_at)
    SELECT rows.id, %(user)s, d.content_type_id, d.object_id, %(now)s
    FROM returned d JOIN rows ON rows.ord = d.ord
)
SELECT rows.id, ARRAY({
    touched_leads_sql(
        "ARRAY(SELECT object_id FROM returned"
        " WHERE ord = rows.ord AND content_type_id = %(identifier_type)s)",
        "ARRAY(SELECT object_id FROM returned"
        " WHERE ord = rows.ord AND content_type_id = %(subject_type)s)",
        "%(office)s::bigint",
    )
})
FROM rows ORDER BY ord
"""


@dataclass(frozen=True)
class LookupRow:
    """One lookup to record (``record_lookups``): its normalised criteria, its hit counts,
    and the records it returned, by model (one disclosure each)."""

    criteria: dict[str, Any]
    subject_hits: int
    tip_hits: int
    disclosed: dict[type, list[int]]


@dataclass(frozen=True)
class Recorded:
    """A recorded lookup, and the active leads of other offices that the identifiers and
    people it returned touch (``deconfliction.touched_leads_sql``): usually none."""

    lookup: m.TravellerLookup
    touched_leads: list[int]


def record_lookups(by: m.User, rows: list[LookupRow]) -> list[Recorded]:
    """Write the lookup rows of ``rows`` and one disclosure per record each returned, all in
    one statement however many there are (a passenger screening records one lookup per
    traveller); the lookups, in the order of ``rows``, each with the leads its deconfliction
    has to tell about (read by the same statement, so that a lookup touching none, nearly
    every one, costs no statement more)."""
    if not rows:
        return []
    now = timezone.now()
    lookups: list[int] = []
    types: list[int] = []
    ids: list[int] = []
    models = {model for row in rows for model in row.disclosed} | {m.Identifier, m.Subject}
    content_types = ContentType.objects.get_for_models(*models)  # cached after first use
    for ord_, row in enumerate(rows, start=1):
        for model, pks in row.disclosed.items():
            lookups += [ord_] * len(pks)
            types += [content_types[model].pk] * len(pks)
            ids += pks
    recorded_rows = fetch_prepared(
        _RECORD_SQL,
        {
            "user": by.pk,
            "office": by.office_id,
            "now": now,
            "criteria": [json.dumps(row.criteria) for row in rows],
            "subject_hits": [row.subject_hits for row in rows],
            "tip_hits": [row.tip_hits for row in rows],
            "lookups": lookups,
            "types": types,
            "ids": ids,
            "identifier_type": content_types[m.Identifier].pk,
            "subject_type": content_types[m.Subject].pk,
        },
    )
    recorded = []
    for (pk, touched), row in zip(recorded_rows, rows, strict=True):
        lookup = m.TravellerLookup(
            pk=pk,
            user=by,
            created_at=now,
            criteria=row.criteria,
            subject_hits=row.subject_hits,
            tip_hits=row.tip_hits,
        )
        lookup._state.adding = False
        lookup._state.db = connection.alias
        recorded.append(Recorded(lookup=lookup, touched_leads=list(touched)))
    return recorded


def _record(
    by: m.User,
    criteria: dict[str, Any],
    *,
    subject_hits: int,
    tip_hits: int,
    disclosed: dict[type, list[int]],
) -> Recorded:
    """Write the lookup row and one disclosure per returned record, in one statement."""
    row = LookupRow(
        criteria=criteria, subject_hits=subject_hits, tip_hits=tip_hits, disclosed=disclosed
    )
    [recorded] = record_lookups(by, [row])
    return recorded
