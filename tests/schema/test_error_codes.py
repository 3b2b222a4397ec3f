"""Every error a client can cause has a stable extensions.code, and the audit row keeps it."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.conftest import GraphQL

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("query ($id: ID!) { node(id: $id) { id } }", {"id": "not-base64!!"}, "INVALID_ID"),
        ('{ node(id: "bm90LWEtZ2xvYmFsLWlk") { id } }', None, "INVALID_ID"),  # no "Type:"
        ("{ nodez { id } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ('{ tips(first: "x") { totalCount } }', None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ node(", None, "GRAPHQL_PARSE_FAILED"),
    ],
)
def test_client_errors_carry_a_code(gql: GraphQL, query: str, variables, code: str) -> None:
    result = gql(query, variables)
    assert [e["extensions"]["code"] for e in result["errors"]] == [code]
    row = AuditEvent.objects.filter(kind="OPERATION").latest("seq")
    assert row.error_codes == [code]


def test_codes_set_by_the_api_are_kept(gql: GraphQL) -> None:
    result = gql('{ tipStatistics(timeZone: "Nowhere/Atlantis") { total } }')
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "timeZone"}


def test_a_well_formed_unknown_id_is_null_without_error(gql: GraphQL) -> None:
    from strawberry import relay

    result = gql("query ($id: ID!) { node(id: $id) { id } }", {"id": relay.to_base64("Tip", 0)})
    assert result == {"data": {"node": None}}
