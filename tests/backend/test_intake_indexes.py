"""The tables written in bulk (by bulk intake, and by every audited lookup) carry no index
another index already provides: each one is written for every imported row (three sightings,
a few links and a history row a tip) or every lookup (its row, a disclosure per record
returned, the audit row), and a plain index whose columns lead another index of the same
kind serves no read the other cannot."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent, AuditQueryText
from backend import models as m
from tests.owner import owner_cursor

pytestmark = pytest.mark.django_db

#: What ``backend.intake.importer`` writes, row by row or by statement, and what every audited
#: traveller lookup writes (``backend.services.lookups``, ``audit.writer``).
INTAKE_TABLES = [
    model._meta.db_table
    for model in (
        m.Identifier,
        m.Tip,
        m.TipIdentifier,
        m.Subject,
        m.TipSubject,
        m.TipLink,
        m.Cluster,
        m.TravellerLookup,
        m.Disclosure,
        AuditEvent,
        AuditQueryText,
    )
]

_COVERED_SQL = """
WITH idx AS (
    SELECT c.relname AS name, i.indrelid::regclass::text AS tbl,
           array_to_string(i.indkey::int2[], ' ') AS cols,
           array_to_string(i.indclass::oid[], ' ') AS classes,
           i.indisunique AS uniq, i.indpred IS NULL AND i.indexprs IS NULL AS plain, c.relam
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid::regclass::text = ANY(%s)
)
SELECT a.tbl, a.name, b.name
FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name AND a.relam = b.relam
WHERE a.plain AND b.plain AND NOT a.uniq
  AND (b.cols || ' ') LIKE (a.cols || ' %%')
  AND (b.classes || ' ') LIKE (a.classes || ' %%')
  AND (length(a.cols) < length(b.cols) OR b.uniq OR a.name > b.name)
ORDER BY 1, 2
"""


def test_no_table_written_in_bulk_has_an_index_another_one_covers():
    with connection.cursor() as cursor:
        cursor.execute(_COVERED_SQL, [INTAKE_TABLES])
        covered = cursor.fetchall()
    assert covered == []


def test_the_check_finds_a_covered_index():
    # given an index on the tip column of sightings, which their unique constraint's covers
    # (made by the owner, and dropped again: the application role may not)
    table = m.TipIdentifier._meta.db_table
    with owner_cursor() as cursor:
        cursor.execute(f"CREATE INDEX test_covered_idx ON {table} (tip_id)")
    try:
        with owner_cursor() as cursor:
            cursor.execute(_COVERED_SQL, [INTAKE_TABLES])
            covered = cursor.fetchall()
    finally:
        with owner_cursor() as cursor:
            cursor.execute("DROP INDEX test_covered_idx")
    # then the check names it
    assert (table, "test_covered_idx", "tip_identifier_event_unique") in covered
