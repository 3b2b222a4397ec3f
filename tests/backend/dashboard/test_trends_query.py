"""The dashboard's trends query (backend/dashboard/static/dashboard/trends.graphql), run as the
page runs it: one request for the weekly, monthly and cluster-size tables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client

from backend.models import Role, TipCategory
from tests.factories import TipFactory, UserFactory

pytestmark = pytest.mark.django_db

TRENDS_QUERY = (
    Path(settings.BASE_DIR) / "backend" / "dashboard" / "static" / "dashboard" / "trends.graphql"
).read_text()
LONDON = ZoneInfo("Europe/London")


def run_trends(**variables: str) -> dict:
    client = Client()
    client.force_login(UserFactory(username="trends-analyst", role=Role.ANALYST))
    response = client.post(
        "/graphql",
        data=json.dumps(
            {"query": TRENDS_QUERY, "operationName": "DashboardTrends", "variables": variables}
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_trends_query_answers_the_three_charts():
    # given tips in two weeks of one month, some reviewed
    monday = dt.datetime(2026, 3, 2, 12, tzinfo=LONDON)
    for n in range(3):
        TipFactory(category=TipCategory.POSSESSION, received_at=monday + dt.timedelta(hours=n))
    TipFactory(
        category=TipCategory.ENTICEMENT,
        received_at=monday + dt.timedelta(days=7),
        is_actionable=True,
        reviewed_at=monday + dt.timedelta(days=8),
    )
    TipFactory(
        category=TipCategory.ENTICEMENT,
        received_at=monday + dt.timedelta(days=8),
        is_actionable=False,
        reviewed_at=monday + dt.timedelta(days=9),
    )
    # when the dashboard asks for its trends in the browser's time zone
    result = run_trends(
        timeZone="Europe/London",
        weeksSince="2026-01-05T00:00:00Z",
        monthsSince="2026-01-01T00:00:00Z",
    )
    # then each table has the rows the charts draw, none suppressed for an analyst
    assert "errors" not in result, result
    weekly = {
        (row["period"], row["group"]): row["count"] for row in result["data"]["weekly"]["rows"]
    }
    assert weekly == {
        ("2026-03-02", "POSSESSION"): 3,
        ("2026-03-09", "ENTICEMENT"): 2,
    }
    assert result["data"]["weekly"]["suppressedRows"] == 0
    share = result["data"]["share"]["rows"]
    assert [(r["period"], r["reviewed"], r["actionable"], r["share"]) for r in share] == [
        ("2026-03-01", 2, 1, 0.5)
    ]
    clusters = {row["group"]: row["count"] for row in result["data"]["clusters"]["rows"]}
    assert clusters.get("1") == 5
