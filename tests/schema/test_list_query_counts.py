"""Every root list, with the nested relations a dashboard follows, runs a constant number of
SQL queries however many rows it returns (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    NoteFactory,
    OfficeFactory,
    ResearchResultFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

QUERIES = {
    "subjects": """{ subjects(first: 50) { totalCount edges { node {
        fullName aliases
        tips(first: 5) { edges { node { role tip { sourceReference source { name } } } } }
        identifiers(first: 5) { edges { node { identifier { kind value } } } }
        leads(first: 5) { edges { node { title office { name } } } }
        notes(first: 5) { edges { node { body authorName recordId } } }
    } } } }""",
    "identifiers": """{ identifiers(first: 50) { totalCount edges { node {
        kind value
        sightings(first: 5) { edges { node { event tip { sourceReference status } } } }
        subjects(first: 5) { edges { node { subject { fullName } } } }
        researchResults(first: 5) { edges { node { findings legalProcess } } }
    } } } }""",
    "leads": """{ leads(first: 50) { totalCount edges { node {
        title status allowedTransitions office { name contactPoint }
        tips(first: 5) { totalCount edges { node { sourceReference category } } }
        subjects(first: 5) { edges { node { fullName } } }
        notes(first: 5) { edges { node { body } } }
    } } } }""",
    "sources": """{ sources(first: 50) { edges { node {
        name kind tips(first: 5) { totalCount edges { node { sourceReference } } }
    } } } }""",
    "offices": """{ offices(first: 50) { edges { node {
        name leads(first: 5) { edges { node { title tips(first: 3) { edges { node { id } } } } } }
    } } } }""",
    "researchResults": """{ researchResults(first: 50) { edges { node {
        findings identifier { value sightings(first: 3) { edges { node { tip { id } } } } }
        tip { sourceReference }
    } } } }""",
}


def grow(rows: int) -> None:
    """Add ``rows`` rows of every kind, each wired to its neighbours."""
    author = UserFactory(username="note-author")
    for _ in range(rows):
        source = SourceFactory()
        office = OfficeFactory()
        tip = TipFactory(source=source)
        subject = SubjectFactory(aliases=["alias"])
        identifier = IdentifierFactory()
        SightingFactory(tip=tip, identifier=identifier)
        TipSubjectFactory(tip=tip, subject=subject)
        subject.identifier_links.create(identifier=identifier)
        lead = LeadFactory(office=office)
        lead.tips.add(tip)
        lead.subjects.add(subject)
        NoteFactory(record=subject, author=author)
        NoteFactory(record=lead, author=author)
        ResearchResultFactory(identifier=identifier, tip=tip)


def empty_connections(data: object, path: str = "") -> list[str]:
    """Paths of every connection in ``data`` that came back empty."""
    found: list[str] = []
    if isinstance(data, dict):
        if "edges" in data and not data["edges"]:
            found.append(path)
        for key, value in data.items():
            found += empty_connections(value, f"{path}.{key}")
    elif isinstance(data, list):
        for item in data:
            found += empty_connections(item, path)
    return found


def count(gql, query: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        result = gql(query)
    assert "errors" not in result, result
    return len(queries), result["data"]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_list_query_count_is_constant(gql, name):
    # given a few rows
    grow(2)
    small, small_data = count(gql, QUERIES[name])
    # when there are many more
    grow(25)
    large, large_data = count(gql, QUERIES[name])
    # then the page grew and the SQL query count did not
    assert len(large_data[name]["edges"]) == 27
    assert len(small_data[name]["edges"]) == 2
    assert large == small, (name, small, large)
    # and every nested relation really was followed (none came back empty)
    assert empty_connections(large_data) == []
