"""The analyst dashboard query runs a constant number of SQL queries, whatever the row count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.services.linking import link_tips
from tests.factories import (
    IdentifierFactory,
    NoteFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
)

pytestmark = pytest.mark.django_db

DASHBOARD = """
query Dashboard($first: Int!) {
  tips(first: $first) {
    totalCount
    edges { node {
      id sourceReference status category receivedAt priority
      source { id name kind }
      identifiers(first: 20) { totalCount edges { node {
        event capturedAt
        identifier { id kind value }
      } } }
      subjects(first: 20) { edges { node { role subject { id fullName dateOfBirth } } } }
      links(first: 20) { totalCount edges { node {
        kind reason
        tip { id sourceReference status }
      } } }
      notes(first: 20) { edges { node { id kind body authorName createdAt } } }
    } }
  }
}
"""


def build_graph(tips: int) -> None:
    """``tips`` tips in pairs sharing an e-mail address; each with a subject and two notes."""
    source = SourceFactory()
    shared = [IdentifierFactory() for _ in range(tips // 2 + 1)]
    created = []
    for n in range(tips):
        tip = TipFactory(source=source)
        SightingFactory(tip=tip, identifier=shared[n // 2])
        SightingFactory(tip=tip)
        TipSubjectFactory(tip=tip, subject=SubjectFactory())
        NoteFactory(record=tip)
        NoteFactory(record=tip)
        created.append(tip.pk)
    link_tips(tip_ids=created)


def run_dashboard(gql, first: int) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        result = gql(DASHBOARD, {"first": first})
    assert "errors" not in result, result
    return len(queries), result["data"]["tips"]


def test_dashboard_query_count_is_constant(gql):
    # given a small graph
    build_graph(4)
    small_count, small = run_dashboard(gql, 50)
    # when the graph grows to more than 50 tips
    build_graph(60)
    large_count, large = run_dashboard(gql, 50)
    # then the same number of SQL queries answers both
    assert len(small["edges"]) == 4
    assert len(large["edges"]) == 50
    assert large["totalCount"] == 64
    assert large_count == small_count, (small_count, large_count)


def test_dashboard_returns_the_nested_graph(gql):
    # given two tips sharing an identifier
    build_graph(2)
    # when the dashboard is fetched
    _, tips = run_dashboard(gql, 50)
    # then each tip shows its identifiers, subject, notes and the link to the other
    by_ref = {edge["node"]["sourceReference"]: edge["node"] for edge in tips["edges"]}
    assert len(by_ref) == 2
    for ref, node in by_ref.items():
        other = next(r for r in by_ref if r != ref)
        assert node["identifiers"]["totalCount"] == 2
        assert len(node["subjects"]["edges"]) == 1
        assert len(node["notes"]["edges"]) == 2
        linked = [e["node"]["tip"]["sourceReference"] for e in node["links"]["edges"]]
        assert linked == [other]
        assert node["links"]["edges"][0]["node"]["kind"] == "SHARED_IDENTIFIER"
