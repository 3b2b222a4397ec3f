"""Removal: only the program manager, with a reason; the record is hidden from everyone else."""

from __future__ import annotations

import pytest
from strawberry.relay import GlobalID

from backend import models as m
from tests.factories import IdentifierFactory, SightingFactory, SourceFactory, TipFactory

pytestmark = pytest.mark.django_db

REMOVE = """mutation($id: ID!, $reason: String!) {
  removeRecord(id: $id, reason: $reason) { removedId errors { code field message } } }"""
COUNT = "{ tips { totalCount edges { node { sourceReference } } } }"


@pytest.fixture
def tips():
    email = IdentifierFactory(raw_value="shared@example.com")
    keep, drop = TipFactory(source_reference="KEEP"), TipFactory(source_reference="DROP")
    SightingFactory(tip=keep, identifier=email)
    SightingFactory(tip=drop, identifier=email)
    return keep, drop, email


def tip_id(tip: m.Tip) -> str:
    return str(GlobalID("Tip", str(tip.pk)))


def test_program_manager_removes_with_reason_and_only_they_still_see_it(gql_as, tips):
    _, drop, email = tips
    manager, analyst = gql_as(m.Role.PROGRAM_MANAGER), gql_as(m.Role.ANALYST)
    # when the program manager removes a tip with a reason
    result = manager(REMOVE, {"id": tip_id(drop), "reason": "Duplicate of KEEP, entered twice"})
    assert result["data"]["removeRecord"] == {"removedId": tip_id(drop), "errors": []}
    drop.refresh_from_db()
    assert drop.removed_reason == "Duplicate of KEEP, entered twice"
    assert drop.removed_by.role == m.Role.PROGRAM_MANAGER
    # then analysts no longer see it in lists, counts, node fetches or nested relations
    listed = analyst(COUNT)["data"]["tips"]
    assert listed["totalCount"] == 1
    assert [e["node"]["sourceReference"] for e in listed["edges"]] == ["KEEP"]
    node = analyst("query($id: ID!) { node(id: $id) { id } }", {"id": tip_id(drop)})
    assert node["data"]["node"] is None
    nested = analyst(
        "query($id: ID!) { node(id: $id) { ... on Identifier { sightings { totalCount } } } }",
        {"id": str(GlobalID("Identifier", str(email.pk)))},
    )
    assert nested["data"]["node"]["sightings"]["totalCount"] == 1
    # and the program manager still does
    assert manager(COUNT)["data"]["tips"]["totalCount"] == 2


def test_removal_needs_a_reason(gql_as, tips):
    _, drop, _ = tips
    result = gql_as(m.Role.PROGRAM_MANAGER)(REMOVE, {"id": tip_id(drop), "reason": "  "})
    assert result["data"]["removeRecord"]["errors"][0]["code"] == "INVALID_INPUT"
    assert result["data"]["removeRecord"]["errors"][0]["field"] == "reason"
    drop.refresh_from_db()
    assert drop.removed_at is None


def test_removing_twice_is_refused(gql_as, tips):
    _, drop, _ = tips
    manager = gql_as(m.Role.PROGRAM_MANAGER)
    manager(REMOVE, {"id": tip_id(drop), "reason": "first"})
    again = manager(REMOVE, {"id": tip_id(drop), "reason": "second"})
    assert again["data"]["removeRecord"]["errors"][0]["code"] == "INVALID_INPUT"
    drop.refresh_from_db()
    assert drop.removed_reason == "first"


def test_only_graph_records_can_be_removed(gql_as):
    source = SourceFactory()
    result = gql_as(m.Role.PROGRAM_MANAGER)(
        REMOVE, {"id": str(GlobalID("Source", str(source.pk))), "reason": "x"}
    )
    assert result["data"]["removeRecord"]["errors"][0]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("role", [m.Role.ANALYST, m.Role.INVESTIGATOR, m.Role.SYSTEM_ADMINISTRATOR])
def test_other_roles_cannot_remove(gql_as, tips, role):
    _, drop, _ = tips
    result = gql_as(role)(REMOVE, {"id": tip_id(drop), "reason": "x"})
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    drop.refresh_from_db()
    assert drop.removed_at is None


def test_removed_records_are_not_found_by_lookups(gql_as, tips):
    _, drop, _ = tips
    gql_as(m.Role.PROGRAM_MANAGER)(REMOVE, {"id": tip_id(drop), "reason": "wrong"})
    found = gql_as(m.Role.INVESTIGATOR)(
        '{ travellerLookup(input: {email: "shared@example.com"}) { tips { sourceReference } } }'
    )
    assert found["data"]["travellerLookup"]["tips"] == [{"sourceReference": "KEEP"}]
