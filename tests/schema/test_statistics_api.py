"""The statistics API: who may ask, suppression for reporting clients, no personal field
reachable, typed errors, CSV (field and download), one audit row, constant query count."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import GraphQLObjectType, GraphQLScalarType, get_named_type
from strawberry import relay

from audit.models import AuditEvent
from backend import models as m
from permissions.matrix import OPERATIONS, STATISTICS
from schema import schema
from schema.statistics import STATISTICS_FIELDS
from tests.conftest import GraphQL
from tests.factories import SourceFactory, TipFactory, UserFactory

pytestmark = pytest.mark.django_db

BY_CATEGORY = """query ($tz: String!) {
  tipStatistics(by: CATEGORY, interval: MONTH, timeZone: $tz) {
    rows { period group count suppressed } total suppressionThreshold suppressedRows csv
  }
}"""
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def tips() -> list[m.Tip]:
    """25 distribution tips, 12 possession, 4 production and 1 enticement this month."""
    source = SourceFactory()
    made = []
    for category, n in (("DISTRIBUTION", 25), ("POSSESSION", 12), ("PRODUCTION", 4)):
        made += TipFactory.create_batch(n, source=source, category=category, received_at=NOW)
    made.append(TipFactory(source=source, category="ENTICEMENT", received_at=NOW))
    return made


def counts(result: dict) -> dict[str | None, int | None]:
    return {r["group"]: r["count"] for r in result["data"]["tipStatistics"]["rows"]}


# -- who may ask --------------------------------------------------------------------------


def test_statistics_roles_are_analysts_program_managers_and_reporting_clients() -> None:
    fields = {f"Query.{name}" for name in STATISTICS_FIELDS}
    assert {key for key, roles in OPERATIONS.items() if roles == STATISTICS} == fields
    assert {m.Role.ANALYST, m.Role.PROGRAM_MANAGER, m.Role.REPORTING_CLIENT} == STATISTICS


def test_analyst_gets_exact_figures(gql: GraphQL, tips: list[m.Tip]) -> None:
    result = gql(BY_CATEGORY, {"tz": "UTC"})
    assert "errors" not in result
    assert counts(result) == dict(Counter(t.category for t in tips))
    assert result["data"]["tipStatistics"]["suppressionThreshold"] == 0


@pytest.mark.parametrize("role", [m.Role.INVESTIGATOR, m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR])
def test_other_roles_are_refused(gql_as: Callable[[str], GraphQL], role: str, tips) -> None:
    result = gql_as(role)(BY_CATEGORY, {"tz": "UTC"})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_anonymous_is_refused(anonymous_gql: GraphQL) -> None:
    result = anonymous_gql(BY_CATEGORY, {"tz": "UTC"})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- suppression for reporting clients (the scoped case) ----------------------------------


def test_reporting_client_sees_small_groups_suppressed(
    gql_as: Callable[[str], GraphQL], tips: list[m.Tip], settings
) -> None:
    settings.STATS_MIN_GROUP_SIZE = 5
    # when
    result = gql_as(m.Role.REPORTING_CLIENT)(BY_CATEGORY, {"tz": "UTC"})
    # then PRODUCTION (4) and ENTICEMENT (1) are hidden; their sum (5) reaches the threshold,
    # so the total minus the visible groups gives back no group smaller than 5
    table = result["data"]["tipStatistics"]
    assert counts(result) == {
        "DISTRIBUTION": 25,
        "POSSESSION": 12,
        "PRODUCTION": None,
        "ENTICEMENT": None,
    }
    assert table["suppressionThreshold"] == 5
    assert table["suppressedRows"] == 2
    assert table["total"] == 42
    assert {r["group"] for r in table["rows"] if r["suppressed"]} == {"PRODUCTION", "ENTICEMENT"}


def test_reporting_client_threshold_is_configurable(
    gql_as: Callable[[str], GraphQL], tips: list[m.Tip], settings
) -> None:
    settings.STATS_MIN_GROUP_SIZE = 13
    result = gql_as(m.Role.REPORTING_CLIENT)(BY_CATEGORY, {"tz": "UTC"})
    # POSSESSION (12) is now small too, and hidden with the others
    assert counts(result) == {
        "DISTRIBUTION": 25,
        "POSSESSION": None,
        "PRODUCTION": None,
        "ENTICEMENT": None,
    }


def test_reporting_client_with_a_lone_small_group_gets_a_second_one_hidden(
    gql_as: Callable[[str], GraphQL], settings
) -> None:
    source = SourceFactory()
    TipFactory.create_batch(20, source=source, category="DISTRIBUTION", received_at=NOW)
    TipFactory.create_batch(15, source=source, category="POSSESSION", received_at=NOW)
    TipFactory.create_batch(2, source=source, category="OTHER", received_at=NOW)
    settings.STATS_MIN_GROUP_SIZE = 5
    result = gql_as(m.Role.REPORTING_CLIENT)(BY_CATEGORY, {"tz": "UTC"})
    # OTHER (2) alone would be total - 20 - 15: POSSESSION goes with it
    assert counts(result) == {"DISTRIBUTION": 20, "POSSESSION": None, "OTHER": None}


def test_reporting_client_is_refused_every_personal_field(
    gql_as: Callable[[str], GraphQL], tips: list[m.Tip]
) -> None:
    ask = gql_as(m.Role.REPORTING_CLIENT)
    tip_id = relay.to_base64("Tip", tips[0].pk)
    for query in (
        "{ tips { edges { node { sourceReference narrative } } } }",
        "{ subjects { edges { node { fullName dateOfBirth } } } }",
        "{ identifiers { edges { node { value } } } }",
        "{ leads { edges { node { title } } } }",
        "{ clusters { edges { node { size } } } }",
        '{ travellerLookup(input: {email: "a@example.com"}) { matchedOn } }',
        "query ($id: ID!) { node(id: $id) { id } }",
    ):
        result = ask(query, {"id": tip_id} if "$id" in query else None)
        assert all(value is None for value in (result["data"] or {}).values()), query
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", query


def test_no_statistic_can_reach_a_record_or_an_identifier() -> None:
    """Every type reachable from a statistics field is an aggregate: no ID, no record type."""
    gql_schema = schema._schema
    seen: set[str] = set()
    pending = [get_named_type(gql_schema.query_type.fields[f].type) for f in STATISTICS_FIELDS]
    while pending:
        named = pending.pop()
        if named.name in seen:
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLObjectType):
            assert not named.interfaces, f"{named.name} is a record type"
            for field_name, field in named.fields.items():
                inner = get_named_type(field.type)
                assert not (isinstance(inner, GraphQLScalarType) and inner.name == "ID"), (
                    f"{named.name}.{field_name}"
                )
                pending.append(inner)
    assert seen >= {"CountTable", "CountRow", "LeadRow", "TurnaroundRow", "LookupRow"}


# -- handling caveats ---------------------------------------------------------------------

BY_CAVEAT = """{ tipStatistics(by: HANDLING_CAVEAT) {
  rows { group count suppressed } total suppressionThreshold } }"""


@pytest.fixture
def caveated() -> None:
    """30 tips without caveat, 12 LAW_ENFORCEMENT_SENSITIVE and 3 OWNER_ONLY this month."""
    source = SourceFactory()
    for caveat, n in (("NONE", 30), ("LAW_ENFORCEMENT_SENSITIVE", 12), ("OWNER_ONLY", 3)):
        TipFactory.create_batch(n, source=source, handling_caveat=caveat, received_at=NOW)


def test_tip_statistics_count_tips_by_handling_caveat(gql: GraphQL, caveated) -> None:
    # when an analyst counts tips by caveat, then each caveat's tips are counted exactly
    table = gql(BY_CAVEAT)["data"]["tipStatistics"]
    assert {r["group"]: r["count"] for r in table["rows"]} == {
        "NONE": 30,
        "LAW_ENFORCEMENT_SENSITIVE": 12,
        "OWNER_ONLY": 3,
    }
    assert table["total"] == 45


def test_reporting_client_gets_small_caveat_groups_suppressed(
    gql_as: Callable[[str], GraphQL], caveated, settings
) -> None:
    settings.STATS_MIN_GROUP_SIZE = 5
    # when a reporting client counts tips by caveat
    table = gql_as(m.Role.REPORTING_CLIENT)(BY_CAVEAT)["data"]["tipStatistics"]
    # then OWNER_ONLY (3) is suppressed, and LAW_ENFORCEMENT_SENSITIVE with it: the total
    # minus the other groups would otherwise give the 3 back
    assert {r["group"]: (r["count"], r["suppressed"]) for r in table["rows"]} == {
        "NONE": (30, False),
        "LAW_ENFORCEMENT_SENSITIVE": (None, True),
        "OWNER_ONLY": (None, True),
    }
    assert table["total"] == 45


def test_an_investigator_may_not_count_tips_by_caveat(
    gql_as: Callable[[str], GraphQL], caveated
) -> None:
    result = gql_as(m.Role.INVESTIGATOR)(BY_CAVEAT)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ('timeZone: "Nowhere/Atlantis"', "timeZone"),
        ('since: "2026-02-01T00:00:00Z", until: "2026-01-01T00:00:00Z"', "until"),
    ],
)
def test_a_bad_window_is_a_typed_error(gql: GraphQL, arguments: str, field: str) -> None:
    result = gql(f"{{ tipStatistics({arguments}) {{ total }} }}")
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}


def test_every_statistic_answers(gql: GraphQL, tips: list[m.Tip]) -> None:
    result = gql(
        """{
          tipStatistics { total }
          actionableShare(interval: WEEK) { rows { period reviewed actionable share } }
          tipTurnaround(interval: MONTH) { rows { milestone tips medianHours p90Hours } }
          leadStatistics { rows { office status outcome count } total }
          lookupStatistics { rows { period lookups withMatches hitRate } }
          screeningOutcomes(interval: DAY, timeZone: "Europe/Paris") { rows { group count } }
          clusterSizes { rows { group count } total }
        }"""
    )
    assert "errors" not in result
    assert result["data"]["tipStatistics"]["total"] == len(tips)
    assert result["data"]["clusterSizes"]["rows"] == [{"group": "1", "count": len(tips)}]


# -- CSV ----------------------------------------------------------------------------------


def test_csv_field_holds_the_same_rows(gql: GraphQL, tips: list[m.Tip]) -> None:
    table = gql(BY_CATEGORY, {"tz": "UTC"})["data"]["tipStatistics"]
    parsed = list(csv.DictReader(io.StringIO(table["csv"])))
    assert [(r["group"], int(r["count"])) for r in parsed] == [
        (r["group"], r["count"]) for r in table["rows"]
    ]


def signed_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def test_csv_download_as_analyst(tips: list[m.Tip]) -> None:
    response = signed_in(m.Role.ANALYST).get(
        "/statistics/tipStatistics.csv", {"by": "CATEGORY", "timeZone": "Europe/London"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="tipStatistics.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["group"]: int(r["count"]) for r in rows} == dict(Counter(t.category for t in tips))


def test_csv_download_for_reporting_client_is_suppressed(tips: list[m.Tip], settings) -> None:
    settings.STATS_MIN_GROUP_SIZE = 5
    response = signed_in(m.Role.REPORTING_CLIENT).get(
        "/statistics/tipStatistics.csv", {"by": "CATEGORY"}
    )
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["ENTICEMENT"]["count"] == "" and rows["ENTICEMENT"]["suppressed"] == "true"
    assert rows["DISTRIBUTION"]["count"] == "25"


def test_csv_download_of_a_statistic_without_arguments() -> None:
    response = signed_in(m.Role.ANALYST).get("/statistics/clusterSizes.csv")
    assert response.status_code == 200
    assert response.content.decode().splitlines() == ["period,group,count,suppressed"]


@pytest.mark.parametrize(
    ("role", "path", "params", "status"),
    [
        (m.Role.INVESTIGATOR, "/statistics/tipStatistics.csv", {}, 403),
        (None, "/statistics/tipStatistics.csv", {}, 401),
        (m.Role.ANALYST, "/statistics/tips.csv", {}, 404),
        (m.Role.ANALYST, "/statistics/tipStatistics.csv", {"colour": "red"}, 400),
        (m.Role.ANALYST, "/statistics/tipStatistics.csv", {"by": "NAME"}, 400),
        (m.Role.ANALYST, "/statistics/tipStatistics.csv", {"timeZone": "Mars/Base"}, 400),
        (m.Role.ANALYST, "/statistics/tipStatistics.csv", {"bad name": "1"}, 400),
    ],
)
def test_csv_download_refusals(role: str | None, path: str, params: dict, status: int) -> None:
    client = signed_in(role) if role else Client()
    response = client.get(path, params)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")


def test_csv_download_writes_one_audit_row_with_its_outcome(tips: list[m.Tip]) -> None:
    before = AuditEvent.objects.filter(kind="OPERATION").count()
    signed_in(m.Role.ANALYST).get("/statistics/tipStatistics.csv", {"by": "STATUS"})
    signed_in(m.Role.INVESTIGATOR).get("/statistics/leadStatistics.csv")
    rows = list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))[before:]
    assert [(r.operation_name, r.role, r.outcome) for r in rows] == [
        ("tipStatisticsCsv", m.Role.ANALYST, "ALLOWED"),
        ("leadStatisticsCsv", m.Role.INVESTIGATOR, "DENIED"),
    ]
    assert rows[0].variables == {"by": "STATUS"}


def test_csv_download_refuses_other_methods() -> None:
    response = signed_in(m.Role.ANALYST).post("/statistics/tipStatistics.csv")
    assert response.status_code in (403, 405)  # CSRF refuses a session POST first


# -- cost ---------------------------------------------------------------------------------


def test_query_count_does_not_grow_with_the_data(gql: GraphQL) -> None:
    source = SourceFactory()
    query = """{ tipStatistics(by: SOURCE_KIND, interval: DAY) { rows { count } }
                 clusterSizes { total } actionableShare(interval: WEEK) { rows { share } } }"""

    def queries_for(n: int) -> int:
        TipFactory.create_batch(n, source=source)
        with CaptureQueriesContext(connection) as captured:
            assert "errors" not in gql(query)
        return len(captured)

    assert queries_for(3) == queries_for(60)
