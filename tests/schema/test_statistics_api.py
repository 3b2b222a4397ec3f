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


# -- no figure by subtraction: windows on one grid for suppressed callers -----------------

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
SECOND = DAY + dt.timedelta(hours=14)  # the one second whose 4 tips the attack is after
WINDOWED = sorted(
    name for name in STATISTICS_FIELDS if "since" in schema._schema.query_type.fields[name].args
)
WINDOW = "window { since until timeZone interval aligned }"


def iso(when: dt.datetime) -> str:
    return when.isoformat()


@pytest.fixture
def around_a_second(settings) -> None:
    """30 tips that morning, 4 tips at SECOND, 30 tips the next morning."""
    settings.STATS_MIN_GROUP_SIZE = 10
    source = SourceFactory()
    TipFactory.create_batch(30, source=source, received_at=DAY + dt.timedelta(hours=9))
    TipFactory.create_batch(4, source=source, category="PRODUCTION", received_at=SECOND)
    TipFactory.create_batch(30, source=source, received_at=DAY + dt.timedelta(hours=33))


def total_and_window(ask: GraphQL, argument: str, when: dt.datetime) -> tuple[int | None, dict]:
    result = ask(
        f"query ($at: DateTime) {{ tipStatistics({argument}: $at) {{ total {WINDOW} }} }}",
        {"at": iso(when)},
    )
    assert "errors" not in result, result
    table = result["data"]["tipStatistics"]
    return table["total"], table["window"]


@pytest.mark.parametrize("argument", ["until", "since"])
def test_two_windows_a_second_apart_give_a_reporting_client_no_small_difference(
    gql_as: Callable[[str], GraphQL], around_a_second, argument: str
) -> None:
    # given a reporting client, and 4 tips in one second (fewer than the threshold, 10)
    ask = gql_as(m.Role.REPORTING_CLIENT)
    # when it asks for the window up to (or from) that second, and up to (from) one after
    before, before_window = total_and_window(ask, argument, SECOND)
    after, after_window = total_and_window(ask, argument, SECOND + dt.timedelta(seconds=1))
    # then the two totals do not differ by fewer than the threshold (here: not at all)
    assert before is not None and after is not None
    assert abs(before - after) not in range(1, 10)
    # because both windows were widened to the same whole day, which the answer says
    assert before_window == after_window
    if argument == "until":  # up to the end of the second's day
        expected = {"since": None, "until": iso(DAY + dt.timedelta(days=1))}
    else:  # from the start of the second's day to the last midnight
        expected = {"since": iso(DAY), "until": iso(timezone_midnight())}
    assert before_window == {**expected, "timeZone": "UTC", "interval": None, "aligned": True}


def timezone_midnight() -> dt.datetime:
    """The last midnight (UTC): where a reporting client's windows end."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_analysts_keep_the_exact_window(gql: GraphQL, around_a_second) -> None:
    # when an analyst asks the same two windows
    before, before_window = total_and_window(gql, "until", SECOND)
    after, after_window = total_and_window(gql, "until", SECOND + dt.timedelta(seconds=1))
    # then the figures are exact: the second's 4 tips are the difference
    assert (before, after) == (30, 34)
    assert before_window == {
        "since": None,
        "until": iso(SECOND),
        "timeZone": "UTC",
        "interval": None,
        "aligned": False,
    }
    assert after_window["until"] == iso(SECOND + dt.timedelta(seconds=1))


def test_every_statistic_with_a_window_is_aligned() -> None:
    # the fields below are found in the schema: a new statistic with a window is checked too
    assert WINDOWED == [
        "actionableShare",
        "leadStatistics",
        "lookupStatistics",
        "screeningOutcomes",
        "tipStatistics",
        "tipTurnaround",
    ]


@pytest.mark.parametrize("field", WINDOWED)
def test_each_windowed_statistic_reports_the_window_a_reporting_client_gets(
    gql_as: Callable[[str], GraphQL], field: str
) -> None:
    # when a reporting client and an analyst ask for the window from one second to the next
    query = (
        f'{{ {field}(since: "{iso(SECOND)}", until: "{iso(SECOND + dt.timedelta(seconds=1))}")'
        f" {{ csv {WINDOW} }} }}"
    )
    reporting = gql_as(m.Role.REPORTING_CLIENT)(query)
    exact = gql_as(m.Role.ANALYST)(query)
    # then the reporting client's covers the whole day, the analyst's the second asked
    interval = "DAY" if field == "lookupStatistics" else None
    assert reporting["data"][field]["window"] == {
        "since": iso(DAY),
        "until": iso(DAY + dt.timedelta(days=1)),
        "timeZone": "UTC",
        "interval": interval,
        "aligned": True,
    }
    assert exact["data"][field]["window"] == {
        "since": iso(SECOND),
        "until": iso(SECOND + dt.timedelta(seconds=1)),
        "timeZone": "UTC",
        "interval": interval,
        "aligned": False,
    }


def test_a_reporting_client_gets_whole_periods_of_the_interval(
    gql_as: Callable[[str], GraphQL], around_a_second
) -> None:
    # when a reporting client asks for weeks from a Friday to a Saturday
    result = gql_as(m.Role.REPORTING_CLIENT)(
        f'{{ tipStatistics(interval: WEEK, since: "{iso(DAY)}", '
        f'until: "{iso(DAY + dt.timedelta(days=1))}") {{ rows {{ period count }} {WINDOW} }} }}'
    )
    # then it gets the whole ISO week, Monday to Monday, and the week's row counts all of it
    table = result["data"]["tipStatistics"]
    assert table["window"] == {
        "since": "2026-11-16T00:00:00+00:00",
        "until": "2026-11-23T00:00:00+00:00",
        "timeZone": "UTC",
        "interval": "WEEK",
        "aligned": True,
    }
    assert table["rows"] == [{"period": "2026-11-16", "count": 64}]


def test_a_reporting_client_gets_the_reporting_time_zone_whatever_it_asks(
    gql_as: Callable[[str], GraphQL], around_a_second, settings
) -> None:
    # given the reporting time zone New York
    settings.STATS_REPORTING_TIME_ZONE = "America/New_York"
    # when a reporting client asks for days in Kathmandu (whose midnight is 15 minutes from
    # Kolkata's: two zones' windows would differ by those minutes)
    result = gql_as(m.Role.REPORTING_CLIENT)(
        f'{{ tipStatistics(interval: DAY, timeZone: "Asia/Kathmandu", since: "{iso(SECOND)}", '
        f'until: "{iso(SECOND + dt.timedelta(seconds=1))}") '
        f"{{ rows {{ period count }} {WINDOW} }} }}"
    )
    # then it gets New York's day (the 20th there), and the window says so
    table = result["data"]["tipStatistics"]
    assert table["window"] == {
        "since": "2026-11-20T00:00:00-05:00",
        "until": "2026-11-21T00:00:00-05:00",
        "timeZone": "America/New_York",
        "interval": "DAY",
        "aligned": True,
    }
    assert table["rows"] == [{"period": "2026-11-20", "count": 34}]


def test_a_reporting_client_never_sees_the_day_in_progress(
    gql_as: Callable[[str], GraphQL], settings
) -> None:
    # given 12 tips on DAY and 12 received just now
    settings.STATS_MIN_GROUP_SIZE = 10
    source = SourceFactory()
    TipFactory.create_batch(12, source=source, received_at=DAY)
    TipFactory.create_batch(12, source=source, received_at=dt.datetime.now(dt.UTC))
    query = f"{{ tipStatistics {{ total {WINDOW} }} }}"
    # then a reporting client counts up to the last midnight, an analyst everything
    reporting = gql_as(m.Role.REPORTING_CLIENT)(query)["data"]["tipStatistics"]
    assert reporting["total"] == 12
    assert reporting["window"]["until"] == iso(timezone_midnight())
    assert gql_as(m.Role.ANALYST)(query)["data"]["tipStatistics"]["total"] == 24
    # and a window within today is empty for it, not an error
    today = gql_as(m.Role.REPORTING_CLIENT)(
        f'{{ tipStatistics(since: "{iso(timezone_midnight() + dt.timedelta(seconds=1))}") '
        f"{{ rows {{ count }} total {WINDOW} }} }}"
    )
    assert "errors" not in today
    assert today["data"]["tipStatistics"]["rows"] == []
    assert today["data"]["tipStatistics"]["window"]["since"] == iso(timezone_midnight())
    assert today["data"]["tipStatistics"]["window"]["until"] == iso(timezone_midnight())


def test_cluster_sizes_have_no_window(gql: GraphQL) -> None:
    assert gql(f"{{ clusterSizes {{ {WINDOW} }} }}") == {"data": {"clusterSizes": {"window": None}}}


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
