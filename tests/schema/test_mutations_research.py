"""Research result mutations through /graphql: createResearchResult, updateResearchResult."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backend import models as m
from tests.factories import IdentifierFactory, ResearchResultFactory, TipFactory
from tests.schema.mutation_helpers import (
    ERRORS,
    NON_WRITER_ROLES,
    assert_analyst_calls_succeed,
    assert_forbidden,
    assert_unauthenticated,
    bad_id,
    gid,
    refused_without_writes,
    single_error,
)

pytestmark = pytest.mark.django_db

RESULT_FIELDS = """
id legalProcess servedOn servedAt returnedAt findings identifier { id } tip { id }
"""

CREATE_RESEARCH_RESULT = f"""
mutation CreateResearchResult($input: CreateResearchResultInput!) {{
  createResearchResult(input: $input) {{ researchResult {{ {RESULT_FIELDS} }} {ERRORS} }}
}}"""

UPDATE_RESEARCH_RESULT = f"""
mutation UpdateResearchResult($input: UpdateResearchResultInput!) {{
  updateResearchResult(input: $input) {{ researchResult {{ {RESULT_FIELDS} }} {ERRORS} }}
}}"""


def result_rows() -> list[tuple[Any, ...]]:
    return list(
        m.ResearchResult.objects.order_by("pk").values_list(
            "pk",
            "legal_process",
            "served_on",
            "served_at",
            "returned_at",
            "findings",
            "identifier_id",
            "tip_id",
        )
    )


def research_input(identifier: m.Identifier, **overrides: Any) -> dict[str, Any]:
    return {
        "identifierId": gid("Identifier", identifier.pk),
        "legalProcess": "ADMINISTRATIVE_SUMMONS",
        "findings": "Subscriber: J. Doe, 1 Main St.",
        **overrides,
    }


# --- createResearchResult ----------------------------------------------------------------------


def test_create_research_result_records_the_return(gql, analyst):
    # given an IP address seen in a tip
    identifier = IdentifierFactory(kind="IP_ADDRESS", raw_value="203.0.113.7")
    tip = TipFactory()
    # when the summons return is entered
    result = gql(
        CREATE_RESEARCH_RESULT,
        {
            "input": research_input(
                identifier,
                findings="  Subscriber: J. Doe, 1 Main St.  ",
                servedOn=" Example ISP ",
                servedAt="2024-03-01",
                returnedAt="2024-03-15",
                tipId=gid("Tip", tip.pk),
            )
        },
    )
    # then the result comes back, trimmed, tied to the identifier and the tip
    assert "errors" not in result, result
    payload = result["data"]["createResearchResult"]
    assert payload["errors"] == []
    row = m.ResearchResult.objects.get()
    assert payload["researchResult"] == {
        "id": gid("ResearchResult", row.pk),
        "legalProcess": "ADMINISTRATIVE_SUMMONS",
        "servedOn": "Example ISP",
        "servedAt": "2024-03-01",
        "returnedAt": "2024-03-15",
        "findings": "Subscriber: J. Doe, 1 Main St.",
        "identifier": {"id": gid("Identifier", identifier.pk)},
        "tip": {"id": gid("Tip", tip.pk)},
    }
    assert result_rows() == [
        (
            row.pk,
            "ADMINISTRATIVE_SUMMONS",
            "Example ISP",
            dt.date(2024, 3, 1),
            dt.date(2024, 3, 15),
            "Subscriber: J. Doe, 1 Main St.",
            identifier.pk,
            tip.pk,
        )
    ]
    assert row.created_by == analyst


def test_create_research_result_without_tip_or_dates(gql):
    # given an identifier
    identifier = IdentifierFactory()
    # when a database check is entered with findings only
    result = gql(
        CREATE_RESEARCH_RESULT,
        {"input": research_input(identifier, legalProcess="DATABASE_CHECK", findings="No hits.")},
    )
    # then the optional parts are empty
    payload = result["data"]["createResearchResult"]
    assert payload["errors"] == []
    assert payload["researchResult"]["tip"] is None
    assert [row[1:] for row in result_rows()] == [
        ("DATABASE_CHECK", "", None, None, "No hits.", identifier.pk, None)
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"findings": "   "}, "findings", "findings must not be empty"),
        (
            {"servedAt": "2024-03-15", "returnedAt": "2024-03-01"},
            "returnedAt",
            "returnedAt cannot be before servedAt",
        ),
    ],
    ids=["blank-findings", "returned-before-served"],
)
def test_create_research_result_refuses_invalid_input(gql, overrides, field, message):
    # given an identifier
    identifier = IdentifierFactory()
    # when a result with one invalid field is entered
    result = gql(CREATE_RESEARCH_RESULT, {"input": research_input(identifier, **overrides)})
    # then that field is named and nothing was written
    error = single_error(result, "createResearchResult", "researchResult")
    assert error == {"code": "INVALID_INPUT", "message": message, "field": field}
    assert result_rows() == []


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_create_research_result_on_a_bad_identifier_id_is_not_found(gql, how):
    # given an id that is not a known Identifier
    identifier_id, message = bad_id(how, "Identifier")
    # when research is entered for it
    result = gql(
        CREATE_RESEARCH_RESULT,
        {
            "input": {
                "identifierId": identifier_id,
                "legalProcess": "SUBPOENA",
                "findings": "Subscriber found.",
            }
        },
    )
    # then it is not found and nothing was written
    error = single_error(result, "createResearchResult", "researchResult")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "identifierId"
    assert message in error["message"]
    assert result_rows() == []


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_create_research_result_with_a_bad_tip_id_is_not_found(gql, how):
    # given an identifier and an id that is not a known Tip
    identifier = IdentifierFactory()
    tip_id, message = bad_id(how, "Tip")
    # when research is entered naming it as the tip
    result = gql(CREATE_RESEARCH_RESULT, {"input": research_input(identifier, tipId=tip_id)})
    # then it is not found and nothing was written
    error = single_error(result, "createResearchResult", "researchResult")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "tipId"
    assert message in error["message"]
    assert result_rows() == []


def test_create_research_result_with_an_unknown_legal_process_is_a_validation_error(gql):
    # given an identifier
    identifier = IdentifierFactory()
    # when the legal process is not a LegalProcess
    result = gql(
        CREATE_RESEARCH_RESULT, {"input": research_input(identifier, legalProcess="GUESSWORK")}
    )
    # then GraphQL refuses it
    assert result.get("data") is None
    assert "GUESSWORK" in result["errors"][0]["message"]
    assert result_rows() == []


# --- updateResearchResult ----------------------------------------------------------------------


def test_update_research_result_corrects_the_given_fields(gql):
    # given a research result
    research = ResearchResultFactory(
        served_on="Example ISP", findings="old", served_at=dt.date(2024, 3, 1)
    )
    # when the findings and return date are corrected
    result = gql(
        UPDATE_RESEARCH_RESULT,
        {
            "input": {
                "id": gid("ResearchResult", research.pk),
                "findings": " Subscriber: R. Roe ",
                "returnedAt": "2024-03-20",
            }
        },
    )
    # then those fields changed and the others stayed
    payload = result["data"]["updateResearchResult"]
    assert payload["errors"] == []
    assert payload["researchResult"]["findings"] == "Subscriber: R. Roe"
    assert payload["researchResult"]["returnedAt"] == "2024-03-20"
    assert [row[2:6] for row in result_rows()] == [
        ("Example ISP", dt.date(2024, 3, 1), dt.date(2024, 3, 20), "Subscriber: R. Roe")
    ]


def test_update_research_result_changes_who_was_served_and_when(gql):
    # given a research result
    research = ResearchResultFactory(served_on="Example ISP")
    # when the served party and date are corrected
    result = gql(
        UPDATE_RESEARCH_RESULT,
        {
            "input": {
                "id": gid("ResearchResult", research.pk),
                "servedOn": " Other ISP ",
                "servedAt": "2024-02-02",
            }
        },
    )
    # then they are stored
    assert result["data"]["updateResearchResult"]["errors"] == []
    research.refresh_from_db()
    assert (research.served_on, research.served_at) == ("Other ISP", dt.date(2024, 2, 2))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"findings": " ", "servedOn": "Changed"}, "findings", "findings must not be empty"),
        ({"returnedAt": "2024-02-01"}, "returnedAt", "returnedAt cannot be before servedAt"),
    ],
    ids=["blank-findings", "returned-before-served"],
)
def test_update_research_result_refuses_invalid_input(gql, changes, field, message):
    # given a research result served on 1 March
    research = ResearchResultFactory(served_at=dt.date(2024, 3, 1))
    before = result_rows()
    # when it is corrected with one invalid field
    result = gql(
        UPDATE_RESEARCH_RESULT,
        {"input": {"id": gid("ResearchResult", research.pk), **changes}},
    )
    # then that field is named and nothing changed
    error = single_error(result, "updateResearchResult", "researchResult")
    assert error == {"code": "INVALID_INPUT", "message": message, "field": field}
    assert result_rows() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_update_research_result_with_a_bad_id_is_not_found(gql, how):
    # given a research result and an id that is not a known ResearchResult
    ResearchResultFactory()
    result_id, message = bad_id(how, "ResearchResult")
    before = result_rows()
    # when it is updated
    result = gql(UPDATE_RESEARCH_RESULT, {"input": {"id": result_id, "findings": "changed"}})
    # then it is not found and nothing changed
    error = single_error(result, "updateResearchResult", "researchResult")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "id"
    assert message in error["message"]
    assert result_rows() == before


# --- who may call ------------------------------------------------------------------------------

MUTATIONS = ["createResearchResult", "updateResearchResult"]


def research_mutation_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every research mutation with variables that would succeed for an analyst."""
    research = ResearchResultFactory()
    return {
        "createResearchResult": (
            CREATE_RESEARCH_RESULT,
            {"input": research_input(IdentifierFactory())},
        ),
        "updateResearchResult": (
            UPDATE_RESEARCH_RESULT,
            {"input": {"id": gid("ResearchResult", research.pk), "findings": "changed"}},
        ),
    }


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_other_roles_may_not_call_research_mutations(gql_as, role, mutation):
    # given a caller whose role does not write records
    # when it calls the mutation: nothing is written
    result = refused_without_writes(gql_as(role), research_mutation_calls, mutation, result_rows)
    # then it is forbidden
    assert_forbidden(result, mutation)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_anonymous_callers_may_not_call_research_mutations(anonymous_gql, mutation):
    # given no session
    # when the mutation is called: nothing is written
    result = refused_without_writes(anonymous_gql, research_mutation_calls, mutation, result_rows)
    # then authentication is required
    assert_unauthenticated(result)


def test_the_analyst_variables_used_above_do_succeed(gql):
    # given the calls the role tests make, when an analyst makes each of them, then every one
    # succeeds, so the refusals above are about the role alone
    assert_analyst_calls_succeed(gql, research_mutation_calls)
