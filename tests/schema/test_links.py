"""GraphQL: clusters, Tip.cluster, manual links, link removal and the link exclusion list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.models import Cluster, LinkExclusion, Role, TipLink
from backend.services.tips import SightingSpec
from tests.factories import service_tip
from tests.schema.mutation_helpers import (
    ERRORS,
    NON_WRITER_ROLES,
    assert_forbidden,
    gid,
    single_error,
)

pytestmark = pytest.mark.django_db

RECEIVED = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)

ADD_LINK = f"""mutation($input: AddTipLinkInput!) {{ addTipLink(input: $input) {{
    link {{ kind reason tip {{ sourceReference }} }} {ERRORS} }} }}"""
REMOVE_LINK = f"""mutation($input: RemoveTipLinkInput!) {{ removeTipLink(input: $input) {{
    link {{ kind reason }} {ERRORS} }} }}"""
ADD_EXCLUSION = f"""mutation($input: AddLinkExclusionInput!) {{ addLinkExclusion(input: $input) {{
    linkExclusion {{ id kind value qualifier reason }} {ERRORS} }} }}"""
REMOVE_EXCLUSION = f"""mutation($id: ID!) {{ removeLinkExclusion(id: $id) {{
    removedId {ERRORS} }} }}"""
CLUSTERS = """{ clusters(first: 50) { totalCount edges { node {
    size tips(first: 5) { edges { node { sourceReference cluster { size } } } }
} } } }"""


def _tip(reference: str, *emails: str):
    return service_tip(reference, identifiers=[SightingSpec(kind="EMAIL", value=e) for e in emails])


def test_clusters_lists_largest_first_with_their_tips(gql):
    # given a cluster of two and a cluster of one
    _tip("A", "ab@example.com")
    _tip("B", "ab@example.com")
    _tip("C", "c@example.com")
    # when an analyst lists clusters
    result = gql(CLUSTERS)
    # then they come largest first, with their tips
    assert "errors" not in result, result
    edges = result["data"]["clusters"]["edges"]
    assert [e["node"]["size"] for e in edges] == [2, 1]
    assert sorted(t["node"]["sourceReference"] for t in edges[0]["node"]["tips"]["edges"]) == [
        "A",
        "B",
    ]
    assert {t["node"]["cluster"]["size"] for t in edges[0]["node"]["tips"]["edges"]} == {2}


def test_clusters_can_be_ordered_smallest_first(gql):
    _tip("A", "ab@example.com")
    _tip("B", "ab@example.com")
    _tip("C", "c@example.com")
    result = gql("{ clusters(ordering: [{size: ASC}]) { edges { node { size } } } }")
    assert "errors" not in result, result
    assert [e["node"]["size"] for e in result["data"]["clusters"]["edges"]] == [1, 2]


def _count_queries(gql) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        result = gql(CLUSTERS)
    assert "errors" not in result, result
    return len(queries), result


def test_clusters_query_count_is_constant(gql):
    # given 2 clusters of two tips each
    def grow(start: int, stop: int) -> None:
        for n in range(start, stop):
            _tip(f"A{n}", f"pair{n}@example.com")
            _tip(f"B{n}", f"pair{n}@example.com")

    grow(0, 2)
    # when clusters and their tips are listed, then again with 20 clusters
    few, result = _count_queries(gql)
    assert result["data"]["clusters"]["totalCount"] == 2
    grow(2, 20)
    many, result = _count_queries(gql)
    # then all came back, in the same number of SQL queries
    assert result["data"]["clusters"]["totalCount"] == 20
    assert all(len(e["node"]["tips"]["edges"]) == 2 for e in result["data"]["clusters"]["edges"])
    # (10 whatever the number of clusters: the session and its user, the request's transaction
    # (a savepoint here, inside the test's own transaction), the audit context, the gate's
    # lockout count, three statements for the clusters and their tips, and the audit row)
    assert few == many == 10


def test_add_and_remove_a_manual_link(gql):
    # given two unrelated tips
    a, b = _tip("A"), _tip("B")
    # when an analyst links them by hand
    result = gql(
        ADD_LINK,
        {"input": {"fromTipId": gid("Tip", a.pk), "toTipId": gid("Tip", b.pk), "reason": "same"}},
    )
    # then the link is returned and the tips are one cluster
    assert result["data"]["addTipLink"] == {
        "link": {"kind": "MANUAL", "reason": "same", "tip": {"sourceReference": "B"}},
        "errors": [],
    }
    assert list(Cluster.objects.values_list("size", flat=True)) == [2]
    # when the link is removed with a reason
    link = TipLink.objects.get(from_tip=a, to_tip=b)
    result = gql(REMOVE_LINK, {"input": {"linkId": gid("TipLink", link.pk), "reason": "wrong"}})
    # then both directions are removed and the cluster is split
    assert result["data"]["removeTipLink"] == {
        "link": {"kind": "MANUAL", "reason": "same"},
        "errors": [],
    }
    assert set(TipLink.objects.values_list("removed_reason", flat=True)) == {"wrong"}
    assert sorted(Cluster.objects.values_list("size", flat=True)) == [1, 1]
    # and the removed link is hidden from analysts: removing it again finds nothing
    result = gql(REMOVE_LINK, {"input": {"linkId": gid("TipLink", link.pk), "reason": "again"}})
    error = single_error(result, "removeTipLink", "link")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "linkId")


def test_a_link_added_from_the_later_tip_shows_the_other_tip_from_both(gql):
    # given two unrelated tips, A recorded before B
    a, b = _tip("A"), _tip("B")
    # when an analyst links them from B
    result = gql(
        ADD_LINK,
        {"input": {"fromTipId": gid("Tip", b.pk), "toTipId": gid("Tip", a.pk), "reason": "same"}},
    )
    # then the returned link shows A, the tip it was made to
    assert result["data"]["addTipLink"]["link"]["tip"] == {"sourceReference": "A"}
    # and each tip's links show the other one, through the one stored row
    query = """query($id: ID!) { node(id: $id) { ... on Tip {
        links { totalCount edges { node { id kind tip { sourceReference } } } } } } }"""
    seen = {}
    for tip, other in ((a, "B"), (b, "A")):
        links = gql(query, {"id": gid("Tip", tip.pk)})["data"]["node"]["links"]
        assert links["totalCount"] == 1
        node = links["edges"][0]["node"]
        assert (node["kind"], node["tip"]["sourceReference"]) == ("MANUAL", other)
        seen[tip.pk] = node["id"]
    assert seen[a.pk] == seen[b.pk] == gid("TipLink", TipLink.objects.get().pk)


def test_removed_links_are_hidden_from_analysts_but_not_program_managers(gql_as):
    a = _tip("A", "x@example.com")
    _tip("B", "x@example.com")
    link = TipLink.objects.get(from_tip=a)
    TipLink.objects.update(removed_at=RECEIVED, removed_reason="wrong")
    query = "query($id: ID!) { node(id: $id) { ... on Tip { links { totalCount } } } }"
    variables = {"id": gid("Tip", a.pk)}
    assert gql_as(Role.ANALYST)(query, variables)["data"]["node"]["links"]["totalCount"] == 0
    pm = gql_as(Role.PROGRAM_MANAGER)(query, variables)
    assert pm["data"]["node"]["links"]["totalCount"] == 1, link


@pytest.mark.parametrize(
    ("case", "code", "message", "field"),
    [
        ("no_reason", "INVALID_INPUT", "a reason is required", "reason"),
        ("same_tip", "INVALID_INPUT", "a tip cannot be linked to itself", "toTipId"),
        ("unknown", "NOT_FOUND", "no Tip with id", "toTipId"),
    ],
)
def test_add_tip_link_errors(gql, case, code, message, field):
    a, b = _tip("A"), _tip("B")
    to = {"same_tip": a.pk, "unknown": 999_999}.get(case, b.pk)
    reason = "" if case == "no_reason" else "why"
    result = gql(
        ADD_LINK,
        {"input": {"fromTipId": gid("Tip", a.pk), "toTipId": gid("Tip", to), "reason": reason}},
    )
    error = single_error(result, "addTipLink", "link")
    assert (error["code"], error["field"]) == (code, field)
    assert message in error["message"]
    assert TipLink.objects.count() == 0


def test_remove_tip_link_errors(gql):
    a = _tip("A", "x@example.com")
    _tip("B", "x@example.com")
    link = TipLink.objects.get(from_tip=a)
    missing = gql(REMOVE_LINK, {"input": {"linkId": gid("TipLink", link.pk), "reason": " "}})
    error = single_error(missing, "removeTipLink", "link")
    assert error == {"code": "INVALID_INPUT", "message": "a reason is required", "field": "reason"}
    unknown = gql(REMOVE_LINK, {"input": {"linkId": gid("TipLink", 999_999), "reason": "x"}})
    error = single_error(unknown, "removeTipLink", "link")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "linkId")
    assert TipLink.objects.filter(removed_at__isnull=True).count() == 1


def test_add_list_and_remove_a_link_exclusion(gql):
    # when an analyst excludes a value (written loosely)
    result = gql(
        ADD_EXCLUSION,
        {"input": {"kind": "EMAIL", "value": " WiFi@Example.com", "reason": "hotel Wi-Fi login"}},
    )
    # then it is stored normalised
    exclusion = LinkExclusion.objects.get()
    assert result["data"]["addLinkExclusion"] == {
        "linkExclusion": {
            "id": gid("LinkExclusion", exclusion.pk),
            "kind": "EMAIL",
            "value": "wifi@example.com",
            "qualifier": "",
            "reason": "hotel Wi-Fi login",
        },
        "errors": [],
    }
    # and listed
    listed = gql("{ linkExclusions { edges { node { value reason } } } }")
    assert listed["data"]["linkExclusions"]["edges"] == [
        {"node": {"value": "wifi@example.com", "reason": "hotel Wi-Fi login"}}
    ]
    # and tips carrying it are not linked
    _tip("A", "wifi@example.com")
    _tip("B", "wifi@example.com")
    assert TipLink.objects.count() == 0
    # when it is removed, then the tips sharing it are linked
    result = gql(REMOVE_EXCLUSION, {"id": gid("LinkExclusion", exclusion.pk)})
    assert result["data"]["removeLinkExclusion"] == {
        "removedId": gid("LinkExclusion", exclusion.pk),
        "errors": [],
    }
    assert LinkExclusion.objects.count() == 0
    assert TipLink.objects.count() == 1


@pytest.mark.parametrize(
    ("value", "reason", "code", "field"),
    [
        ("x@example.com", "", "INVALID_INPUT", "reason"),
        ("not an address", "why", "INVALID_IDENTIFIER", "value"),
    ],
)
def test_add_link_exclusion_errors(gql, value, reason, code, field):
    result = gql(ADD_EXCLUSION, {"input": {"kind": "EMAIL", "value": value, "reason": reason}})
    error = single_error(result, "addLinkExclusion", "linkExclusion")
    assert (error["code"], error["field"]) == (code, field)
    assert LinkExclusion.objects.count() == 0


def test_add_link_exclusion_twice_is_a_duplicate(gql):
    variables = {"input": {"kind": "EMAIL", "value": "x@example.com", "reason": "why"}}
    gql(ADD_EXCLUSION, variables)
    error = single_error(gql(ADD_EXCLUSION, variables), "addLinkExclusion", "linkExclusion")
    assert (error["code"], error["field"]) == ("DUPLICATE", "value")


def test_remove_unknown_link_exclusion(gql):
    result = gql(REMOVE_EXCLUSION, {"id": gid("LinkExclusion", 999_999)})
    assert result["data"]["removeLinkExclusion"]["removedId"] is None
    assert [e["code"] for e in result["data"]["removeLinkExclusion"]["errors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_non_analysts_may_not_change_links(gql_as, role):
    a, b = _tip("A"), _tip("B")
    gql = gql_as(role)
    link_input = {"fromTipId": gid("Tip", a.pk), "toTipId": gid("Tip", b.pk), "reason": "x"}
    assert_forbidden(gql(ADD_LINK, {"input": link_input}), "addTipLink")
    assert_forbidden(
        gql(REMOVE_LINK, {"input": {"linkId": gid("TipLink", 1), "reason": "x"}}), "removeTipLink"
    )
    exclusion = {"kind": "EMAIL", "value": "x@example.com", "reason": "x"}
    assert_forbidden(gql(ADD_EXCLUSION, {"input": exclusion}), "addLinkExclusion")
    assert_forbidden(gql(REMOVE_EXCLUSION, {"id": gid("LinkExclusion", 1)}), "removeLinkExclusion")
    assert TipLink.objects.count() == 0
    assert LinkExclusion.objects.count() == 0


@pytest.mark.parametrize(
    "role", [Role.INVESTIGATOR, Role.AUDITOR, Role.SYSTEM_ADMINISTRATOR, Role.REPORTING_CLIENT]
)
def test_only_the_owning_agency_lists_clusters(gql_as, role):
    _tip("A")
    result = gql_as(role)("{ clusters { edges { node { size } } } }")
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]


def test_investigators_are_refused_tip_cluster(gql_as):
    tip = _tip("A")
    result = gql_as(Role.INVESTIGATOR)(
        "query($id: ID!) { node(id: $id) { ... on Tip { cluster { size } } } }",
        {"id": gid("Tip", tip.pk)},
    )
    # the tip itself was never disclosed to this investigator: nothing is returned
    assert result["data"] == {"node": None}
