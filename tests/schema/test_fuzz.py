"""Property-based fuzzing of /graphql: operations generated from the schema itself
(hypothesis-graphql), sent over the real endpoint as an analyst and as an investigator, with
malformed variants, must all be answered well.

For every request:

- the answer is never a 5xx, and its body has ``data`` or ``errors``;
- every error carries ``extensions.code``, and none is INTERNAL_ERROR (a server fault);
- no message carries internal text: exception names, tracebacks, SQL, database or framework
  names;
- exactly one new audit row, whose outcome matches the answer: ALLOWED without errors,
  DENIED when a refusal code is among them, INVALID when every code is one of the request's
  own faults (``backend.errors.REQUEST_ERROR_CODES``), FAILED otherwise; and it records the
  same codes.

The normal test run tries ``TIPGRAPH_FUZZ_EXAMPLES`` (default 30) examples per property,
derandomised so that a run is repeatable; set a larger number to search further, with fresh
random examples each run (``TIPGRAPH_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest
tests/schema/test_fuzz.py``). A failure prints the operation that broke a property.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from graphql import (
    REMOVE,
    ArgumentNode,
    DocumentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    Visitor,
    print_ast,
    visit,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis_graphql import Mode, from_schema, mutations, nodes, queries
from strawberry.relay import to_base64

from audit.models import AuditEvent
from audit.operations import DENIED_CODES
from backend import models as m
from backend.errors import REQUEST_ERROR_CODES
from backend.services.linking import link_tips
from schema import schema
from tests.conftest import register_document
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    NoteFactory,
    ResearchResultFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("TIPGRAPH_FUZZ_EXAMPLES", "30"))
#: Small runs are repeatable; a run asked to search further draws new examples each time.
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=EXAMPLES <= 100,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
SCHEMA = schema._schema

#: Root fields an investigator may call (the rest are refused to them, which the
#: all-fields runs check too).
INVESTIGATOR_QUERIES = ["travellerLookup", "screenPassengers", "node", "viewer"]
INVESTIGATOR_MUTATIONS = ["addNote"]

#: Text that must never reach a client: Python exceptions and tracebacks, SQL and database
#: messages, framework names.
INTERNAL_TEXT = re.compile(
    r"Traceback|File \"|\b[A-Z][A-Za-z]+(?:Error|Exception)\b|psycopg|django|strawberry"
    r"|graphql\.|postgres|\bSQL\b|SELECT |INSERT INTO|UPDATE |DELETE FROM|violates|"
    r"constraint|relation \"|character varying|0x00|backend_|audit_|NoneType|"
    r"has no attribute|object is not|max\(\) arg|recursion|Incorrect padding|"
    r"expected to contain only|invalid literal|expected a number|is out of range|"
    r"Negative indexing|unsupported operand|not subscriptable|DETAIL:",
    re.IGNORECASE,
)
#: Well-formed global ids of no record, of unknown types, and not global ids at all.
BAD_IDS = [
    to_base64("Tip", "abc"),
    to_base64("Tip", "-1"),
    to_base64("Tip", "99999999999999999999999"),
    to_base64("Nope", "1"),
    to_base64("TravellerLookup", "1"),
    "Tip:1",
    "not-base64!!",
    "",
]
BAD_DATES = ["0000-01-01", "2026-02-30", "-0001-01-01", "10000-01-01", "2026-1-1", "", "now"]
BAD_DATETIMES = [
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-14:00",
    "2026-13-01T00:00:00Z",
    "2026-01-01T25:00:00Z",
    "2026-01-01",
    "",
]
ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-12))]


def _mostly(
    good: st.SearchStrategy[Any], *bad: st.SearchStrategy[Any], odds: int = 9
) -> st.SearchStrategy[Any]:
    """``good`` ``odds`` times as often as one of ``bad`` (an operation holds several values:
    each must be good rather often for many operations to run)."""
    return st.one_of(*[good] * odds, st.one_of(*bad))


def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    """Values for the ID and custom scalars, and small integers: real ids, good dates and
    pages in range mostly, hostile values often enough."""
    return {
        "Int": _mostly(st.integers(0, 5), st.integers(-(2**31), 2**31 - 1)).map(nodes.Int),
        "ID": _mostly(st.sampled_from(ids), st.sampled_from(BAD_IDS), st.text(max_size=12)).map(
            nodes.String
        ),
        "Date": _mostly(
            st.dates().map(dt.date.isoformat),
            st.sampled_from(BAD_DATES),
            st.text(max_size=12),
            odds=30,
        ).map(nodes.String),
        "DateTime": _mostly(
            st.datetimes(timezones=st.sampled_from(ZONES)).map(dt.datetime.isoformat),
            st.sampled_from(BAD_DATETIMES),
            odds=30,
        ).map(nodes.String),
        "Time": _mostly(st.times().map(dt.time.isoformat), st.text(max_size=8), odds=30).map(
            nodes.String
        ),
        "JSON": st.just(nodes.String("{}")),
        "Upload": st.just(nodes.String("not a file")),
    }


@pytest.fixture
def world() -> list[str]:
    """A small tip graph, and the global ids of its records."""
    source = SourceFactory()
    office = LeadFactory().office
    tips = [TipFactory(source=source) for _ in range(3)]
    shared = IdentifierFactory()
    for tip in tips:
        SightingFactory(tip=tip, identifier=shared)
    suspect = SubjectFactory(full_name="Fuzz Suspect")
    for tip in tips[:2]:
        TipSubjectFactory(tip=tip, subject=suspect)
    TipSubjectFactory(tip=tips[2], role=m.SubjectRole.VICTIM)
    link_tips(tip_ids=[tip.pk for tip in tips])
    lead = LeadFactory(office=office)
    lead.tips.set(tips[:1])
    note = NoteFactory(record=tips[0])
    research = ResearchResultFactory(identifier=shared)
    records: list[tuple[str, Any]] = [
        ("Source", source),
        ("Office", office),
        ("Identifier", shared),
        ("Subject", suspect),
        ("Lead", lead),
        ("Note", note),
        ("ResearchResult", research),
        *(("Tip", tip) for tip in tips),
        *(("TipLink", link) for link in m.TipLink.objects.all()[:2]),
    ]
    return [to_base64(name, str(record.pk)) for name, record in records]


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(username=f"fuzz-{role.lower()}", role=role))
    return client


@pytest.fixture
def analyst_client() -> Client:
    return _client(m.Role.ANALYST)


@pytest.fixture
def investigator_client() -> Client:
    return _client(m.Role.INVESTIGATOR)


def _operations() -> int:
    return AuditEvent.objects.filter(kind="OPERATION").count()


def _expected_outcome(codes: list[str]) -> str:
    if not codes:
        return "ALLOWED"
    if any(code in DENIED_CODES for code in codes):
        return "DENIED"
    if all(code in REQUEST_ERROR_CODES for code in codes):
        return "INVALID"
    return "FAILED"


def _messages(body: Any) -> Iterator[str]:
    for error in body.get("errors") or []:
        yield str(error.get("message", ""))
    yield from _payload_errors((body.get("data") or {}).values())


def _payload_errors(values: Any) -> Iterator[str]:
    """Messages of typed mutation errors (``errors { message }`` in a payload)."""
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("message"), str):
                yield value["message"]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def send(client: Client, query: str, variables: Any = None) -> dict[str, Any]:
    """POST one operation and check every property; returns the answer."""
    before = _operations()
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    response = client.post("/graphql", json.dumps(body), content_type="application/json")
    note = f"\n--- operation ---\n{query}\n--- variables ---\n{variables!r}\n--- answer ---\n"
    note += response.content.decode(errors="replace")[:2000]
    assert response.status_code < 500, note
    answer = response.json()
    assert "data" in answer or "errors" in answer, note
    errors = answer.get("errors") or []
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    assert all(codes), f"an error without extensions.code{note}"
    assert "INTERNAL_ERROR" not in codes, f"a server fault{note}"
    for message in _messages(answer):
        assert not INTERNAL_TEXT.search(message), f"internal text in {message!r}{note}"
    assert _operations() == before + 1, f"not exactly one audit row{note}"
    row = AuditEvent.objects.filter(kind="OPERATION").latest("seq")
    assert (row.outcome, row.error_codes) == (_expected_outcome(codes), codes), note
    if currently_in_test_context():  # seen with --hypothesis-show-statistics
        event(f"{row.outcome} {' '.join(sorted(set(codes)))}".strip())
    return answer


class _Tame(Visitor):
    """Arguments a client would send: no cursors, small pages, and one key per ordering
    (``@oneOf`` inputs, which hypothesis-graphql fills with several)."""

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> Any:
        name = node.name.value
        if name in ("after", "before"):
            return REMOVE
        if name in ("first", "last") and isinstance(node.value, IntValueNode):
            small = IntValueNode(value=str(abs(int(node.value.value)) % 6))
            return ArgumentNode(name=node.name, value=small)
        if name == "ordering" and isinstance(node.value, ListValueNode):
            keys = []
            for item in node.value.values:
                given = [
                    f for f in getattr(item, "fields", ()) if not isinstance(f.value, NullValueNode)
                ]
                if given:
                    keys.append(ObjectValueNode(fields=(given[0],)))
            return ArgumentNode(name=node.name, value=ListValueNode(values=tuple(keys)))
        return None


def _tame(document: DocumentNode) -> str:
    """The operation with tame pagination, so that more of them run than are refused."""
    return print_ast(visit(document, _Tame()))


_STRATEGIES: dict[tuple[Any, ...], st.SearchStrategy[str]] = {}


def _strategy(
    make: Callable[..., st.SearchStrategy[str]], ids: list[str], **options: Any
) -> st.SearchStrategy[str]:
    """hypothesis-graphql's strategy for ``make`` (queries, mutations, from_schema), built once
    per set of record ids."""
    key = (make, tuple(ids), tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _STRATEGIES:
        scalars = _scalars(ids)
        raw = make(SCHEMA, custom_scalars=scalars, **options)
        tame = make(SCHEMA, custom_scalars=scalars, print_ast=_tame, **options)
        _STRATEGIES[key] = st.one_of(raw, tame, tame, tame)
    return _STRATEGIES[key]


def _one_or_many(make: Callable[..., st.SearchStrategy[str]], root: Any, ids: list[str]) -> Any:
    """Operations of one root field (which often run through), or of several at once."""
    one = st.sampled_from(sorted(root.fields)).flatmap(
        lambda name: _strategy(make, ids, fields=[name])
    )
    return st.one_of(one, _strategy(make, ids))


@FUZZ
@given(data=st.data())
def test_generated_queries_as_an_analyst(data, world, analyst_client):
    query = data.draw(_one_or_many(queries, SCHEMA.query_type, world), label="query")
    send(analyst_client, query)


@FUZZ
@given(data=st.data())
def test_generated_mutations_as_an_analyst(data, world, analyst_client):
    mutation = data.draw(_one_or_many(mutations, SCHEMA.mutation_type, world), label="mutation")
    send(analyst_client, mutation)


@FUZZ
@given(data=st.data())
def test_generated_operations_as_an_investigator(data, world, investigator_client):
    own = st.one_of(
        _strategy(queries, world, fields=INVESTIGATOR_QUERIES),
        _strategy(mutations, world, fields=INVESTIGATOR_MUTATIONS),
    )
    operation = data.draw(st.one_of(own, _strategy(from_schema, world)), label="operation")
    register_document(operation)  # as its tool's would be: the fuzz reaches what runs
    send(investigator_client, operation)


@FUZZ
@given(data=st.data())
def test_operations_breaking_the_schema(data, world, analyst_client):
    # one violation each: a wrong type, a missing argument, an Int out of range, ...
    operation = data.draw(
        st.one_of(
            _strategy(queries, world, mode=Mode.NEGATIVE),
            _strategy(mutations, world, mode=Mode.NEGATIVE),
        ),
        label="operation",
    )
    send(analyst_client, operation)


@FUZZ
@given(data=st.data())
def test_corrupted_documents(data, world, analyst_client):
    operation = data.draw(_strategy(queries, world), label="query")
    at = data.draw(st.integers(0, len(operation)), label="at")
    how = data.draw(st.sampled_from(["cut", "insert", "repeat"]), label="how")
    if how == "cut":
        operation = operation[:at]
    elif how == "insert":
        junk = data.draw(st.text(min_size=1, max_size=3), label="junk")
        operation = operation[:at] + junk + operation[at:]
    else:
        operation = operation[:at] + operation[at // 2 : at] + operation[at:]
    send(analyst_client, operation)


#: Operations whose variables the next property fills with values of any JSON shape.
WITH_VARIABLES = [
    "query ($first: Int, $after: String) { tips(first: $first, after: $after) "
    "{ totalCount edges { cursor node { id sourceReference } } } }",
    "query ($filters: TipFilter) { tips(first: 5, filters: $filters) { totalCount } }",
    "query ($id: ID!) { node(id: $id) { id } }",
    "query ($input: TravellerLookupInput!) { travellerLookup(input: $input) "
    "{ matchedOn matches { score } } }",
    "query ($since: DateTime, $zone: String) { tipStatistics(by: CATEGORY, since: $since, "
    "timeZone: $zone) { total } }",
    "mutation ($input: CreateSourceInput!) { createSource(input: $input) "
    "{ source { id } errors { code field message } } }",
    "mutation ($input: CreateSubjectInput!) { createSubject(input: $input) "
    "{ subject { id } errors { code field message } } }",
]
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["RECEIVED", "2026-01-01T00:00:00Z", "1980-01-01", "Europe/London"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "exact",
                    "iRegex",
                    "inList",
                    "receivedAt",
                    "gt",
                    "name",
                    "kind",
                    "fullName",
                    "aliases",
                    "dateOfBirth",
                    "email",
                    "country",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@FUZZ
@given(data=st.data())
def test_variables_of_any_shape(data, world, analyst_client):
    operation = data.draw(st.sampled_from(WITH_VARIABLES), label="operation")
    names = re.findall(r"\$(\w+):", operation)
    variables = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(names, _JSON)))
    send(analyst_client, operation, variables)


def test_the_properties_can_fail(world, analyst_client, monkeypatch):
    # given a resolver that fails as a bug would
    from backend.services import sources

    def explode(**_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sources, "create_source", explode)
    # when it is called, then the properties catch it
    with pytest.raises(AssertionError, match="a server fault"):
        send(
            analyst_client,
            'mutation { createSource(input: {kind: NGO, name: "X"}) { errors { code } } }',
        )


def test_a_plain_query_meets_the_properties(world, analyst_client):
    # the world is visible, and an answer with data passes the same checks
    answer = send(analyst_client, f'{{ node(id: "{world[-3]}") {{ id ... on Tip {{ status }} }} }}')
    assert answer["data"]["node"]["status"] == "RECEIVED"
