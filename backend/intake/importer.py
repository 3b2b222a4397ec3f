"""The bulk importer: parsed tips in, tips, identifiers, subjects, links and clusters out.

``import_tips`` consumes what a parser yields (``IntakeTip`` or ``RowError``) and writes it in
batches, set-based: identifiers are normalised in Python (once per distinct raw value:
``backend.services.identifiers.normalise_cached``) and upserted with one
``INSERT ... ON CONFLICT DO NOTHING`` per batch, new tips, sightings and subjects are written
with COPY (``_copy_new``, ``_copy_rows``), then the batch is linked with one
``link_tips`` call, scored (a new tip is inserted with the score it has alone; only the tips
whose links change it are written again), and deconflicted. The batch's record history is
written per statement (``backend.registry.HISTORY_MODE_SETTING``: the same before/after rows
as the per-row triggers, one INSERT per statement), and an unchanged tip costs no write.
Imported tips end up exactly as hand-entered ones (``backend.services.tips.create_tip``) would:
same columns, links, clusters and deconfliction notices (tests/intake/test_bulk_equivalence.py).
The priority score is that of the facts at the end of the batch (``priority.facts_of``), where
a tip entered by hand is scored as it is entered, before the tips entered after it.

Idempotent: a tip is keyed by (source, source reference). Re-importing a tip that is already
stored compares it: identical is *unchanged*; a different narrative, category, handling caveat,
escalation, receipt time, (when the file gives one) priority or raw record, or identifiers and
subjects the stored tip does not have yet, is *updated* (new sightings and subjects are added;
nothing is duplicated and nothing is taken away).

A record handed over deferred (``parse(..., deferred=True)``, as uploads and the command read
files) carries a digest of what it says (``backend.intake.validation.record_digest``), which
the importer stores with the tip (``Tip.intake_digest``). A record whose digest is the one
stored with its tip is *unchanged* without being validated, normalised or compared: the
source sent it before, as it is, and so it says nothing new; a correction an analyst made to
the tip since stands. Any other record is built and compared as above, and its digest stored.
A tip rewritten from a record without a digest loses its digest, so that the earlier record,
sent again, is compared again.

Subjects are matched, not duplicated: a person with a date of birth is the stored subject with
the same folded name (``backend.names.fold_name``) and date of birth; a person without one is
matched only among the subjects already named in the same tip (so re-importing a tip never
creates that person twice), and is otherwise a new subject.

Modes:

- ``ALL_OR_NOTHING``: the whole file is one transaction; if any row is rejected, nothing is
  imported (every row is still checked, so the report lists every rejected row).
- ``ACCEPT_VALID``: every batch is its own transaction; valid rows are imported, rejected rows
  reported. A failure in the middle of a batch rolls back that batch only, and running the same
  file again completes it.

Each batch holds the graph lock exclusively from its first row to the end of its transaction
(``backend.services.clusters.lock_tip_graph``): tips entered meanwhile, by hand or by another
import, wait for the batch (seconds for a batch of 1000; a smaller ``batch_size`` shortens the
wait). A batch touches thousands of identifiers, subjects and clusters: one lock costs less
than a key for each, and its set-based writes of identifier rows then need no ordering against
other writers. In ``ALL_OR_NOTHING`` the lock is held until the whole file is in.
"""

from __future__ import annotations

import enum
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from psycopg import sql

from backend import models as m
from backend.identifiers import InvalidIdentifier, Normalised
from backend.intake.records import DeferredTip, IntakeTip, RowError
from backend.names import NAME_SEPARATOR, fold_name, fold_names
from backend.prepared import fetch_prepared, send_deferred
from backend.registry import HISTORY_MODE_SETTING
from backend.services.alerts import raise_link_alerts
from backend.services.clusters import lock_tip_graph
from backend.services.deconfliction import deconflict, touched_leads_sql
from backend.services.identifiers import normalise_cached
from backend.services.linking import link_tips
from backend.services.priority import (
    TIP_FACT_COLUMNS,
    column_facts,
    stored_priority,
)
from backend.vocabulary import (
    MAX_ALIASES,
    MAX_IDENTIFIER_VALUE,
    MAX_IDENTIFIERS_PER_TIP,
    MAX_NAME,
    MAX_REFERENCE,
    MAX_SUBJECTS_PER_TIP,
)

__all__ = [
    "ImportMode",
    "ImportReport",
    "import_tips",
]

Progress = Callable[[int, int], None]


class ImportMode(enum.StrEnum):
    ALL_OR_NOTHING = "ALL_OR_NOTHING"
    ACCEPT_VALID = "ACCEPT_VALID"


@dataclass
class ImportReport:
    """What an import did: tips new, updated and unchanged, rows rejected and why."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    tip_ids: list[int] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.new + self.updated + self.unchanged + self.rejected


@dataclass(frozen=True, slots=True)
class _Sighting:
    key: tuple[str, str, str]  # (kind, qualifier, normalised value)
    canonical: str
    raw: str
    event: str
    captured_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Person:
    full_name: str
    folded: str
    date_of_birth: date | None
    role: str
    aliases: tuple[str, ...]
    nationality: str


@dataclass(slots=True)
class _Row:
    tip: IntakeTip
    reference: str
    sightings: list[_Sighting]
    people: list[_Person]
    digest: str = ""  # the record's digest (``DeferredTip.digest``); empty when not given


# ---------------------------------------------------------------------------------------------
# validation and normalisation, in Python, before anything is written


_ALLOWED: dict[Any, frozenset[str]] = {}


def _choice(value: str, choices: Any, field_name: str, row: int, errors: list[RowError]) -> None:
    # ``choices.values`` builds a new list on every access: kept once per choices class
    allowed = _ALLOWED.get(choices)
    if allowed is None:
        allowed = _ALLOWED[choices] = frozenset(choices.values)
    if value not in allowed:
        allowed = ", ".join(choices.values)
        errors.append(RowError(row, field_name, f"{value!r} is not one of: {allowed}"))


def _aware(value: datetime | None) -> bool:
    return value is None or (value.tzinfo is not None and value.utcoffset() is not None)


def _prepare(tip: IntakeTip, digest: str = "") -> _Row | list[RowError]:
    """Check one tip and normalise its identifiers; the errors found, if any."""
    row, errors = tip.row, []
    reference = tip.source_reference.strip()
    if not reference:
        errors.append(RowError(row, "sourceReference", "must not be empty"))
    elif len(reference) > MAX_REFERENCE:
        errors.append(RowError(row, "sourceReference", f"longer than {MAX_REFERENCE} characters"))
    if not isinstance(tip.received_at, datetime) or not _aware(tip.received_at):
        errors.append(RowError(row, "receivedAt", "must be a date and time with a time zone"))
    _choice(tip.category, m.TipCategory, "category", row, errors)
    _choice(tip.handling_caveat, m.HandlingCaveat, "handlingCaveat", row, errors)
    if tip.priority is not None and not 1 <= tip.priority <= 5:
        errors.append(RowError(row, "priority", f"must be 1 (highest) to 5, got {tip.priority}"))
    if len(tip.identifiers) > MAX_IDENTIFIERS_PER_TIP:
        errors.append(RowError(row, "identifiers", f"more than {MAX_IDENTIFIERS_PER_TIP}"))
    if len(tip.subjects) > MAX_SUBJECTS_PER_TIP:
        errors.append(RowError(row, "subjects", f"more than {MAX_SUBJECTS_PER_TIP}"))
    sightings: list[_Sighting] = []
    for index, ident in enumerate(tip.identifiers[:MAX_IDENTIFIERS_PER_TIP]):
        where = f"identifiers[{index}]"
        _choice(ident.event, m.SightingEvent, f"{where}.event", row, errors)
        if not _aware(ident.captured_at):
            errors.append(RowError(row, f"{where}.capturedAt", "needs a time zone"))
        try:
            norm: Normalised = normalise_cached(ident.kind, ident.value, qualifier=ident.qualifier)
        except InvalidIdentifier as exc:
            errors.append(RowError(row, f"{where}.value", str(exc)))
            continue
        except ValueError as exc:  # unknown kind
            errors.append(RowError(row, f"{where}.kind", str(exc)))
            continue
        sightings.append(
            _Sighting(
                key=(norm.kind.value, norm.qualifier, norm.value),
                canonical=norm.canonical,
                raw=ident.value.strip()[:MAX_IDENTIFIER_VALUE],
                event=ident.event,
                captured_at=ident.captured_at,
            )
        )
    people: list[_Person] = []
    for index, person in enumerate(tip.subjects[:MAX_SUBJECTS_PER_TIP]):
        where = f"subjects[{index}]"
        name = " ".join(person.full_name.split())
        if not name:
            errors.append(RowError(row, f"{where}.fullName", "must not be empty"))
            continue
        if len(name) > MAX_NAME:
            errors.append(RowError(row, f"{where}.fullName", f"longer than {MAX_NAME} characters"))
            continue
        _choice(person.role, m.SubjectRole, f"{where}.role", row, errors)
        country = person.nationality.strip().upper()
        if country and (len(country) != 2 or not (country.isascii() and country.isalpha())):
            errors.append(
                RowError(row, f"{where}.nationality", f"not an ISO 3166-1 alpha-2 code: {country}")
            )
        aliases = tuple(
            dict.fromkeys(a for a in (" ".join(x.split())[:MAX_NAME] for x in person.aliases) if a)
        )[:MAX_ALIASES]
        people.append(
            _Person(
                full_name=name,
                folded=fold_name(name),
                date_of_birth=person.date_of_birth,
                role=person.role,
                aliases=aliases,
                nationality=country,
            )
        )
    if errors:
        return errors
    return _Row(tip=tip, reference=reference, sightings=sightings, people=people, digest=digest)


# ---------------------------------------------------------------------------------------------
# set-based writes of one batch


def _copy_statement(table: str, columns: Iterable[str]) -> sql.Composed:
    """``COPY table (columns) FROM STDIN``, quoted."""
    return sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
    )


def _every_column(model: type[models.Model], columns: tuple[str, ...], writer: str) -> None:
    """Refuse ``columns`` unless they name every column of ``model`` but its key: a writer of
    rows as tuples is refused a column added to the model until it is told what to put in it."""
    meta = model._meta
    others = {f.column for f in meta.concrete_fields if not f.primary_key} - set(columns)
    if others:
        raise TypeError(f"{writer}({meta.label}): no value for {sorted(others)}")


def _copy_rows(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]) -> None:
    """COPY ``rows`` (values of ``columns``, as the database stores them) into ``model``'s
    table, without a model instance per row (tens of thousands per batch cost more than the
    COPY); the ids come from the table's default. ``columns`` must name every other column:
    a column added to the model is refused here until this writer is told what to put in it."""
    _every_column(model, columns, "_copy_rows")
    if not rows:
        return
    meta = model._meta
    send_deferred()  # (a COPY passes Django's execute wrappers by)
    with (
        connection.cursor() as cursor,
        cursor.copy(_copy_statement(meta.db_table, columns)) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _copy_new(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]) -> list[int]:
    """COPY new rows of ``model`` without a model instance each: ``rows`` hold the values of
    ``columns`` as the database stores them (JSON as its text); every other column takes what
    Django gives a new instance (its default; now for ``auto_now`` and ``auto_now_add``), as the
    database stores it, and a column with a database default is left to it. The ids are drawn
    from the table's sequence first; returns them, in the order of ``rows``."""
    if not rows:
        return []
    meta = model._meta
    fields = {f.column: f for f in meta.concrete_fields if not f.primary_key}
    if unknown := set(columns) - set(fields):
        raise TypeError(f"_copy_new({meta.label}): no column {sorted(unknown)}")
    now = timezone.now()
    rest: dict[str, Any] = {}
    for column, f in fields.items():
        if column in columns or f.db_default is not models.NOT_PROVIDED:
            continue
        automatic = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        rest[column] = f.get_db_prep_save(now if automatic else f.get_default(), connection)
    constant = tuple(rest.values())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = sorted(pk for (pk,) in cursor.fetchall())
        statement = _copy_statement(meta.db_table, [meta.pk.column, *columns, *rest])
        with cursor.copy(statement) as copy:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row((pk, *row, *constant))
    return ids


# One statement: the batch's identifiers as one JSON parameter (psycopg quotes a list client-side
# value by value, which cost more than the statement), the new ones inserted, the stored ones
# read and their first/last seen widened where the batch saw them earlier or later. The INSERT
# and the read see the same snapshot, so each key is either inserted or found.
_UPSERT_IDENTIFIERS_SQL = """
WITH given AS MATERIALIZED (
    SELECT e->>0 AS k, e->>1 AS q, e->>2 AS v, e->>3 AS c, e->>4 AS r,
           (e->>5)::timestamptz AS f, (e->>6)::timestamptz AS l
    FROM json_array_elements(%s::json) AS e
), inserted AS (
    INSERT INTO backend_identifier
        (kind, qualifier, value, canonical, raw_value, first_seen, last_seen, created_at,
         removed_reason)
    SELECT k, q, v, c, r, f, l, now(), '' FROM given ORDER BY k, q, v
    ON CONFLICT (kind, qualifier, value) DO NOTHING
    RETURNING id, kind, qualifier, value
), found AS MATERIALIZED (
    SELECT i.id, i.kind, i.qualifier, i.value, g.f, g.l
    FROM backend_identifier i
    JOIN given g ON i.kind = g.k AND i.qualifier = g.q AND i.value = g.v
), seen AS (
    -- PostgreSQL's LEAST/GREATEST skip NULLs, so an unset first/last seen takes the new time.
    UPDATE backend_identifier i
    SET first_seen = LEAST(i.first_seen, found.f), last_seen = GREATEST(i.last_seen, found.l)
    FROM found
    WHERE i.id = found.id
      AND (i.first_seen IS NULL OR i.last_seen IS NULL
           OR found.f < i.first_seen OR found.l > i.last_seen)
)
SELECT id, kind, qualifier, value FROM inserted
UNION ALL
SELECT id, kind, qualifier, value FROM found
"""


def _upsert_identifiers(rows: list[_Row]) -> dict[tuple[str, str, str], int]:
    """Create the identifiers not stored yet and return the id of every identifier of ``rows``;
    a stored identifier's first and last seen take in the batch's sightings."""
    first: dict[tuple[str, str, str], tuple[_Sighting, datetime, datetime]] = {}
    for row in rows:
        for s in row.sightings:
            seen = s.captured_at or row.tip.received_at
            if s.key in first:
                sighting, lo, hi = first[s.key]
                first[s.key] = (sighting, min(lo, seen), max(hi, seen))
            else:
                first[s.key] = (s, seen, seen)
    if not first:
        return {}
    ids: dict[tuple[str, str, str], int] = {}
    pending = sorted(first)
    with connection.cursor() as cursor:
        # A key neither inserted nor found was stored by another writer after the statement's
        # snapshot was taken (its INSERT then skipped the key): the next statement sees it.
        for _ in range(3):
            given = [
                [*key, sighting.canonical, sighting.raw, lo.isoformat(), hi.isoformat()]
                for key in pending
                for sighting, lo, hi in (first[key],)
            ]
            cursor.execute(_UPSERT_IDENTIFIERS_SQL, [json.dumps(given)])
            ids.update({(kind, qual, value): pk for pk, kind, qual, value in cursor.fetchall()})
            pending = [key for key in pending if key not in ids]
            if not pending:
                return ids
    raise RuntimeError(f"identifiers neither stored nor found: {pending[:5]}")


def _tip_changes(tip: m.Tip, row: _Row) -> dict[str, Any]:
    given = row.tip
    wanted: dict[str, Any] = {
        "narrative": given.narrative,
        "category": given.category,
        "handling_caveat": given.handling_caveat,
        "escalated": given.escalated,
        "received_at": given.received_at,
    }
    if given.priority is not None:
        wanted["priority"] = given.priority
    if given.raw_record is not None:
        wanted["raw_record"] = given.raw_record
    return {name: value for name, value in wanted.items() if getattr(tip, name) != value}


# The batch's tips already stored, locked, and whether each may differ from the file: the same
# fields as ``_tip_changes`` compared in the database, so that an unchanged tip is neither
# loaded as a model nor decoded (its narrative and raw record stay in the database). A tip
# flagged here is compared again by ``_tip_changes``, which decides; the flag may only err
# towards "may differ" (jsonb's true and 1 differ, Python's do not).
_STORED_TIPS_SQL = f"""
WITH given AS (
    SELECT e->>0 AS reference, e->>1 AS narrative, e->>2 AS category, e->>3 AS caveat,
           (e->>4)::boolean AS escalated, (e->>5)::timestamptz AS received_at,
           (e->>6)::smallint AS priority, e->7 AS raw_record
    FROM json_array_elements(%s::json) AS e
)
SELECT t.id, t.source_reference, t.intake_digest,
       (t.narrative, t.category, t.handling_caveat, t.escalated, t.received_at)
           IS DISTINCT FROM (g.narrative, g.category, g.caveat, g.escalated, g.received_at)
       OR (g.priority IS NOT NULL AND t.priority IS DISTINCT FROM g.priority)
       OR (json_typeof(g.raw_record) <> 'null'
           AND t.raw_record IS DISTINCT FROM g.raw_record::jsonb)
FROM {m.Tip._meta.db_table} t
JOIN given g ON t.source_reference = g.reference
WHERE t.source_id = %s
ORDER BY t.id
FOR UPDATE OF t
"""


def _stored_tips(
    rows: list[_Row], source: m.Source
) -> tuple[dict[str, int], list[int], dict[str, str]]:
    """Lock the tips of ``rows`` that ``source`` has sent before: their ids by reference, the
    ids of those that may differ from ``rows`` (``_STORED_TIPS_SQL``), and their record
    digests by reference."""
    given = [
        [
            row.reference,
            row.tip.narrative,
            row.tip.category,
            row.tip.handling_caveat,
            row.tip.escalated,
            row.tip.received_at.isoformat(),
            row.tip.priority,
            row.tip.raw_record,
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute(_STORED_TIPS_SQL, [json.dumps(given), source.pk])
        found = cursor.fetchall()
    return (
        {reference: pk for pk, reference, _, _ in found},
        [pk for pk, _, _, may in found if may],
        {reference: digest for _, reference, digest, _ in found},
    )


_SET_DIGESTS_SQL = f"""
UPDATE {m.Tip._meta.db_table} t SET intake_digest = g.digest
FROM (SELECT (e->>0)::bigint, e->>1 FROM json_array_elements(%s::json) AS e) AS g(id, digest)
WHERE t.id = g.id
"""


def _set_digests(digests: list[tuple[int, str]]) -> None:
    """Store the record digest of stored tips the batch left unchanged, so that the next
    re-sending of their records is skipped unread (a tip imported before digests were kept,
    or from a record that said the same in other words): not an update of the tip."""
    if digests:
        with connection.cursor() as cursor:
            cursor.execute(_SET_DIGESTS_SQL, [json.dumps(digests)])


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _insert_missing(
    model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]
) -> list[Any]:
    """INSERT those of ``rows`` (values of ``columns``, as the database stores them) that are not
    stored yet, where "stored" means a row of ``model`` with the same values in every column
    (NULL equal to NULL): what a re-import adds to tips it has sent before, without reading
    their rows into Python first. One statement, in the order of ``rows``; returns the first
    column of every row inserted. ``columns`` must name every other column (as ``_copy_rows``);
    the caller holds the graph lock, so no other writer adds the same rows meanwhile."""
    _every_column(model, columns, "_insert_missing")
    if not rows:
        return []
    meta = model._meta
    fields = {f.column: f for f in meta.concrete_fields if not f.primary_key}
    table = sql.Identifier(meta.db_table)
    given = sql.SQL(", ").join(
        sql.SQL("(e->>{})::{}").format(sql.Literal(i), sql.SQL(fields[c].db_type(connection)))
        for i, c in enumerate(columns)
    )
    same = sql.SQL(" AND ").join(
        sql.SQL("s.{c} IS NOT DISTINCT FROM g.{c}" if fields[c].null else "s.{c} = g.{c}").format(
            c=sql.Identifier(c)
        )
        for c in columns
    )
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    statement = sql.SQL(
        "INSERT INTO {table} ({names}) SELECT {g_names} FROM "
        "(SELECT {given}, x.n FROM json_array_elements(%s::json) WITH ORDINALITY AS x(e, n))"
        " AS g({names}, n) "
        "WHERE NOT EXISTS (SELECT 1 FROM {table} s WHERE {same}) ORDER BY g.n "
        "RETURNING {first}"
    ).format(
        table=table,
        names=names,
        g_names=sql.SQL(", ").join(sql.SQL("g.{}").format(sql.Identifier(c)) for c in columns),
        given=given,
        same=same,
        first=sql.Identifier(columns[0]),
    )
    with connection.cursor() as cursor:
        text = _INSERT_MISSING.get((meta.label, columns))
        if text is None:
            text = _INSERT_MISSING[(meta.label, columns)] = statement.as_string(cursor.connection)
        cursor.execute(text, [json.dumps(rows, default=_json_value)])
        return [first for (first,) in cursor.fetchall()]


_INSERT_MISSING: dict[tuple[str, tuple[str, ...]], str] = {}


# The stored subjects with one of the batch's (folded full name, date of birth) pairs, lowest id
# first. The folded full name is the first part of names_folded (see backend.names); the pairs
# travel as one JSON parameter (as Django's ``__in`` lists, thousands of placeholders cost
# psycopg more to quote than the query took).
_DATED_SUBJECTS_SQL = f"""
SELECT s.id, s.folded, s.date_of_birth
FROM (
    SELECT e->>0, (e->>1)::date FROM json_array_elements(%s::json) AS e
) AS given(folded, dob)
CROSS JOIN LATERAL (
    -- by the date of birth's index, pair by pair (OFFSET 0: not pulled up into a join, which
    -- stale statistics planned as a scan of every live subject)
    SELECT s.id, split_part(s.names_folded, %s, 1) AS folded, s.date_of_birth, s.removed_at
    FROM {m.Subject._meta.db_table} s
    WHERE s.date_of_birth = given.dob
    OFFSET 0
) AS s
WHERE s.folded = given.folded AND s.removed_at IS NULL
ORDER BY s.id
"""


def _match_subjects(
    rows: list[_Row], tip_ids: dict[str, int], stored: dict[str, int], by: m.User | None
) -> dict[tuple[str, int], int]:
    """The subject id of every person of ``rows``, keyed by (reference, index of the person);
    creates the subjects not stored yet. ``tip_ids``: every tip's id by reference; ``stored``:
    those of the tips stored before this batch."""
    result: dict[tuple[str, int], int] = {}
    dated = {(p.folded, p.date_of_birth) for row in rows for p in row.people if p.date_of_birth}
    known: dict[tuple[str, date], int] = {}
    if dated:
        with connection.cursor() as cursor:
            cursor.execute(
                _DATED_SUBJECTS_SQL,
                [
                    json.dumps(sorted([name, dob.isoformat()] for name, dob in dated)),
                    NAME_SEPARATOR,
                ],
            )
            for pk, folded, dob in cursor.fetchall():
                known.setdefault((folded, dob), pk)
    on_tip: dict[tuple[int, str], int] = {}
    # a person without a date of birth is matched among those its stored tip names already:
    # only the stored tips that name such a person are read
    undated = [
        stored[row.reference]
        for row in rows
        if row.reference in stored and any(p.date_of_birth is None for p in row.people)
    ]
    for tip_id, subject_id, name in (
        m.TipSubject.objects.filter(tip_id__in=undated)
        .order_by("subject_id")
        .values_list("tip_id", "subject_id", "subject__full_name")
    ):
        on_tip.setdefault((tip_id, fold_name(name)), subject_id)
    pending: dict[Any, tuple[tuple[Any, ...], list[tuple[str, int]]]] = {}
    for row in rows:
        tip_id = tip_ids[row.reference]
        for index, person in enumerate(row.people):
            slot = (row.reference, index)
            if person.date_of_birth is not None:
                key: Any = (person.folded, person.date_of_birth)
                if key in known:
                    result[slot] = known[key]
                    continue
            else:
                if (tip_id, person.folded) in on_tip:
                    result[slot] = on_tip[(tip_id, person.folded)]
                    continue
                key = (row.reference, person.folded)  # the same person twice in one tip
            if key not in pending:
                values = (
                    person.full_name,
                    list(person.aliases),
                    person.date_of_birth,
                    person.nationality,
                    by.pk if by is not None else None,
                    fold_names(person.full_name, person.aliases),
                )
                pending[key] = (values, [])
            pending[key][1].append(slot)
    created = _copy_new(m.Subject, _NEW_SUBJECT_COLUMNS, [values for values, _ in pending.values()])
    for pk, (_, slots) in zip(created, pending.values(), strict=True):
        for slot in slots:
            result[slot] = pk
    return result


#: What a new subject's row is written with (``_copy_new``; the other columns take defaults).
_NEW_SUBJECT_COLUMNS = (
    "full_name",
    "aliases",
    "date_of_birth",
    "nationality",
    "created_by_id",
    "names_folded",
)


_SCORE_SQL = """
UPDATE backend_tip t
SET priority_score = s.score, priority_factors = s.factors, priority = s.priority,
    cluster_id = s.cluster
FROM (
    SELECT (e->>0)::bigint, (e->>1)::float8, (e->2)::jsonb, (e->>3)::smallint, (e->>4)::bigint
    FROM json_array_elements(%s::json) AS e
) AS s(id, score, factors, priority, cluster)
WHERE t.id = s.id
  AND (t.priority_score, t.priority_factors, t.priority, t.cluster_id)
      IS DISTINCT FROM (s.score, s.factors, s.priority, s.cluster)
"""


#: What a new tip's row is written with, in this order (``_copy_new``; the other columns take
#: their defaults, ``_TIP_DEFAULTS``).
_NEW_TIP_COLUMNS = (
    "source_id",
    "source_reference",
    "received_at",
    "category",
    "narrative",
    "priority",
    "handling_caveat",
    "escalated",
    "raw_record",
    "created_by_id",
    "intake_digest",
    "priority_score",
    "priority_factors",
)


def _new_tip_row(row: _Row, source: m.Source, by: m.User | None) -> tuple[Any, ...]:
    """The values of ``_NEW_TIP_COLUMNS`` for the new tip of ``row``, scored as if it linked to
    nothing (``_score`` then rewrites only the tips whose links or registered subjects change
    that): what ``m.Tip(...)`` with ``assign_priority`` gives, without an instance."""
    given = row.tip
    values = {
        "category": given.category,
        "escalated": given.escalated,
        "priority": given.priority if given.priority is not None else _TIP_DEFAULTS["priority"],
    }
    facts = column_facts(
        [values[c] if c in values else _TIP_DEFAULTS[c] for c in TIP_FACT_COLUMNS],
        prior_tips_in_cluster=0,
        registered_sex_offenders=0,
    )
    assessment, factors, priority = stored_priority(
        facts, priority=values["priority"], set_band=given.priority is None
    )
    return (
        source.pk,
        row.reference,
        given.received_at,
        given.category,
        given.narrative,
        priority,
        given.handling_caveat,
        given.escalated,
        json.dumps(given.raw_record or {}),
        by.pk if by is not None else None,
        row.digest,
        assessment.score,
        json.dumps(factors),
    )


#: What a new ``Tip`` holds in each field it is not given (the fact columns the importer does
#: not set among them).
_TIP_DEFAULTS = {f.name: f.get_default() for f in m.Tip._meta.concrete_fields}


# What scoring a batch's tips reads, in one statement: each tip's own facts and how many
# registered sex offenders it names (not as victims; the same count as ``facts_of``), then the
# live size of each cluster those tips are in (the caller's deferred clusters given).
_SCORE_FACTS_SQL = f"""
WITH batch AS MATERIALIZED (
    SELECT (e->>0)::bigint AS id, (e->>1)::bigint AS cluster
    FROM json_array_elements(%s::json) AS e
), registered AS (
    -- from each of the batch's tips to its subjects, by the tip's key (not the other way: a
    -- plan that walks every live subject for each tip of the batch took 60 ms on a fresh
    -- table, and one that hashed every named subject grew with the table)
    SELECT b.id AS tip_id, r.n
    FROM batch b
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT ts.subject_id) AS n
        FROM {m.TipSubject._meta.db_table} ts
        JOIN {m.Subject._meta.db_table} s ON s.id = ts.subject_id
        WHERE ts.tip_id = b.id AND s.sex_offender_registered AND s.removed_at IS NULL
          AND ts.role <> '{m.SubjectRole.VICTIM}'
    ) r
    WHERE r.n > 0
), facts AS MATERIALIZED (
    SELECT t.id, COALESCE(b.cluster, t.cluster_id) AS cluster_id, t.removed_at IS NULL AS live,
           t.priority, COALESCE(r.n, 0) AS registered,
           {", ".join(f"t.{column}" for column in TIP_FACT_COLUMNS)}
    FROM batch b
    JOIN {m.Tip._meta.db_table} t ON t.id = b.id
    LEFT JOIN registered r ON r.tip_id = b.id
), sizes AS (
    SELECT c.cluster_id, count(*) AS n
    FROM (SELECT DISTINCT cluster_id FROM facts WHERE cluster_id IS NOT NULL) AS k
    JOIN {m.Tip._meta.db_table} c ON c.cluster_id = k.cluster_id
    WHERE c.removed_at IS NULL
    GROUP BY c.cluster_id
)
SELECT f.id, f.cluster_id, f.live, f.priority, f.registered, COALESCE(sizes.n, 0),
       {", ".join(f"f.{column}" for column in TIP_FACT_COLUMNS)}
FROM facts f LEFT JOIN sizes ON sizes.cluster_id = f.cluster_id
ORDER BY f.id
"""


def _score(tip_ids: list[int], set_band: set[int], clusters: dict[int, int]) -> None:
    """Store the priority score of ``tip_ids`` (and, for ``set_band``, the band as priority),
    set-based: the same facts as ``backend.services.priority.facts_of``, for many tips.

    ``clusters`` holds the clusters that linking gave the tips that had none (the new tips;
    ``link_tips``'s ``deferred_clusters``): they are written here, in the same UPDATE as the
    score, so that a new tip's row (and its history row) is written once after the COPY, not
    twice."""
    with connection.cursor() as cursor:
        cursor.execute(_SCORE_FACTS_SQL, [json.dumps([[pk, clusters.get(pk)] for pk in tip_ids])])
        rows = cursor.fetchall()
    # a cluster's live tips the database does not count yet: those whose cluster is deferred
    pending: dict[int, int] = defaultdict(int)
    for pk, cluster_id, live, *_ in rows:
        if pk in clusters and live:
            pending[cluster_id] += 1
    given = []
    for pk, cluster_id, live, priority, registered, size, *columns in rows:
        prior = 0
        if cluster_id:
            prior = size + pending[cluster_id] - (1 if live else 0)
        facts = column_facts(
            columns,
            prior_tips_in_cluster=max(prior, 0),
            registered_sex_offenders=registered,
        )
        assessment, factors, now_priority = stored_priority(
            facts, priority=priority, set_band=pk in set_band
        )
        given.append([pk, assessment.score, factors, now_priority, cluster_id])
    with connection.cursor() as cursor:
        # one JSON parameter: psycopg quotes a list parameter value by value
        cursor.execute(_SCORE_SQL, [json.dumps(given)])


_BATCH_TOUCHES_SQL = f"""
SELECT t.id, touched.leads,
       ARRAY(SELECT s.identifier_id FROM {m.TipIdentifier._meta.db_table} s WHERE s.tip_id = t.id),
       ARRAY(SELECT n.subject_id FROM {m.TipSubject._meta.db_table} n WHERE n.tip_id = t.id)
FROM unnest(%(tips)s::bigint[]) AS t(id)
CROSS JOIN LATERAL (SELECT ARRAY({
    touched_leads_sql(
        f"ARRAY(SELECT s.identifier_id FROM {m.TipIdentifier._meta.db_table} s"
        " WHERE s.tip_id = t.id)",
        f"ARRAY(SELECT n.subject_id FROM {m.TipSubject._meta.db_table} n WHERE n.tip_id = t.id)",
        "%(office)s::bigint",
    )
}) AS leads) AS touched
WHERE cardinality(touched.leads) > 0
ORDER BY t.id
"""


def _deconflict(tip_ids: list[int], by: m.User | None) -> None:
    """Raise deconfliction notices for the tips of the batch that touch another office's active
    lead: one statement finds, for every tip of the batch, the leads it touches (with the
    condition every deconfliction uses, ``touched_leads_sql``); only those tips go through
    ``deconflict``."""
    origin = getattr(by, "office", None)
    touching = fetch_prepared(
        _BATCH_TOUCHES_SQL,
        {"tips": tip_ids, "office": origin.pk if origin is not None else None},
    )
    if not touching:
        return
    tips = m.Tip.objects.in_bulk([tip_id for tip_id, *_ in touching])
    for tip_id, leads, identifier_ids, subject_ids in touching:
        deconflict(
            identifier_ids=identifier_ids,
            subject_ids=subject_ids,
            origin_office=origin,
            by=by,
            tip=tips[tip_id],
            touched=leads,
        )


def _history_mode(mode: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [HISTORY_MODE_SETTING, mode])


@dataclass
class _BatchResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    tip_ids: list[int] = field(default_factory=list)


def _write_batch(
    rows: list[_Row],
    *,
    source: m.Source,
    by: m.User | None,
) -> _BatchResult:
    """Write one batch of valid rows. Call inside a transaction."""
    # The graph lock, exclusively, before the first row: the coarse lock of a bulk writer
    # (backend.services.clusters), held until the batch's transaction ends.
    lock_tip_graph()
    # History per statement (audit.protections): the same before/after rows, one INSERT for
    # each statement of the batch instead of a trigger call per row. Transaction-local, and
    # set back at the end of the batch for whatever the transaction writes next.
    _history_mode("statement")
    result = _BatchResult()
    identifier_ids = _upsert_identifiers(rows)
    stored, differing, digests = _stored_tips(rows, source)
    now = timezone.now()
    touched: set[str] = set()  # references of new or updated tips
    rewritten: set[str] = set()  # stored tips rewritten from the file, digest included
    if differing:
        given = {row.reference: row for row in rows}
        changed_tips: list[m.Tip] = []
        changed_fields: set[str] = set()
        for tip in m.Tip.objects.filter(pk__in=differing).order_by("pk"):
            changes = _tip_changes(tip, given[tip.source_reference])
            if changes:
                # the digest of what the tip now says (empty when the row came without one: a
                # record re-sent later as it was before this change is then compared again)
                changes["intake_digest"] = given[tip.source_reference].digest
                for name, value in changes.items():
                    setattr(tip, name, value)
                tip.updated_at = now
                changed_fields |= set(changes) | {"updated_at"}
                changed_tips.append(tip)
                touched.add(tip.source_reference)
                rewritten.add(tip.source_reference)
        if changed_tips:
            m.Tip.objects.bulk_update(changed_tips, sorted(changed_fields))
    new_rows = [row for row in rows if row.reference not in stored]
    created = _copy_new(
        m.Tip, _NEW_TIP_COLUMNS, [_new_tip_row(row, source, by) for row in new_rows]
    )
    new_ids = {row.reference: pk for row, pk in zip(new_rows, created, strict=True)}
    touched.update(new_ids)
    set_band = {row.reference for row in new_rows if row.tip.priority is None}
    tip_ids = {**stored, **new_ids}
    reference_of = {pk: reference for reference, pk in stored.items()}

    # Sightings and named subjects: a new tip's are copied in; a stored tip's are inserted where
    # it does not have them yet (``_insert_missing``), and a tip given one is updated.
    new_sightings: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # in the order of the file
    for row in rows:
        tip_id = tip_ids[row.reference]
        for s in row.sightings:
            key = (tip_id, identifier_ids[s.key], s.event, s.captured_at)
            if key not in new_sightings:
                new_sightings[key] = (*key, s.raw)
    sighting_columns = ("tip_id", "identifier_id", "event", "captured_at", "raw_value")
    _copy_rows(
        m.TipIdentifier,
        sighting_columns,
        [row for row in new_sightings.values() if row[0] not in reference_of],
    )
    added = _insert_missing(
        m.TipIdentifier,
        sighting_columns,
        [row for row in new_sightings.values() if row[0] in reference_of],
    )
    touched.update(reference_of[tip_id] for tip_id in added)

    subject_ids = _match_subjects(rows, tip_ids, stored, by)
    new_named: dict[tuple[int, int, str], None] = {}  # in the order of the file
    for row in rows:
        tip_id = tip_ids[row.reference]
        for index, person in enumerate(row.people):
            new_named[(tip_id, subject_ids[(row.reference, index)], person.role)] = None
    named_columns = ("tip_id", "subject_id", "role")
    _copy_rows(
        m.TipSubject, named_columns, [key for key in new_named if key[0] not in reference_of]
    )
    added = _insert_missing(
        m.TipSubject, named_columns, [key for key in new_named if key[0] in reference_of]
    )
    touched.update(reference_of[tip_id] for tip_id in added)

    _set_digests(
        [
            (stored[row.reference], row.digest)
            for row in rows
            if row.reference in stored
            and row.reference not in rewritten
            and row.digest
            and row.digest != digests[row.reference]
        ]
    )

    touched_ids = sorted(tip_ids[ref] for ref in touched)
    if touched_ids:
        clusters: dict[int, int] = {}
        link_tips(tip_ids=touched_ids, deferred_clusters=clusters)
        _score(touched_ids, {tip_ids[ref] for ref in set_band}, clusters)
        _deconflict(touched_ids, by)
        raise_link_alerts(touched_ids)  # partners told of tips linking to their records
    _history_mode("")
    result.new = len(created)
    result.updated = len(touched) - len(created)
    result.unchanged = len(rows) - len(touched)
    result.tip_ids = [tip_ids[row.reference] for row in rows]
    return result


# ---------------------------------------------------------------------------------------------
# the import


_STORED_DIGESTS_SQL = f"""
SELECT t.source_reference, t.id, t.intake_digest
FROM {m.Tip._meta.db_table} t
JOIN json_array_elements_text(%s::json) AS g(reference) ON t.source_reference = g.reference
WHERE t.source_id = %s AND t.intake_digest <> ''
"""


def _stored_digests(source: m.Source, references: list[str]) -> dict[str, tuple[int, str]]:
    """The id and record digest of the tips of ``references`` that ``source`` sent before."""
    if not references:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_STORED_DIGESTS_SQL, [json.dumps(references), source.pk])
        return {reference: (pk, digest) for reference, pk, digest in cursor.fetchall()}


@dataclass
class _Batch:
    rows: list[_Row] = field(default_factory=list)  # valid rows to write
    #: (row number, tip id) of each record the source sent before as it is (not read again)
    skipped: list[tuple[int, int]] = field(default_factory=list)
    read: int = 0  # records read to make the batch


def _batches(
    records: Iterable[IntakeTip | RowError | DeferredTip],
    report: ImportReport,
    batch_size: int,
    source: m.Source,
) -> Iterator[_Batch]:
    """The file's records in batches of ``batch_size``; rejected rows go straight into
    ``report``. A ``DeferredTip`` whose digest is the one stored with its tip (``source`` sent
    the same record before) is skipped without being validated; the others are built."""
    batch, yielded = _Batch(), False
    deferred: list[DeferredTip] = []
    seen: dict[str, int] = {}
    rejected_rows: set[int] = set()

    def reject(errors: list[RowError]) -> None:
        report.errors.extend(errors)
        rows = {e.row for e in errors} - rejected_rows
        rejected_rows.update(rows)
        report.rejected += len(rows)

    def take(record: IntakeTip, digest: str = "") -> None:
        prepared = _prepare(record, digest)
        if isinstance(prepared, list):
            reject(prepared)
        elif prepared.reference in seen:
            reject(
                [
                    RowError(
                        record.row,
                        "sourceReference",
                        f"{prepared.reference!r} is already used by row "
                        f"{seen[prepared.reference]} of this file",
                    )
                ]
            )
        else:
            seen[prepared.reference] = record.row
            batch.rows.append(prepared)

    def resolve() -> None:
        stored = _stored_digests(
            source, sorted({d.reference for d in deferred if d.reference is not None})
        )
        for record in deferred:
            hit = stored.get(record.reference) if record.reference is not None else None
            if hit is not None and hit[1] == record.digest and record.reference not in seen:
                seen[record.reference] = record.row
                batch.skipped.append((record.row, hit[0]))
                continue
            result = record.build()
            if isinstance(result, list):
                reject(result)
            else:
                take(result, record.digest)
        deferred.clear()

    for record in records:
        batch.read += 1
        if isinstance(record, RowError):
            reject([record])
        elif isinstance(record, DeferredTip):
            deferred.append(record)
        else:
            take(record)
        if len(batch.rows) + len(batch.skipped) + len(deferred) >= batch_size:
            resolve()
            yield batch
            batch, yielded = _Batch(), True
    resolve()
    if batch.read or not yielded:  # the rest, or the one report of an empty file
        yield batch


def import_tips(
    *,
    records: Iterable[IntakeTip | RowError | DeferredTip],
    source: m.Source,
    by: m.User | None,
    mode: str = ImportMode.ACCEPT_VALID,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> ImportReport:
    """Import parsed tips from ``source`` on behalf of ``by``; see the module docstring.

    ``progress(done_rows, rejected_rows)`` is called after every batch."""
    mode = ImportMode(mode)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    done = 0

    def run_batch(batch: _Batch) -> None:
        nonlocal done
        if batch.rows and not (mode is ImportMode.ALL_OR_NOTHING and report.rejected):
            with transaction.atomic():
                result = _write_batch(batch.rows, source=source, by=by)
            report.new += result.new
            report.updated += result.updated
            report.unchanged += result.unchanged
            written = list(zip((row.tip.row for row in batch.rows), result.tip_ids, strict=True))
        else:
            written = []
        report.unchanged += len(batch.skipped)
        report.tip_ids.extend(pk for _, pk in sorted(written + batch.skipped))
        done += batch.read
        if progress is not None:
            progress(done, report.rejected)

    if mode is ImportMode.ACCEPT_VALID:
        for batch in _batches(records, report, batch_size, source):
            run_batch(batch)
        return report

    class _Rejected(Exception):
        pass

    try:
        with transaction.atomic():
            for batch in _batches(records, report, batch_size, source):
                run_batch(batch)
            if report.rejected:
                raise _Rejected
    except _Rejected:
        report.new = report.updated = report.unchanged = 0
        report.tip_ids = []
    return report
