"""Text longer than its column is refused by the service with a typed error naming the input
field, before anything is written; the database's own message ("value too long for type
character varying(200)") never reaches the client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from strawberry.relay import to_base64

from backend import models as m
from tests.conftest import GraphQL
from tests.factories import IdentifierFactory, SourceFactory, TipFactory

pytestmark = pytest.mark.django_db

ERRORS = "errors { code field message }"


def _tip_input(**changes: Any) -> dict[str, Any]:
    return {
        "sourceId": to_base64("Source", SourceFactory().pk),
        "sourceReference": "CT-LEN",
        "receivedAt": "2026-01-05T10:00:00Z",
        "category": "DISTRIBUTION",
        **changes,
    }


#: mutation, its payload's object, variables (built at test time), the field named, the limit
CASES: dict[str, tuple[str, str, Callable[[], dict[str, Any]], str, int]] = {
    "source name": (
        "createSource",
        "source",
        lambda: {"input": {"kind": "NGO", "name": "n" * 201}},
        "name",
        200,
    ),
    "tip reference": (
        "createTip",
        "tip",
        lambda: {"input": _tip_input(sourceReference="r" * 201)},
        "sourceReference",
        200,
    ),
    "identifier value": (
        "createTip",
        "tip",
        lambda: {
            "input": _tip_input(
                identifiers=[
                    {"identifier": {"kind": "URL", "value": "https://x.example/" + "a" * 2040}}
                ]
            )
        },
        "identifiers[0].value",
        2048,
    ),
    "identifier platform": (
        "createTip",
        "tip",
        lambda: {
            "input": _tip_input(
                identifiers=[
                    {"identifier": {"kind": "USERNAME", "value": "someone", "qualifier": "p" * 65}}
                ]
            )
        },
        "identifiers[0].qualifier",
        64,
    ),
    "subject name": (
        "createSubject",
        "subject",
        lambda: {"input": {"fullName": "f" * 201}},
        "fullName",
        200,
    ),
    "subject alias": (
        "createSubject",
        "subject",
        lambda: {"input": {"fullName": "Some One", "aliases": ["ok", "a" * 201]}},
        "aliases[1]",
        200,
    ),
    "lead title": (
        "createLead",
        "lead",
        lambda: {"input": {"title": "t" * 201}},
        "title",
        200,
    ),
    "research served on": (
        "createResearchResult",
        "researchResult",
        lambda: {
            "input": {
                "identifierId": to_base64("Identifier", IdentifierFactory().pk),
                "legalProcess": "SUBPOENA",
                "findings": "found",
                "servedOn": "s" * 201,
            }
        },
        "servedOn",
        200,
    ),
    "travel carrier": (
        "addNote",
        "note",
        lambda: {
            "input": {
                "recordId": to_base64("Tip", TipFactory().pk),
                "body": "seen at the gate",
                "kind": "TARGETING",
                "travel": {"screeningOutcome": "NONE", "carrier": "c" * 81},
            }
        },
        "travel.carrier",
        80,
    ),
}
INPUT_TYPES = {
    "createSource": "CreateSourceInput",
    "createTip": "CreateTipInput",
    "createSubject": "CreateSubjectInput",
    "createLead": "CreateLeadInput",
    "createResearchResult": "CreateResearchResultInput",
    "addNote": "AddNoteInput",
}
TABLES = (m.Source, m.Tip, m.Identifier, m.Subject, m.Lead, m.ResearchResult, m.Note)


@pytest.mark.parametrize("case", sorted(CASES))
def test_over_long_text_is_a_typed_error_naming_the_field(gql: GraphQL, case: str) -> None:
    mutation, key, variables, field, limit = CASES[case]
    given = variables()
    before = [table.objects.count() for table in TABLES]
    result = gql(
        f"mutation ($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) "
        f"{{ {key} {{ id }} {ERRORS} }} }}",
        given,
    )
    assert "errors" not in result, result
    payload = result["data"][mutation]
    assert payload[key] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", field)
    assert f"at most {limit} characters" in error["message"]
    assert "varying" not in error["message"]
    assert [table.objects.count() for table in TABLES] == before


def test_text_at_the_limit_is_accepted(gql: GraphQL) -> None:
    result = gql(
        "mutation ($input: CreateSourceInput!) { createSource(input: $input) "
        f"{{ source {{ name }} {ERRORS} }} }}",
        {"input": {"kind": "NGO", "name": "n" * 200}},
    )
    assert result["data"]["createSource"] == {"source": {"name": "n" * 200}, "errors": []}


def test_a_long_narrative_is_kept_whole(gql: GraphQL) -> None:
    # a TextField has no column limit: only the schema-wide input limit applies
    narrative = "word " * 10_000
    result = gql(
        "mutation ($input: CreateTipInput!) { createTip(input: $input) "
        f"{{ tip {{ narrative }} {ERRORS} }} }}",
        {"input": _tip_input(narrative=narrative)},
    )
    assert result["data"]["createTip"]["tip"]["narrative"] == narrative
