"""The role x operation x field matrix: every root field and every need-to-know field is
allowed or refused for every role exactly as permissions/matrix.py says, and a field with no
rule there fails this test."""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_composite_type,
)
from graphql.pyutils import Undefined
from strawberry.relay import GlobalID

from backend import models as m
from permissions.matrix import NEED_TO_KNOW, OPERATIONS
from schema import schema
from tests.conftest import register_document
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SubjectFactory,
    TipSubjectFactory,
    UserFactory,
)
from tests.websocket import error_codes, first_answer

GRAPHQL = schema._schema
SCALARS = {
    "ID": '"VGlwOjA="',
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "false",
    "Date": '"2000-01-01"',
    "DateTime": '"2000-01-01T00:00:00Z"',
    "GlobalID": '"VGlwOjA="',
    "Upload": '"not a file"',
}


def literal(type_) -> str:
    """A well-formed literal for a GraphQL input type: required parts only."""
    if isinstance(type_, GraphQLNonNull):
        return literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return "[]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        parts = [
            f"{name}: {literal(field.type)}"
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        ]
        return "{" + ", ".join(parts) + "}"
    assert isinstance(type_, GraphQLScalarType), type_
    return SCALARS[type_.name]


def operation(kind: str, name: str) -> str:
    root = GRAPHQL.query_type if kind == "Query" else GRAPHQL.mutation_type
    field: GraphQLField = root.fields[name]
    args = [
        f"{arg}: {literal(spec.type)}"
        for arg, spec in field.args.items()
        if isinstance(spec.type, GraphQLNonNull)
    ]
    call = f"{name}({', '.join(args)})" if args else name
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{'mutation' if kind == 'Mutation' else 'query'} {{ {call}{selection} }}"


ROOTS = (
    ("Query", GRAPHQL.query_type),
    ("Mutation", GRAPHQL.mutation_type),
    ("Subscription", GRAPHQL.subscription_type),
)
#: Subscription fields run on the WebSocket only (schema.subscriptions).
SUBSCRIPTIONS = sorted(key for key in OPERATIONS if key.startswith("Subscription."))


def root_fields() -> list[str]:
    return [f"{kind}.{name}" for kind, root in ROOTS if root is not None for name in root.fields]


def test_every_root_field_has_a_rule_and_every_rule_a_field():
    fields = set(root_fields())
    assert fields - set(OPERATIONS) == set(), "fields with no rule in permissions/matrix.py"
    assert set(OPERATIONS) - fields == set(), "rules for fields that do not exist"


def test_every_need_to_know_field_exists():
    for key in NEED_TO_KNOW:
        type_name, field = key.split(".")
        assert field in GRAPHQL.get_type(type_name).fields, key


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(m.Role))
@pytest.mark.parametrize("key", sorted(set(OPERATIONS) - set(SUBSCRIPTIONS)))
def test_role_may_call_exactly_what_the_matrix_says(gql_as, role, key):
    # given a caller of that role
    gql = gql_as(role)
    kind, name = key.split(".")
    # when it calls the field with well-formed arguments
    result = gql(operation(kind, name))
    codes = [e.get("extensions", {}).get("code") for e in result.get("errors", [])]
    # then it is refused with FORBIDDEN exactly when the matrix says so
    if role in OPERATIONS[key]:
        assert "FORBIDDEN" not in codes, (key, role, result)
    else:
        assert codes and codes[0] == "FORBIDDEN", (key, role, result)
        assert not any((result.get("data") or {}).values())


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(NEED_TO_KNOW))
@pytest.mark.parametrize("role", [m.Role.ANALYST, m.Role.PROGRAM_MANAGER, m.Role.INVESTIGATOR])
def test_need_to_know_fields_per_role(gql_as, role, key):
    # given one tip, subject and identifier, disclosed to the caller by a lookup
    email = IdentifierFactory(raw_value="matrix@example.com")
    subject = SubjectFactory()
    subject.identifier_links.create(identifier=email)
    sighting = SightingFactory(identifier=email)
    TipSubjectFactory(tip=sighting.tip, subject=subject)
    gql = gql_as(role)
    found = gql('{ travellerLookup(input: {email: "matrix@example.com"}) { tips { id } } }')
    if role != m.Role.PROGRAM_MANAGER:
        assert found["data"]["travellerLookup"]["tips"], found
    records = {"Tip": sighting.tip, "Subject": subject, "Identifier": email}
    type_name, field = key.split(".")
    target = GRAPHQL.get_type(type_name).fields[field]
    selection = " { __typename }" if is_composite_type(get_named_type(target.type)) else ""
    # when it reads the field
    result = gql(
        f'{{ node(id: "{GlobalID(type_name, str(records[type_name].pk))}") '
        f"{{ ... on {type_name} {{ id {field}{selection} }} }} }}"
    )
    codes = [e["extensions"]["code"] for e in result.get("errors", [])]
    # then investigators are refused that field alone; the owning agency reads it
    assert result["data"]["node"] is not None, result
    if role == m.Role.INVESTIGATOR:
        assert codes == ["NEED_TO_KNOW"]
        assert result["data"]["node"][field] is None
    else:
        assert codes == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", list(m.Role))
@pytest.mark.parametrize("key", SUBSCRIPTIONS)
def test_role_may_subscribe_exactly_as_the_matrix_says(role, key):
    # given an account of that role (its document registered, for a partner tool)
    user = UserFactory(role=role)
    name = key.split(".")[1]
    document = f"subscription {{ {name} {{ __typename }} }}"
    register_document(document)
    # when it subscribes over the WebSocket
    answer = first_answer(user, document)
    # then it is refused with FORBIDDEN exactly when the matrix says so, else left waiting
    if role in OPERATIONS[key]:
        assert answer is None, (key, role, answer)
    else:
        assert error_codes(answer) == ["FORBIDDEN"], (key, role, answer)
