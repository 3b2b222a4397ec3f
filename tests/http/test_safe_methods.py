"""No state change over GET: a link or an image on another site can make a signed-in browser
GET /graphql, so a GET runs no mutation and no query that records something (a traveller
lookup records the lookup and what it disclosed). Refused with 405 METHOD_NOT_ALLOWED before
anything runs, audited; and a GET that changed a record anyway is rolled back and refused."""

from __future__ import annotations

import pytest
from django.test import Client
from strawberry.relay import GlobalID

from audit.models import AuditEvent
from backend import models as m
from permissions.matrix import OPERATIONS, WRITING_QUERIES
from schema import schema
from tests.conftest import register_document
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SubjectFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

EMAIL = "get-traveller@example.com"
LOOKUP = f'query Lookup {{ travellerLookup(input: {{email: "{EMAIL}"}}) {{ matchedOn }} }}'
#: What a browser sends when a cross-site link or page makes it GET a URL.
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def operations() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))


@pytest.fixture
def suspect_tip() -> m.Tip:
    """A tip whose suspect holds the e-mail EMAIL."""
    email = IdentifierFactory(raw_value=EMAIL)
    subject = SubjectFactory(full_name="Gerald Getter")
    subject.identifier_links.create(identifier=email)
    sighting = SightingFactory(identifier=email)
    TipSubjectFactory(tip=sighting.tip, subject=subject)
    return sighting.tip


#: A lookup written every way the GET guard must see through.
LOOKUPS_HOWEVER_WRITTEN = [
    # through a named fragment, an inline fragment, an alias, beside a harmless field
    f'query F {{ ...L }} fragment L on Query {{ travellerLookup(input: {{email: "{EMAIL}"}}) '
    "{ matchedOn } }",
    f'query I {{ ... on Query {{ travellerLookup(input: {{email: "{EMAIL}"}}) '
    "{ matchedOn } } }",
    f'query A {{ viewer {{ username }} x: travellerLookup(input: {{email: "{EMAIL}"}}) '
    "{ matchedOn } }",
    # skipped by a directive: the check does not guess
    f'query S {{ travellerLookup(input: {{email: "{EMAIL}"}}) @skip(if: false) {{ matchedOn }} }}',
]


@pytest.fixture(autouse=True)
def registered_lookups() -> None:
    """The lookups the investigator sends are registered, as a partner tool's are: what is
    tested here is the GET guard, not the trusted-documents rule."""
    for query in (LOOKUP, *LOOKUPS_HOWEVER_WRITTEN):
        register_document(query)


def investigator() -> Client:
    client = Client()
    client.force_login(UserFactory(username="get-investigator", role=m.Role.INVESTIGATOR))
    return client


def nothing_recorded() -> bool:
    return not (
        m.TravellerLookup.objects.exists()
        or m.Disclosure.objects.exists()
        or m.DeconflictionNotice.objects.exists()
    )


def test_a_traveller_lookup_over_get_is_refused_and_records_nothing(suspect_tip: m.Tip) -> None:
    # given a signed-in partner investigator and a tip whose suspect holds an e-mail
    client = investigator()
    # when a cross-site link makes the browser GET the lookup
    response = client.get("/graphql", {"query": LOOKUP}, headers=BROWSER)
    # then it is refused with 405 and a coded error, before it ran
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["METHOD_NOT_ALLOWED"]
    assert "travellerLookup" in body["errors"][0]["message"]
    # and nothing was recorded: no lookup, no disclosure, no notice
    assert nothing_recorded()
    # so the tip is not opened to the investigator
    node = f'{{ node(id: "{GlobalID("Tip", str(suspect_tip.pk))}") {{ id }} }}'
    register_document(node)
    opened = client.post("/graphql", {"query": node}, content_type="application/json")
    assert opened.json()["data"]["node"] is None
    # and the refusal has its audit row, naming the operation
    refusal = operations()[0]
    assert (refusal.operation_type, refusal.operation_name) == ("query", "Lookup")
    assert (refusal.outcome, refusal.error_codes) == ("INVALID", ["METHOD_NOT_ALLOWED"])
    assert refusal.records_returned == []


def test_the_same_lookup_over_post_runs_and_is_recorded(suspect_tip: m.Tip) -> None:
    response = investigator().post("/graphql", {"query": LOOKUP}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["data"]["travellerLookup"]["matchedOn"]
    assert m.TravellerLookup.objects.count() == 1
    assert m.Disclosure.objects.filter(object_id=suspect_tip.pk).exists()


@pytest.mark.parametrize("query", LOOKUPS_HOWEVER_WRITTEN)
def test_a_lookup_over_get_is_refused_however_it_is_written(suspect_tip: m.Tip, query: str) -> None:
    response = investigator().get("/graphql", {"query": query}, headers=BROWSER)
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert nothing_recorded()
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["METHOD_NOT_ALLOWED"])  # never ran


def test_a_mutation_over_get_is_refused_with_its_audit_row() -> None:
    # given a signed-in analyst
    client = Client()
    client.force_login(UserFactory(username="get-analyst", role=m.Role.ANALYST))
    # when a link makes the browser GET a mutation
    mutation = 'mutation Make { createSubject(input: {fullName: "By Link"}) { subject { id } } }'
    response = client.get("/graphql", {"query": mutation}, headers=BROWSER)
    # then it is refused with 405 before it ran, and audited with its name
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert not m.Subject.objects.filter(full_name="By Link").exists()
    [row] = operations()
    assert (row.operation_type, row.operation_name, row.outcome) == ("mutation", "Make", "INVALID")
    assert row.error_codes == ["METHOD_NOT_ALLOWED"]


def test_a_get_may_run_the_query_of_a_document_that_also_holds_a_mutation() -> None:
    # only the operation that would run counts (operationName chooses it)
    client = Client()
    client.force_login(UserFactory(username="get-analyst", role=m.Role.ANALYST))
    document = (
        "query Read { viewer { username } } "
        'mutation Make { createSubject(input: {fullName: "Never"}) { subject { id } } }'
    )
    response = client.get("/graphql", {"query": document, "operationName": "Read"})
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"username": "get-analyst"}}}
    [row] = operations()
    assert (row.operation_name, row.outcome) == ("Read", "ALLOWED")


def test_a_plain_query_over_get_is_answered(suspect_tip: m.Tip) -> None:
    client = Client()
    client.force_login(UserFactory(username="get-analyst", role=m.Role.ANALYST))
    response = client.get("/graphql", {"query": "{ tips { totalCount } }"}, headers=BROWSER)
    assert response.status_code == 200
    assert response.json() == {"data": {"tips": {"totalCount": 1}}}


def test_a_query_that_writes_without_being_declared_is_rolled_back_and_refused(
    suspect_tip: m.Tip, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a writing query that someone forgot to declare in permissions.matrix
    monkeypatch.setattr("schema.safe_methods.WRITING_QUERIES", frozenset())
    # when an investigator's browser GETs it
    response = investigator().get("/graphql", {"query": LOOKUP}, headers=BROWSER)
    # then what it wrote is rolled back and the request refused all the same
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "matchedOn" not in response.content.decode()
    assert nothing_recorded()
    # and its row says it ran, failed, and returned nothing
    [row] = operations()
    assert (row.operation_name, row.outcome) == ("Lookup", "FAILED")
    assert row.error_codes == ["METHOD_NOT_ALLOWED"]
    assert (row.records_returned, row.records_changed) == ([], [])


def test_writing_queries_are_query_fields_that_say_post_only() -> None:
    assert set(OPERATIONS) >= WRITING_QUERIES
    for key in WRITING_QUERIES:
        kind, name = key.split(".")
        assert kind == "Query"
        field = schema._schema.query_type.fields[name]
        assert "POST only" in (field.description or ""), key
