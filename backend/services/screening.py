"""Passenger-list screening: a whole flight's or crossing's travellers looked up at once.

Each traveller is a traveller lookup (``backend.services.lookups``): the same criteria and
checks, the same reach (``permissions.partner``: an investigator learns only about suspects on
tips they may see), the same ranking and reasons, the same tip cap, one ``TravellerLookup`` row
and its disclosures each. A traveller whose criteria are refused (a name without a date of
birth, a malformed e-mail...) or who matches too much gets an error of their own; the others
are screened all the same.

What a screening does differently is to do it for all travellers together, so that its
statements do not grow with the list: one statement finds every name (with the
transaction's similarity threshold set before it), one reads everything else for every
traveller, one writes every lookup row and every disclosure, one asks whether any of it
touches another office's active lead (only then is each traveller deconflicted on its
own), all in one transaction.

Each lookup row's criteria keep the screening beside the traveller's normalised criteria:
``{"screening": {"id": <uuid>, "reference": "BA 0117", "traveller": <index in the list>}}``
(``backend.services.disclosures`` reads the reference as the disclosure's purpose).

What one screening may answer over all its travellers is bounded (``SCREENING_MAX_*``
settings; the cost limit of ``schema.limits`` counts on them): past them, the travellers
matching most are left out, each with an error saying to look them up one at a time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from backend import models as m
from backend.errors import DomainError, InvalidInput
from backend.names import NAME_SEPARATOR
from backend.services.deconfliction import deconflict, touches_other_offices
from backend.services.guards import check_text
from backend.services.lookups import (
    ACTIVE_LEAD_STATUSES,
    Found,
    LookupCriteria,
    LookupOutcome,
    LookupRow,
    Prepared,
    _NameHit,
    _Read,
    evaluate,
    prepare,
    record_lookups,
)
from permissions.partner import CANDIDATES, ReachSql, lookup_reach_sql

__all__ = [
    "MAX_REFERENCE_LENGTH",
    "ScreenedTraveller",
    "Screening",
    "normalise_reference",
    "screen_passengers",
]

#: The longest flight or crossing reference (carrier, number, date, port...).
MAX_REFERENCE_LENGTH = 64


@dataclass(frozen=True)
class ScreenedTraveller:
    """One traveller of a screening: their place in the list, their normalised criteria
    (None when those were refused), and the lookup's outcome or the error that stopped it."""

    index: int
    criteria: dict[str, Any] | None
    outcome: LookupOutcome | None = None
    error: DomainError | None = None


@dataclass(frozen=True)
class Screening:
    """A screened passenger list: its id, its reference and every traveller in list order."""

    id: str
    reference: str
    travellers: list[ScreenedTraveller]

    @property
    def screened(self) -> int:
        """Travellers looked up (and recorded)."""
        return sum(1 for t in self.travellers if t.outcome is not None)

    @property
    def with_matches(self) -> int:
        return sum(1 for t in self.travellers if t.outcome is not None and t.outcome.matches)

    @property
    def errors(self) -> int:
        return sum(1 for t in self.travellers if t.error is not None)


def normalise_reference(reference: str) -> str:
    """A flight or crossing reference as recorded: spaces collapsed, upper case; refused
    (``reference``) when empty, too long or holding control characters."""
    check_text(reference, field="reference")
    text = " ".join(reference.split()).upper()
    if not text:
        raise InvalidInput("give the flight or crossing reference", field="reference")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise InvalidInput(
            f"reference may be at most {MAX_REFERENCE_LENGTH} characters, got {len(text)}",
            field="reference",
        )
    if not text.isprintable():
        raise InvalidInput("reference holds a control character", field="reference")
    return text


def screen_passengers(
    *, by: m.User, reference: str, travellers: Sequence[LookupCriteria]
) -> Screening:
    """Screen a passenger list: look every traveller up within the caller's reach, as
    ``traveller_lookup`` would, and record one lookup (with its disclosures) per traveller
    screened. Refused as a whole (``InvalidInput``) only for the list itself: no or a
    malformed reference, no traveller, more than ``SCREENING_MAX_TRAVELLERS``."""
    reference = normalise_reference(reference)
    most = int(settings.SCREENING_MAX_TRAVELLERS)
    if not travellers:
        raise InvalidInput("give at least one traveller", field="travellers")
    if len(travellers) > most:
        raise InvalidInput(
            f"a screening takes at most {most} travellers, got {len(travellers)}: split the list",
            field="travellers",
        )
    screening_id = str(uuid.uuid4())
    prepared: dict[int, Prepared] = {}
    errors: dict[int, DomainError] = {}
    for index, criteria in enumerate(travellers):
        try:
            prepared[index] = prepare(criteria)
        except DomainError as exc:
            errors[index] = exc
    reach = lookup_reach_sql(by)
    max_tips = int(settings.LOOKUP_MAX_TIPS)
    found: dict[int, Found] = {}
    with transaction.atomic(savepoint=False):
        hits = _name_matches(prepared, reach)
        reads = _read(reach, prepared, hits, max_tips)
        for index, one in prepared.items():
            try:
                found[index] = evaluate(one, hits.get(index, {}), reads[index], max_tips)
            except DomainError as exc:
                errors[index] = exc
        for index in _over_budget(found):
            del found[index]
            errors[index] = InvalidInput(
                "this traveller matches too much to screen in a list (the screening's "
                "answer is bounded): look them up on their own with travellerLookup",
                field="input",
            )
        order = sorted(found)
        rows = [
            LookupRow(
                criteria={
                    **prepared[index].normalised,
                    "screening": {"id": screening_id, "reference": reference, "traveller": index},
                },
                subject_hits=len(found[index].subject_ids),
                tip_hits=len(found[index].tip_ids),
                disclosed=found[index].disclosed,
            )
            for index in order
        ]
        lookups = dict(zip(order, record_lookups(by, rows), strict=True))
        _deconflict(by, {index: (found[index], lookups[index]) for index in order})
    return Screening(
        id=screening_id,
        reference=reference,
        travellers=[
            ScreenedTraveller(
                index=index,
                criteria=prepared[index].normalised if index in prepared else None,
                outcome=found[index].outcome(lookups[index]) if index in found else None,
                error=errors.get(index),
            )
            for index in range(len(travellers))
        ],
    )


def _deconflict(by: m.User, recorded: dict[int, tuple[Found, m.TravellerLookup]]) -> None:
    """Deconflict every traveller's lookup: one query for all of them together, and only when
    it finds another office's active lead, each lookup on its own (its notices name it)."""
    identifiers = {pk for one, _ in recorded.values() for pk in one.identifier_ids}
    subjects = {pk for one, _ in recorded.values() for pk in one.subject_ids}
    if not touches_other_offices(
        identifier_ids=identifiers, subject_ids=subjects, origin_office=by.office
    ):
        return
    for one, lookup in recorded.values():
        deconflict(
            identifier_ids=one.identifier_ids,
            subject_ids=one.subject_ids,
            origin_office=by.office,
            by=by,
            lookup=lookup,
        )


def _sizes(one: Found) -> tuple[int, int, int, int, int]:
    """What one traveller's answer holds, as the screening's bounds count it: matches,
    people, identifiers, tips, and tips listed under the matches."""
    return (
        len(one.matches),
        len(one.subject_ids),
        len(one.identifier_ids),
        len(one.tip_ids),
        sum(len(match.tip_ids) for match in one.matches),
    )


def _over_budget(found: dict[int, Found]) -> list[int]:
    """The travellers to leave out so that the screening's answer stays within its bounds:
    those matching most (the earlier in the list first among equals), as few as will do."""
    matches = int(settings.SCREENING_MAX_MATCHES)
    caps = (
        matches,
        matches,
        matches,
        int(settings.SCREENING_MAX_TIPS),
        int(settings.SCREENING_MAX_MATCH_TIPS),
    )
    sizes = {index: _sizes(one) for index, one in found.items()}
    totals = [sum(size[k] for size in sizes.values()) for k in range(len(caps))]
    left_out: list[int] = []
    for index in sorted(sizes, key=lambda i: (-sum(sizes[i]), i)):
        if all(total <= cap for total, cap in zip(totals, caps, strict=True)):
            break
        left_out.append(index)
        totals = [total - size for total, size in zip(totals, sizes[index], strict=True)]
    return left_out


# -- the statements: every traveller at once --------------------------------------------------


def _names_sql(reach: ReachSql) -> tuple[str, tuple[Any, ...]]:
    """The name search of every traveller with a name (as ``lookups._name_sql`` for one),
    within the reach's people; positional parameters: the travellers' positions, folded names
    and dates of birth (three arrays), the separator, the reach's own, the threshold. The
    trigram index finds the candidates; the rule is checked for them only."""
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


def _name_matches(prepared: dict[int, Prepared], reach: ReachSql) -> dict[int, dict[int, _NameHit]]:
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
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(threshold)]
        )
        cursor.execute(sql, params)
        for index, pk, score, best, pos in cursor.fetchall():
            hits[index][pk] = _NameHit(score=float(score), best=best, primary=pos == 1)
    return hits


def _read_sql(reach: ReachSql) -> str:
    """The statement of ``_read`` (``lookups._read_sql`` for every traveller at once, each
    row with its traveller's position); its parameters, in order: the identifiers asked (four
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


def _read(
    reach: ReachSql,
    prepared: dict[int, Prepared],
    hits: dict[int, dict[int, _NameHit]],
    max_tips: int,
) -> dict[int, _Read]:
    """What each traveller's lookup reads after the name search (``lookups._read`` for
    one), for every traveller in one statement: each traveller's tips stop at ``max_tips`` +
    1, enough to refuse an over-broad one."""
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
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found, holders, tips, links, sightings, marks, contacts = cursor.fetchone()
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
