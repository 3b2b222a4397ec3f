"""The dashboard's tip-graph query (backend/dashboard/static/dashboard/tip_graph.graphql):
what it returns, and that its SQL query count does not grow with the graph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from strawberry import relay

from backend.models import Role
from tests.backend.dashboard.builders import TIP_GRAPH_QUERY, build_tip_graph
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(client: Client, operation: str, **variables: Any) -> dict[str, Any]:
    """Run one operation of the dashboard's query document, as the page's script does."""
    response = client.post(
        "/graphql",
        data=json.dumps(
            {"query": TIP_GRAPH_QUERY, "operationName": operation, "variables": variables}
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def analyst_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="graph-analyst", role=Role.ANALYST))
    return client


def gid(obj: Any) -> str:
    return relay.to_base64(type(obj).__name__, obj.pk)


def test_graph_by_id_returns_every_linked_record(analyst_client):
    # given a tip with two of everything
    data = build_tip_graph(2)
    # when the dashboard asks for it by global id
    result = run(analyst_client, "TipGraphById", id=gid(data.centre))
    # then the tip comes with its identifiers, subjects, leads and linked tips and their leads
    assert "errors" not in result, result
    tip = result["data"]["node"]
    assert tip["sourceReference"] == "GRAPH-CENTRE"
    identifiers = {e["node"]["identifier"]["id"] for e in tip["identifiers"]["edges"]}
    assert identifiers == {gid(i) for i in data.identifiers}
    subjects = {e["node"]["subject"]["id"] for e in tip["subjects"]["edges"]}
    assert subjects == {gid(s) for s in data.subjects}
    linked = {e["node"]["tip"]["id"]: e["node"] for e in tip["links"]["edges"]}
    assert set(linked) == {gid(t) for t in data.linked}
    leads = {e["node"]["id"] for e in tip["leads"]["edges"]}
    for link in linked.values():
        assert link["kind"] == "SHARED_IDENTIFIER"
        assert link["identifier"]["id"] in identifiers
        leads |= {e["node"]["id"] for e in link["tip"]["leads"]["edges"]}
    assert leads == {gid(lead) for lead in data.leads}
    assert data.node_count == 1 + 2 + 4 + 2 + 4


def test_graph_by_reference_finds_the_tip(analyst_client):
    # given a tip with one of everything
    data = build_tip_graph(1, reference="CT-2026-0042")
    # when the dashboard asks for it by source reference
    result = run(analyst_client, "TipGraphByReference", reference="CT-2026-0042")
    # then that tip is the one answer
    assert "errors" not in result, result
    tips = result["data"]["tips"]
    assert tips["totalCount"] == 1
    assert tips["edges"][0]["node"]["id"] == gid(data.centre)
    assert tips["edges"][0]["node"]["links"]["totalCount"] == 1


@pytest.mark.parametrize("operation", ["TipGraphById", "TipGraphByReference"])
def test_graph_query_count_does_not_grow_with_the_graph(analyst_client, operation):
    # given a small graph and a graph five times its size
    small = build_tip_graph(2, reference="SMALL")
    large = build_tip_graph(10, reference="LARGE")

    def count(data) -> int:
        variables = (
            {"id": gid(data.centre)}
            if operation == "TipGraphById"
            else {"reference": data.centre.source_reference}
        )
        with CaptureQueriesContext(connection) as queries:
            result = run(analyst_client, operation, **variables)
        assert "errors" not in result, result
        return len(queries)

    # when the dashboard fetches each
    small_count, large_count = count(small), count(large)
    # then both take the same number of SQL queries (no query per linked record)
    assert large_count == small_count, (small_count, large_count)
