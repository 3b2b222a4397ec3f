"""Identifier mutations through /graphql (createIdentifier, updateIdentifier) and the
identifierByValue lookup."""

from __future__ import annotations

from typing import Any

import pytest

from backend import models as m
from backend.models import Role
from tests.factories import IdentifierFactory
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

IDENTIFIER_FIELDS = "id kind qualifier value canonical rawValue firstSeen lastSeen"

CREATE_IDENTIFIER = f"""
mutation CreateIdentifier($input: IdentifierInput!) {{
  createIdentifier(input: $input) {{ identifier {{ {IDENTIFIER_FIELDS} }} created {ERRORS} }}
}}"""

UPDATE_IDENTIFIER = f"""
mutation UpdateIdentifier($id: ID!, $input: IdentifierInput!) {{
  updateIdentifier(id: $id, input: $input) {{
    identifier {{ {IDENTIFIER_FIELDS} }} created {ERRORS}
  }}
}}"""

IDENTIFIER_BY_VALUE = """
query IdentifierByValue($identifier: IdentifierInput!) {
  identifierByValue(identifier: $identifier) { id kind value rawValue }
}"""


def identifier_rows() -> list[tuple[Any, ...]]:
    return list(
        m.Identifier.objects.order_by("pk").values_list(
            "pk", "kind", "qualifier", "value", "canonical", "raw_value"
        )
    )


# --- createIdentifier --------------------------------------------------------------------------


def test_create_identifier_stores_the_normalised_value(gql):
    # given no identifiers
    # when a Gmail address is recorded as received
    result = gql(CREATE_IDENTIFIER, {"input": {"kind": "EMAIL", "value": " John.Doe+x@GMail.com "}})
    # then it is new, normalised, with its provider-aware canonical form
    assert "errors" not in result, result
    payload = result["data"]["createIdentifier"]
    assert payload["errors"] == []
    assert payload["created"] is True
    row = m.Identifier.objects.get()
    assert payload["identifier"] == {
        "id": gid("Identifier", row.pk),
        "kind": "EMAIL",
        "qualifier": "",
        "value": "john.doe+x@gmail.com",
        "canonical": "johndoe@gmail.com",
        "rawValue": "John.Doe+x@GMail.com",
        "firstSeen": None,
        "lastSeen": None,
    }
    assert identifier_rows() == [
        (row.pk, "EMAIL", "", "john.doe+x@gmail.com", "johndoe@gmail.com", "John.Doe+x@GMail.com")
    ]


def test_create_identifier_returns_the_existing_node_for_a_known_value(gql):
    # given an address on record
    known = IdentifierFactory(raw_value="person@example.com")
    before = identifier_rows()
    # when the same address arrives differently cased
    result = gql(CREATE_IDENTIFIER, {"input": {"kind": "EMAIL", "value": "Person@Example.COM"}})
    # then the existing node comes back, not a new one, and the first raw value is kept
    payload = result["data"]["createIdentifier"]
    assert payload["errors"] == []
    assert payload["created"] is False
    assert payload["identifier"]["id"] == gid("Identifier", known.pk)
    assert payload["identifier"]["rawValue"] == "person@example.com"
    assert identifier_rows() == before


def test_create_identifier_keeps_qualifiers_apart(gql):
    # given a username on one platform
    IdentifierFactory(kind="USERNAME", qualifier="instagram", raw_value="someuser")
    # when the same name on another platform is recorded
    result = gql(
        CREATE_IDENTIFIER,
        {"input": {"kind": "USERNAME", "value": "@SomeUser", "qualifier": "TikTok"}},
    )
    # then it is a separate identifier
    payload = result["data"]["createIdentifier"]
    assert payload["errors"] == []
    assert payload["created"] is True
    assert (payload["identifier"]["qualifier"], payload["identifier"]["value"]) == (
        "tiktok",
        "someuser",
    )
    assert sorted(m.Identifier.objects.values_list("qualifier", flat=True)) == [
        "instagram",
        "tiktok",
    ]


@pytest.mark.parametrize(
    ("identifier", "quoted"),
    [
        ({"kind": "EMAIL", "value": "no-at-sign"}, "'no-at-sign'"),
        ({"kind": "IP_ADDRESS", "value": "300.1.2.3"}, "'300.1.2.3'"),
        ({"kind": "FILE_HASH", "value": "abc", "qualifier": "sha256"}, "'abc'"),
        ({"kind": "PHONE", "value": "call me"}, "'call me'"),
    ],
    ids=["email", "ip", "short-hash", "phone"],
)
def test_create_identifier_refuses_a_malformed_value(gql, identifier, quoted):
    # given no identifiers
    # when a malformed value is recorded
    result = gql(CREATE_IDENTIFIER, {"input": identifier})
    # then it is an invalid identifier quoting the value, and nothing was created
    error = single_error(result, "createIdentifier", "identifier")
    assert error["code"] == "INVALID_IDENTIFIER"
    assert error["field"] == "value"
    assert quoted in error["message"]
    assert result["data"]["createIdentifier"]["created"] is False
    assert m.Identifier.objects.count() == 0


def test_create_identifier_of_an_unknown_kind_is_a_validation_error(gql):
    # given no identifiers
    # when the kind is not an IdentifierKind
    result = gql(CREATE_IDENTIFIER, {"input": {"kind": "SOCIAL_SECURITY", "value": "1"}})
    # then GraphQL refuses it
    assert result.get("data") is None
    assert "SOCIAL_SECURITY" in result["errors"][0]["message"]
    assert m.Identifier.objects.count() == 0


# --- updateIdentifier --------------------------------------------------------------------------


def test_update_identifier_corrects_the_value(gql):
    # given a mistyped address
    identifier = IdentifierFactory(raw_value="persn@example.com")
    # when it is corrected
    result = gql(
        UPDATE_IDENTIFIER,
        {
            "id": gid("Identifier", identifier.pk),
            "input": {"kind": "EMAIL", "value": "Person@Example.com"},
        },
    )
    # then the same node carries the corrected, normalised value
    payload = result["data"]["updateIdentifier"]
    assert payload["errors"] == []
    assert payload["created"] is False
    assert payload["identifier"]["id"] == gid("Identifier", identifier.pk)
    assert payload["identifier"]["value"] == "person@example.com"
    assert identifier_rows() == [
        (
            identifier.pk,
            "EMAIL",
            "",
            "person@example.com",
            "person@example.com",
            "Person@Example.com",
        )
    ]


def test_update_identifier_to_its_own_value_is_allowed(gql):
    # given an address
    identifier = IdentifierFactory(raw_value="person@example.com")
    # when it is "corrected" to the same value, differently cased
    result = gql(
        UPDATE_IDENTIFIER,
        {
            "id": gid("Identifier", identifier.pk),
            "input": {"kind": "EMAIL", "value": "PERSON@example.com"},
        },
    )
    # then it is not a duplicate of itself
    assert result["data"]["updateIdentifier"]["errors"] == []
    identifier.refresh_from_db()
    assert (identifier.value, identifier.raw_value) == ("person@example.com", "PERSON@example.com")


def test_update_identifier_refuses_to_duplicate_another(gql):
    # given two addresses
    identifier = IdentifierFactory(raw_value="a@example.com")
    IdentifierFactory(raw_value="b@example.com")
    before = identifier_rows()
    # when the first is corrected to the second's value
    result = gql(
        UPDATE_IDENTIFIER,
        {
            "id": gid("Identifier", identifier.pk),
            "input": {"kind": "EMAIL", "value": "B@example.com"},
        },
    )
    # then it is a duplicate, naming the value, and nothing changed
    error = single_error(result, "updateIdentifier", "identifier")
    assert error == {
        "code": "DUPLICATE",
        "message": "e-mail address 'b@example.com' already exists as another identifier",
        "field": "value",
    }
    assert identifier_rows() == before


def test_update_identifier_refuses_a_malformed_value(gql):
    # given an address
    identifier = IdentifierFactory(raw_value="a@example.com")
    before = identifier_rows()
    # when it is "corrected" to a malformed one
    result = gql(
        UPDATE_IDENTIFIER,
        {"id": gid("Identifier", identifier.pk), "input": {"kind": "EMAIL", "value": "a@@b"}},
    )
    # then it is an invalid identifier and nothing changed
    error = single_error(result, "updateIdentifier", "identifier")
    assert error["code"] == "INVALID_IDENTIFIER"
    assert error["field"] == "value"
    assert "'a@@b'" in error["message"]
    assert identifier_rows() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_update_identifier_with_a_bad_id_is_not_found(gql, how):
    # given an address and an id that is not a known Identifier
    IdentifierFactory(raw_value="a@example.com")
    identifier_id, message = bad_id(how, "Identifier")
    before = identifier_rows()
    # when it is updated
    result = gql(
        UPDATE_IDENTIFIER,
        {"id": identifier_id, "input": {"kind": "EMAIL", "value": "new@example.com"}},
    )
    # then it is not found and nothing changed
    error = single_error(result, "updateIdentifier", "identifier")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "id"
    assert message in error["message"]
    assert identifier_rows() == before


# --- identifierByValue -------------------------------------------------------------------------


def test_identifier_by_value_finds_the_normalised_value(gql):
    # given an address stored in normal form
    stored = IdentifierFactory(raw_value="person@example.com")
    assert stored.value == "person@example.com"
    # when it is looked up as a traveller wrote it
    result = gql(
        IDENTIFIER_BY_VALUE, {"identifier": {"kind": "EMAIL", "value": "Person@Example.COM"}}
    )
    # then the stored node is found
    assert result == {
        "data": {
            "identifierByValue": {
                "id": gid("Identifier", stored.pk),
                "kind": "EMAIL",
                "value": "person@example.com",
                "rawValue": "person@example.com",
            }
        }
    }


def test_identifier_by_value_is_null_for_an_unknown_value(gql):
    # given a different address on record
    IdentifierFactory(raw_value="someone@example.com")
    # when an unknown address is looked up
    result = gql(IDENTIFIER_BY_VALUE, {"identifier": {"kind": "EMAIL", "value": "x@example.com"}})
    # then nothing is found, without error
    assert result == {"data": {"identifierByValue": None}}


def test_identifier_by_value_with_a_malformed_value_is_an_invalid_identifier(gql):
    # given nothing
    # when a malformed address is looked up
    result = gql(IDENTIFIER_BY_VALUE, {"identifier": {"kind": "EMAIL", "value": "not an email"}})
    # then the query fails with INVALID_IDENTIFIER, quoting the value
    assert result["data"] == {"identifierByValue": None}
    assert len(result["errors"]) == 1
    assert result["errors"][0]["extensions"]["code"] == "INVALID_IDENTIFIER"
    assert result["errors"][0]["path"] == ["identifierByValue"]
    assert "'not an email'" in result["errors"][0]["message"]


def test_identifier_by_value_is_not_for_roles_that_cannot_read(gql_as):
    # given an address on record
    IdentifierFactory(raw_value="person@example.com")
    # when an auditor looks it up
    result = gql_as(Role.AUDITOR)(
        IDENTIFIER_BY_VALUE, {"identifier": {"kind": "EMAIL", "value": "person@example.com"}}
    )
    # then it is forbidden and nothing is returned
    assert result["data"] == {"identifierByValue": None}
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]


# --- who may call ------------------------------------------------------------------------------

MUTATIONS = ["createIdentifier", "updateIdentifier"]


def identifier_mutation_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every identifier mutation with variables that would succeed for an analyst."""
    existing = IdentifierFactory(raw_value="old@example.com")
    return {
        "createIdentifier": (
            CREATE_IDENTIFIER,
            {"input": {"kind": "EMAIL", "value": "new@example.com"}},
        ),
        "updateIdentifier": (
            UPDATE_IDENTIFIER,
            {
                "id": gid("Identifier", existing.pk),
                "input": {"kind": "EMAIL", "value": "fixed@example.com"},
            },
        ),
    }


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_other_roles_may_not_call_identifier_mutations(gql_as, role, mutation):
    # given a caller whose role does not write records
    # when it calls the mutation: nothing is written
    result = refused_without_writes(
        gql_as(role), identifier_mutation_calls, mutation, identifier_rows
    )
    # then it is forbidden
    assert_forbidden(result, mutation)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_anonymous_callers_may_not_call_identifier_mutations(anonymous_gql, mutation):
    # given no session
    # when the mutation is called: nothing is written
    result = refused_without_writes(
        anonymous_gql, identifier_mutation_calls, mutation, identifier_rows
    )
    # then authentication is required
    assert_unauthenticated(result)


def test_anonymous_callers_may_not_look_identifiers_up(anonymous_gql):
    # given no session
    # when an identifier is looked up
    result = anonymous_gql(
        IDENTIFIER_BY_VALUE, {"identifier": {"kind": "EMAIL", "value": "a@example.com"}}
    )
    # then authentication is required
    assert_unauthenticated(result)


def test_the_analyst_variables_used_above_do_succeed(gql):
    # given the calls the role tests make, when an analyst makes each of them, then every one
    # succeeds, so the refusals above are about the role alone
    assert_analyst_calls_succeed(gql, identifier_mutation_calls)
