"""Hostile requests over /graphql: every one is answered with coded errors and no internal
text, refused before it costs anything, and audited once with the right outcome."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from graphql import OperationDefinitionNode, parse
from strawberry.relay import to_base64

from audit.models import AuditEvent
from backend import models as m
from schema import schema
from schema.limits import estimate_cost
from tests.conftest import GraphQL
from tests.factories import SourceFactory, TipFactory

pytestmark = pytest.mark.django_db

CURSOR = to_base64("arrayconnection", "0")


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors") or []]


def last_row() -> AuditEvent:
    return AuditEvent.objects.filter(kind="OPERATION").latest("seq")


def refused(result: dict[str, Any], code: str) -> dict[str, Any]:
    """The one error of a request refused before it ran, audited INVALID with its code."""
    assert result.get("data") is None, result
    assert codes(result) == [code], result
    row = last_row()
    assert (row.outcome, row.error_codes) == ("INVALID", [code])
    return result["errors"][0]


# --- the depth limiter's crashes ------------------------------------------------------------


def test_an_empty_selection_set_is_answered_and_audited(gql: GraphQL) -> None:
    # graphql-core accepts empty selection sets; the depth limit used to crash on them
    assert gql("{ viewer { } }") == {"data": {"viewer": {}}}
    assert (last_row().outcome, last_row().error_codes) == ("ALLOWED", [])


def test_an_unknown_fragment_is_a_validation_error(gql: GraphQL) -> None:
    error = refused(gql("{ ...Nope }"), "GRAPHQL_VALIDATION_FAILED")
    assert error["message"] == "Unknown fragment 'Nope'."


def test_a_300_deep_fragment_chain_is_refused_with_a_code(gql: GraphQL) -> None:
    fragments = ["fragment F0 on Query { viewer { username } }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} }}" for n in range(1, 300)]
    result = gql("{ ...F299 } " + " ".join(fragments))
    refused(result, "GRAPHQL_VALIDATION_FAILED")


def test_a_fragment_chain_within_the_limits_runs(gql: GraphQL) -> None:
    fragments = ["fragment F0 on Query { viewer { username } }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} }}" for n in range(1, 20)]
    result = gql("{ ...F19 } " + " ".join(fragments))
    assert result == {"data": {"viewer": {"username": "analyst-user"}}}


# --- variables and arguments ------------------------------------------------------------------


def test_a_variable_of_the_wrong_type_is_invalid(gql: GraphQL) -> None:
    result = gql("query ($n: Int) { tips(first: $n) { totalCount } }", {"n": "abc"})
    refused(result, "GRAPHQL_VALIDATION_FAILED")


def test_a_null_variable_for_an_argument_that_may_not_be_null_is_invalid(gql: GraphQL) -> None:
    # allowed by validation (the argument has a default), refused when the field runs
    result = gql(
        "query ($zone: String) { tipStatistics(timeZone: $zone) { total } }", {"zone": None}
    )
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert last_row().outcome == "INVALID"


@pytest.mark.parametrize("lookup", ["regex", "iRegex"])
def test_an_invalid_regular_expression_is_refused_before_the_database_sees_it(
    gql: GraphQL, lookup: str
) -> None:
    literal = gql(f'{{ tips(filters: {{sourceReference: {{{lookup}: "("}}}}) {{ totalCount }} }}')
    error = refused(literal, "INVALID_INPUT")
    assert error["extensions"]["field"] == f"filters.sourceReference.{lookup}"
    assert "not a valid regular expression" in error["message"]
    variable = gql(
        "query ($f: TipFilter) { tips(filters: $f) { totalCount } }",
        {"f": {"OR": {"sourceReference": {lookup: "a[b"}}}},
    )
    refused(variable, "INVALID_INPUT")


def test_a_valid_regular_expression_filters(gql: GraphQL) -> None:
    TipFactory(source_reference="CT-0042")
    TipFactory(source_reference="XX-1")
    result = gql('{ tips(filters: {sourceReference: {regex: "^CT-[0-9]+$"}}) { totalCount } }')
    assert result == {"data": {"tips": {"totalCount": 1}}}


# --- pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize("argument", ["first", "last"])
def test_a_negative_page_size_is_invalid_input(gql: GraphQL, argument: str) -> None:
    error = refused(gql(f"{{ tips({argument}: -1) {{ totalCount }} }}"), "INVALID_INPUT")
    assert error["extensions"]["field"] == argument


@pytest.mark.parametrize("argument", ["first", "last"])
def test_an_oversized_page_is_refused_with_the_limit(gql: GraphQL, argument: str) -> None:
    result = gql(f"query ($n: Int) {{ tips({argument}: $n) {{ totalCount }} }}", {"n": 101})
    error = refused(result, "PAGINATION_LIMIT")
    assert error["extensions"] == {
        "code": "PAGINATION_LIMIT",
        "field": argument,
        "maxResults": settings.GRAPHQL_MAX_RESULTS,
    }


def test_a_nested_oversized_page_is_refused_too(gql: GraphQL) -> None:
    result = gql("{ tips(first: 1) { edges { node { notes(first: 500) { totalCount } } } } }")
    refused(result, "PAGINATION_LIMIT")


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",  # Incorrect padding
        "YWJj",  # 'abc': expected to contain only 2 items
        to_base64("other", "1"),  # another prefix
        to_base64("arrayconnection", "x"),  # not a number
        to_base64("arrayconnection", "-5"),  # negative indexing
        to_base64("arrayconnection", "99999999999999999999"),  # out of the database's range
        "\u00e9\u00e9",
    ],
)
@pytest.mark.parametrize("argument", ["after", "before"])
def test_a_malformed_cursor_is_invalid_cursor(gql: GraphQL, cursor: str, argument: str) -> None:
    result = gql(
        f"query ($c: String) {{ tips(first: 2, {argument}: $c) {{ totalCount }} }}", {"c": cursor}
    )
    error = refused(result, "INVALID_CURSOR")
    assert error["extensions"]["field"] == argument
    assert cursor not in error["message"]


def test_a_cursor_the_api_gave_out_pages_on(gql: GraphQL) -> None:
    for n in range(3):
        TipFactory(source_reference=f"PAGE-{n}")
    first = gql("{ tips(first: 1) { edges { cursor node { sourceReference } } } }")
    cursor = first["data"]["tips"]["edges"][0]["cursor"]
    assert cursor == CURSOR
    after = gql(
        "query ($c: String) { tips(first: 5, after: $c) { edges { node { sourceReference } } } }",
        {"c": cursor},
    )
    assert len(after["data"]["tips"]["edges"]) == 2


# --- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "node_id",
    ["Tip:abc", to_base64("Tip", "abc"), to_base64("Tip", "1 OR 1=1"), to_base64("Tip", "")],
)
def test_a_malformed_node_id_is_invalid_id(gql: GraphQL, node_id: str) -> None:
    result = gql("query ($id: ID!) { node(id: $id) { id } }", {"id": node_id})
    assert result["data"] == {"node": None}
    assert codes(result) == ["INVALID_ID"]
    assert "expected a number" not in result["errors"][0]["message"]
    assert last_row().outcome == "INVALID"


def test_an_id_beyond_the_database_range_is_simply_not_found(gql: GraphQL) -> None:
    result = gql("query ($id: ID!) { node(id: $id) { id } }", {"id": to_base64("Tip", "9" * 19)})
    assert result == {"data": {"node": None}}


# --- text ---------------------------------------------------------------------------------------


def test_a_nul_character_in_a_literal_is_invalid_input(gql: GraphQL) -> None:
    result = gql('{ tips(filters: {sourceReference: {exact: "a\\u0000b"}}) { totalCount } }')
    error = refused(result, "INVALID_INPUT")
    assert "NUL" in error["message"]
    assert "PostgreSQL" not in error["message"]


def test_a_nul_character_in_a_variable_is_invalid_input(gql: GraphQL) -> None:
    before = m.Source.objects.count()
    result = gql(
        "mutation ($n: String!) { createSource(input: {kind: NGO, name: $n}) "
        "{ source { id } errors { code } } }",
        {"n": "a\x00b"},
    )
    error = refused(result, "INVALID_INPUT")
    assert error["extensions"]["variable"] == "$n"
    assert m.Source.objects.count() == before


def test_an_unpaired_surrogate_is_refused_and_still_audited(analyst) -> None:
    # refused by the view when it reads the body (BAD_REQUEST), or else by the schema's input
    # check (INVALID_INPUT): either way coded and audited, never a 5xx
    client = Client()
    client.force_login(analyst)
    body = (
        '{"query": "query ($s: String) { tips(filters: {sourceReference: {exact: $s}}) '
        '{ totalCount } }", "variables": {"s": "a\\ud800b"}}'
    )
    before = AuditEvent.objects.filter(kind="OPERATION").count()
    response = client.post("/graphql", body, content_type="application/json")
    assert response.status_code in (200, 400)
    assert codes(response.json())[0] in ("BAD_REQUEST", "INVALID_INPUT")
    assert AuditEvent.objects.filter(kind="OPERATION").count() == before + 1
    assert last_row().outcome == "INVALID"


def test_a_string_over_the_schema_wide_limit_is_refused_before_any_work(
    gql: GraphQL, settings
) -> None:
    settings.GRAPHQL_MAX_STRING_LENGTH = 1000
    result = gql(
        "query ($i: TravellerLookupInput!) { travellerLookup(input: $i) { matchedOn } }",
        {"i": {"name": "x" * 1001, "dateOfBirth": "1980-01-01"}},
    )
    error = refused(result, "INPUT_TOO_LONG")
    assert error["extensions"]["variable"] == "$i.name"
    assert "1000" in error["message"]
    assert not m.TravellerLookup.objects.exists()


def test_a_megabyte_name_in_a_traveller_lookup_is_refused_at_once(gql: GraphQL) -> None:
    # it took 12.8 s when the name was folded and compared before its length was checked
    started = time.perf_counter()
    result = gql(
        "query ($i: TravellerLookupInput!) { travellerLookup(input: $i) { matchedOn } }",
        {"i": {"name": "Álvarez " * 131_072, "dateOfBirth": "1980-01-01"}},
    )
    assert time.perf_counter() - started < 3
    refused(result, "INPUT_TOO_LONG")
    assert not m.TravellerLookup.objects.exists()


def test_a_name_longer_than_any_stored_name_is_refused_by_the_lookup(gql: GraphQL) -> None:
    result = gql(
        "query ($i: TravellerLookupInput!) { travellerLookup(input: $i) { matchedOn } }",
        {"i": {"name": "n" * 201, "dateOfBirth": "1980-01-01"}},
    )
    error = refused(result, "INVALID_INPUT")
    assert error["extensions"]["field"] == "name"
    assert "at most 200 characters" in error["message"]
    assert not m.TravellerLookup.objects.exists()


def test_a_list_over_the_limit_is_refused(gql: GraphQL, settings) -> None:
    settings.GRAPHQL_MAX_LIST_LENGTH = 10
    result = gql(
        "query ($s: [String!]) { tips(filters: {sourceReference: {inList: $s}}) { totalCount } }",
        {"s": [str(n) for n in range(11)]},
    )
    refused(result, "INPUT_TOO_LONG")


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("receivedAt", "0000-01-01T00:00:00Z"),
        ("receivedAt", "-0001-01-01T00:00:00Z"),
        ("receivedAt", "9999-12-31T23:59:59-14:00"),  # past year 9999 in UTC
        ("receivedAt", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("receivedAt", "2026-13-01T00:00:00Z"),
    ],
)
def test_an_out_of_range_date_time_is_refused_in_our_words(
    gql: GraphQL, argument: str, value: str
) -> None:
    literal = gql(f'{{ tips(filters: {{{argument}: {{gt: "{value}"}}}}) {{ totalCount }} }}')
    variable = gql(
        "query ($t: DateTime) { tips(filters: {receivedAt: {gt: $t}}) { totalCount } }",
        {"t": value},
    )
    for result in (literal, variable):
        error = refused(result, "GRAPHQL_VALIDATION_FAILED")
        assert "years 1 to 9999" in error["message"]
        assert "out of range" not in error["message"]


@pytest.mark.parametrize(
    ("lookup", "field"),
    [
        ("{year: {exact: 0}}", "year.exact"),
        ("{isoYear: {gt: 10000}}", "isoYear.gt"),
        ("{year: {inList: [2020, -1]}}", "year.inList"),
        ("{year: {range: {start: 2020, end: 10000}}}", "year.range.end"),
    ],
)
def test_a_year_no_calendar_holds_is_invalid_input(gql: GraphQL, lookup: str, field: str) -> None:
    # Django could not compute the bounds of year 0 or 10000 ("year 0 is out of range")
    result = gql(f"{{ leads(filters: {{referredAt: {lookup}}}) {{ totalCount }} }}")
    error = refused(result, "INVALID_INPUT")
    assert error["extensions"]["field"] == f"filters.referredAt.{field}"
    assert error["message"].endswith("a year must be from 1 to 9999.")


def test_a_year_in_range_filters(gql: GraphQL) -> None:
    result = gql("{ leads(filters: {referredAt: {year: {gte: 2020}}}) { totalCount } }")
    assert result == {"data": {"leads": {"totalCount": 0}}}


@pytest.mark.parametrize("value", ["0000-01-01", "2026-02-30", "1-1-1"])
def test_an_impossible_date_is_refused_in_our_words(gql: GraphQL, value: str) -> None:
    result = gql(
        "query ($d: Date) { subjects(filters: {dateOfBirth: {gt: $d}}) { totalCount } }",
        {"d": value},
    )
    error = refused(result, "GRAPHQL_VALIDATION_FAILED")
    assert error["message"].endswith(
        "Expected an ISO 8601 date such as 2026-01-31, in the years 1 to 9999."
    )


# --- cost ---------------------------------------------------------------------------------------

FAN_OUT = (
    "{ tips(first: 100) { edges { node { links(first: 100) { edges { node { tip { "
    "links(first: 100) { edges { node { reason } } } } } } } } } } }"
)


def test_a_fan_out_of_a_million_objects_is_refused_before_it_runs(gql: GraphQL) -> None:
    started = time.perf_counter()
    error = refused(gql(FAN_OUT), "QUERY_TOO_COSTLY")
    assert time.perf_counter() - started < 2
    assert error["extensions"]["maxCost"] == settings.GRAPHQL_MAX_COST
    assert error["extensions"]["cost"] > 1_000_000


def test_the_maximum_cost_is_configurable(gql: GraphQL, settings) -> None:
    query = "{ tips(first: 10) { edges { node { source { name } } } } }"  # 1 + 10 x 3
    settings.GRAPHQL_MAX_COST = 31
    assert "errors" not in gql(query)
    settings.GRAPHQL_MAX_COST = 30
    assert refused(gql(query), "QUERY_TOO_COSTLY")["extensions"]["cost"] == 31


def test_pages_not_asked_for_count_as_full_pages(gql: GraphQL, settings) -> None:
    settings.GRAPHQL_MAX_COST = 300
    # 1 + 100 x (edges + node) = 201
    assert "errors" not in gql("{ tips { edges { node { id } } } }")
    # 1 + 100 x (edges + node + source) = 301
    refused(gql("{ tips { edges { node { source { name } } } } }"), "QUERY_TOO_COSTLY")


def _operations(path: Path) -> dict[str, int]:
    document = parse(path.read_text())
    return {
        op.name.value: estimate_cost(schema._schema, document, op)
        for op in document.definitions
        if isinstance(op, OperationDefinitionNode) and op.name
    }


def test_the_dashboard_queries_are_well_under_the_default_maximum() -> None:
    folder = Path(settings.BASE_DIR) / "backend" / "dashboard" / "static" / "dashboard"
    costs = {**_operations(folder / "tip_graph.graphql"), **_operations(folder / "trends.graphql")}
    assert set(costs) == {"TipGraphById", "TipGraphByReference", "DashboardTrends"}
    assert max(costs.values()) * 10 < settings.GRAPHQL_MAX_COST, costs


def test_the_readme_examples_are_within_the_limits() -> None:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    blocks = re.findall(r"```graphql\n(.*?)```", readme, flags=re.DOTALL)
    assert len(blocks) >= 4
    for block in blocks:
        document = parse(block)
        for operation in document.definitions:
            assert isinstance(operation, OperationDefinitionNode)
            assert estimate_cost(schema._schema, document, operation) <= settings.GRAPHQL_MAX_COST


def test_a_deep_operation_is_refused_with_its_own_code(gql: GraphQL) -> None:
    inner = "id"
    for _ in range(5):
        inner = f"links(first: 1) {{ edges {{ node {{ tip {{ {inner} }} }} }} }}"
    error = refused(
        gql(f"{{ tips(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"), "QUERY_TOO_DEEP"
    )
    assert error["extensions"]["maxDepth"] == settings.GRAPHQL_MAX_DEPTH


# --- faults the server did not foresee ----------------------------------------------------------


def test_an_unforeseen_exception_is_masked(gql: GraphQL, monkeypatch) -> None:
    from backend.services import sources

    def explode(**_kwargs: Any) -> None:
        raise RuntimeError("secret internals at 0xdeadbeef")

    monkeypatch.setattr(sources, "create_source", explode)
    result = gql('mutation { createSource(input: {kind: NGO, name: "X"}) { errors { code } } }')
    assert codes(result) == ["INTERNAL_ERROR"]
    assert "secret" not in json.dumps(result)
    assert (last_row().outcome, last_row().error_codes) == ("FAILED", ["INTERNAL_ERROR"])


def test_a_statement_the_database_refuses_undoes_the_operation_and_is_audited(
    gql: GraphQL, monkeypatch
) -> None:
    # given a service that writes, then sends a statement the database refuses
    from django.db import connection

    from backend.services import sources

    real = sources.create_source

    def write_then_fail(**kwargs: Any) -> m.Source:
        created = real(**kwargs)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        return created

    monkeypatch.setattr(sources, "create_source", write_then_fail)
    # (only the resolvers' module: the view's own transaction stays real)
    monkeypatch.setattr("resolvers.common.transaction", SimpleNamespace(atomic=_no_savepoint))
    # when it runs
    result = gql('mutation { createSource(input: {kind: NGO, name: "Y"}) { errors { code } } }')
    # then nothing of the operation is kept, the answer is coded, and the row is written
    assert result["data"] is None
    assert codes(result) == ["INTERNAL_ERROR"]
    assert "division" not in json.dumps(result)
    assert not m.Source.objects.filter(name="Y").exists()
    assert (last_row().outcome, last_row().records_changed) == ("FAILED", [])


def test_in_a_batch_only_the_operation_the_database_refused_is_undone(analyst, monkeypatch) -> None:
    # given a service that fails in the database for one name only
    from django.db import connection

    from backend.services import sources

    real = sources.create_source

    def fail_for_y(**kwargs: Any) -> m.Source:
        created = real(**kwargs)
        if kwargs.get("name") == "Y":
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        return created

    monkeypatch.setattr(sources, "create_source", fail_for_y)
    monkeypatch.setattr("resolvers.common.transaction", SimpleNamespace(atomic=_no_savepoint))
    make = 'mutation {{ createSource(input: {{kind: NGO, name: "{}"}}) {{ errors {{ code }} }} }}'
    # when a batch creates X, then Y, then Z
    analyst_client = Client()
    analyst_client.force_login(analyst)
    response = analyst_client.post(
        "/graphql",
        data=json.dumps([{"query": make.format(name)} for name in "XYZ"]),
        content_type="application/json",
    )
    # then X and Z are kept, Y is undone and answered INTERNAL_ERROR, and all three are audited
    answers = response.json()
    assert [codes(answer) for answer in answers] == [[], ["INTERNAL_ERROR"], []]
    assert sorted(m.Source.objects.values_list("name", flat=True)) == ["X", "Z"]
    rows = list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))
    assert [row.outcome for row in rows] == ["ALLOWED", "FAILED", "ALLOWED"]


def test_a_lookup_whose_write_the_database_refuses_is_undone_and_audited(
    gql: GraphQL, monkeypatch
) -> None:
    # given a lookup whose writes (no savepoint of their own) meet a statement the database
    # refuses, after it already wrote its lookup row
    from django.db import connection

    from backend.services import lookups

    real = lookups._record

    def record_then_fail(*args: Any, **kwargs: Any) -> m.TravellerLookup:
        recorded = real(*args, **kwargs)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        return recorded

    monkeypatch.setattr(lookups, "_record", record_then_fail)
    # when an analyst looks a traveller up
    result = gql('{ travellerLookup(input: {email: "x@example.com"}) { matchedOn } }')
    # then the answer is coded, nothing of the lookup is kept, and its audit row is written
    assert result["data"] is None
    assert codes(result) == ["INTERNAL_ERROR"]
    assert not m.TravellerLookup.objects.exists()
    assert last_row().outcome == "FAILED"
    assert last_row().operation_type == "query"


class _no_savepoint:  # noqa: N801 - stands in for transaction.atomic
    """``transaction.atomic`` without a savepoint of its own, so that a failed statement leaves
    the request's transaction unusable, as a resolver without ``atomic`` would."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: Any) -> bool:
        return False


def test_source_factory_world_is_untouched_by_refusals(gql: GraphQL) -> None:
    # a refused request writes nothing but its audit row
    SourceFactory(name="Kept")
    before = (m.Source.objects.count(), AuditEvent.objects.count())
    gql("{ tips(first: -1) { totalCount } }")
    assert (m.Source.objects.count(), AuditEvent.objects.count()) == (before[0], before[1] + 1)
