"""The tip lists' default order is served by an index over the live tips, so that a page is
read off the index rather than sorting every live tip (docs/benchmarks.md: 119 ms -> 0.1 ms
for a 100-tip page at 100,000 tips). With sequential scans and sorts priced out, the plan
shows whether such an index exists at all, whatever the size of the test data."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from backend import models as m
from tests.factories import TipFactory

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_page_of_live_tips_in_the_default_order_needs_no_sort():
    # given some tips, one of them removed
    TipFactory.create_batch(5)
    m.Tip.objects.filter(pk=TipFactory().pk).update(removed_at="2026-01-01T00:00:00Z")
    # when a page of the live tips in the default order is planned
    page = m.Tip.objects.filter(removed_at__isnull=True).order_by(*m.Tip._meta.ordering)[:101]
    plan = _plan(page)
    # then it is read in order off the listing index, with no sort
    assert "tip_listing_idx" in plan, plan
    assert "Sort" not in plan, plan
