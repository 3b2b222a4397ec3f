"""The createSource mutation through /graphql."""

from __future__ import annotations

from typing import Any

import pytest

from backend import models as m
from tests.factories import SourceFactory
from tests.schema.mutation_helpers import (
    ERRORS,
    NON_WRITER_ROLES,
    assert_forbidden,
    assert_unauthenticated,
    gid,
    single_error,
)

pytestmark = pytest.mark.django_db

CREATE_SOURCE = f"""
mutation CreateSource($input: CreateSourceInput!) {{
  createSource(input: $input) {{ source {{ id kind name country }} {ERRORS} }}
}}"""


def source_rows() -> list[tuple[Any, ...]]:
    return list(m.Source.objects.order_by("pk").values_list("kind", "name", "country"))


def test_create_source_registers_a_cleaned_source(gql):
    # given no sources
    # when one is registered with untidy name and lower-case country
    result = gql(
        CREATE_SOURCE,
        {
            "input": {
                "kind": "FOREIGN_LAW_ENFORCEMENT",
                "name": "  Police   Nationale ",
                "country": "fr",
            }
        },
    )
    # then it comes back cleaned, with no errors
    assert "errors" not in result, result
    payload = result["data"]["createSource"]
    assert payload["errors"] == []
    row = m.Source.objects.get()
    assert payload["source"] == {
        "id": gid("Source", row.pk),
        "kind": "FOREIGN_LAW_ENFORCEMENT",
        "name": "Police Nationale",
        "country": "FR",
    }
    assert source_rows() == [("FOREIGN_LAW_ENFORCEMENT", "Police Nationale", "FR")]


def test_create_source_without_country(gql):
    # given no sources
    # when a source is registered without a country
    result = gql(CREATE_SOURCE, {"input": {"kind": "PUBLIC_TIP_LINE", "name": "Tip Line"}})
    # then its country is empty
    assert result["data"]["createSource"]["errors"] == []
    assert source_rows() == [("PUBLIC_TIP_LINE", "Tip Line", "")]


def test_create_source_refuses_a_duplicate_of_the_same_kind(gql):
    # given an NGO source
    SourceFactory(kind="NGO", name="Hope Line", country="US")
    before = source_rows()
    # when the same NGO is registered again, spaced differently
    result = gql(CREATE_SOURCE, {"input": {"kind": "NGO", "name": " Hope  Line", "country": "GB"}})
    # then it is a duplicate naming the source, and nothing was written
    error = single_error(result, "createSource", "source")
    assert error == {
        "code": "DUPLICATE",
        "message": "a NGO source named 'Hope Line' already exists",
        "field": "name",
    }
    assert source_rows() == before


def test_create_source_allows_the_same_name_for_another_kind(gql):
    # given an NGO source
    SourceFactory(kind="NGO", name="Hope Line")
    # when a tip line of the same name is registered
    result = gql(CREATE_SOURCE, {"input": {"kind": "PUBLIC_TIP_LINE", "name": "Hope Line"}})
    # then both exist
    assert result["data"]["createSource"]["errors"] == []
    assert sorted(m.Source.objects.values_list("kind", flat=True)) == ["NGO", "PUBLIC_TIP_LINE"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "   "}, "name", "name must not be empty"),
        ({"country": "USA"}, "country", "country must be an ISO 3166-1 alpha-2 code, got 'USA'"),
        ({"country": "4 "}, "country", "country must be an ISO 3166-1 alpha-2 code, got '4'"),
    ],
    ids=["blank-name", "three-letter-country", "digit-country"],
)
def test_create_source_refuses_invalid_input(gql, overrides, field, message):
    # given no sources
    # when a source with one invalid field is registered
    result = gql(CREATE_SOURCE, {"input": {"kind": "INTERPOL", "name": "INTERPOL", **overrides}})
    # then that field is named and nothing was written
    error = single_error(result, "createSource", "source")
    assert error == {"code": "INVALID_INPUT", "message": message, "field": field}
    assert source_rows() == []


def test_create_source_of_an_unknown_kind_is_a_validation_error(gql):
    # given no sources
    # when the kind is not a SourceKind
    result = gql(CREATE_SOURCE, {"input": {"kind": "JOURNALIST", "name": "Daily Paper"}})
    # then GraphQL refuses it
    assert result.get("data") is None
    assert "JOURNALIST" in result["errors"][0]["message"]
    assert source_rows() == []


VALID_SOURCE = {"input": {"kind": "NGO", "name": "Hope Line", "country": "US"}}


@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_other_roles_may_not_register_sources(gql_as, role):
    # given a caller whose role does not write records
    caller = gql_as(role)
    # when it registers a source
    result = caller(CREATE_SOURCE, VALID_SOURCE)
    # then it is forbidden and nothing is written
    assert_forbidden(result, "createSource")
    assert source_rows() == []


def test_anonymous_callers_may_not_register_sources(anonymous_gql):
    # given no session
    # when a source is registered
    result = anonymous_gql(CREATE_SOURCE, VALID_SOURCE)
    # then authentication is required and nothing is written
    assert_unauthenticated(result)
    assert source_rows() == []


def test_the_analyst_variables_used_above_do_succeed(gql):
    # given the call the role tests make
    # when an analyst makes it
    result = gql(CREATE_SOURCE, VALID_SOURCE)
    # then it succeeds, so the refusals above are about the role alone
    assert result["data"]["createSource"]["errors"] == []
    assert source_rows() == [("NGO", "Hope Line", "US")]
