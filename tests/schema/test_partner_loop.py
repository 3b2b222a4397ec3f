"""Partners in the loop over GraphQL: the alerts query and acknowledgeAlerts, redress cases on
the cleared traveller and their mark on later lookups and screenings, redissemination requests,
and the accounting of disclosures made by lookup, screening and alert (query and CSV). Each
rule: allowed, denied and scoped. Partner calls send the registered documents of
schema/documents/."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from strawberry.relay import GlobalID

from audit.models import AuditEvent
from backend import models as m
from backend.registry import type_name
from backend.services.alerts import raise_link_alerts
from permissions.matrix import TRUSTED_DOCUMENTS_ONLY
from tests.conftest import GraphQL, make_gql, registering
from tests.factories import (
    IdentifierFactory,
    OfficeFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BORN = dt.date(1984, 2, 29)
FLIGHT = "BA117 2026-05-01 LHR-JFK"


def document(name: str) -> str:
    return (Path(settings.GRAPHQL_DOCUMENTS_DIR) / f"{name}.graphql").read_text()


def gid(record: Any) -> str:
    return str(GlobalID(type_name(type(record)), str(record.pk)))


def signed_in(user: m.User) -> GraphQL:
    client = Client()
    client.force_login(user)
    gql = make_gql(client)
    return registering(gql) if user.role in TRUSTED_DOCUMENTS_ONLY else gql


def partner(name: str, agency: str = "CBP National Targeting Center") -> m.User:
    return UserFactory(
        username=name, role=m.Role.INVESTIGATOR, agency=agency, first_name="Dana", last_name=name
    )


def codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def errors(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


class World:
    """Mallory, a suspect born on BORN holding an e-mail and a passport, named in a tip in
    which the e-mail was seen."""

    def __init__(self) -> None:
        self.suspect = SubjectFactory(full_name="Mallory Keane", date_of_birth=BORN)
        self.email = IdentifierFactory(raw_value="mallory@example.com")
        self.suspect.identifier_links.create(identifier=self.email)
        self.tip = TipFactory(source_reference="OLD-1")
        SightingFactory(tip=self.tip, identifier=self.email)
        TipSubjectFactory(tip=self.tip, subject=self.suspect)
        self.source = SourceFactory()


@pytest.fixture
def world() -> World:
    return World()


def look_up(user: m.User, **criteria: Any) -> dict:
    result = signed_in(user)(document("TravellerLookup"), {"input": criteria})
    assert "errors" not in result, result
    return result["data"]["travellerLookup"]


def screen(user: m.User, *travellers: dict[str, Any], reference: str = FLIGHT) -> dict:
    result = signed_in(user)(
        document("ScreenPassengers"),
        {"input": {"reference": reference, "travellers": list(travellers)}},
    )
    assert "errors" not in result, result
    return result["data"]["screenPassengers"]


CREATE_TIP = """
mutation ($input: CreateTipInput!) {
  createTip(input: $input) { tip { id sourceReference } errors { code message field } }
}
"""


def analyst_adds_tip(world: World, reference: str, *, suspect: bool = False) -> str:
    analyst = UserFactory(username=f"analyst-{reference}", role=m.Role.ANALYST)
    result = signed_in(analyst)(
        CREATE_TIP,
        {
            "input": {
                "sourceId": gid(world.source),
                "sourceReference": reference,
                "receivedAt": "2026-01-05T10:00:00Z",
                "category": "DISTRIBUTION",
                "identifiers": [{"identifier": {"kind": "EMAIL", "value": "Mallory@Example.com"}}],
                "subjects": [{"subjectId": gid(world.suspect)}] if suspect else [],
            }
        },
    )
    assert result["data"]["createTip"]["errors"] == [], result
    return result["data"]["createTip"]["tip"]["id"]


def alerts_of(user: m.User, unacknowledged: bool = True) -> list[dict]:
    result = signed_in(user)(document("PartnerAlerts"), {"unacknowledged": unacknowledged})
    assert "errors" not in result, result
    return [edge["node"] for edge in result["data"]["alerts"]["edges"]]


# -- alerts ----------------------------------------------------------------------------------


def test_a_partner_reads_the_alert_of_a_new_tip_and_may_open_the_tip(world: World) -> None:
    # given Alice looked Mallory's e-mail up
    alice = partner("alice")
    look_up(alice, email="mallory@example.com")
    # when an analyst adds a tip in which the e-mail is seen
    tip_id = analyst_adds_tip(world, "NEW-1")
    # then Alice's alerts hold it, with the tip she may now open and the record it links to
    [alert] = alerts_of(alice)
    assert alert["kind"] == "LINKED_TIP"
    assert alert["tip"] == {
        "id": tip_id,
        "sourceReference": "NEW-1",
        "receivedAt": alert["tip"]["receivedAt"],
        "category": "DISTRIBUTION",
        "status": "RECEIVED",
        "priority": alert["tip"]["priority"],
        "handlingMarkings": [],
    }
    assert alert["recordId"] == gid(world.email)
    assert "NEW-1" in alert["message"]


def test_alerts_are_scoped_to_their_addressee(world: World) -> None:
    alice, bob = partner("alice"), partner("bob", "Port Police")
    look_up(alice, email="mallory@example.com")
    analyst_adds_tip(world, "NEW-1")
    # Bob looked nothing up: no alert, and he cannot acknowledge Alice's
    assert alerts_of(bob) == []
    [alert] = alerts_of(alice)
    result = signed_in(bob)(document("AcknowledgeAlerts"), {"ids": [alert["id"]]})
    assert errors(result["data"]["acknowledgeAlerts"]) == ["NOT_FOUND"]
    assert len(alerts_of(alice)) == 1


def test_analysts_see_their_office_s_alerts_only() -> None:
    miami, boston = OfficeFactory(name="Miami"), OfficeFactory(name="Boston")
    m.Alert.objects.create(kind=m.AlertKind.REFERRAL, office=miami, message="to Miami")
    m.Alert.objects.create(kind=m.AlertKind.REFERRAL, office=boston, message="to Boston")
    query = "{ alerts { totalCount edges { node { kind message lead { id } } } } }"
    in_miami = UserFactory(username="m-analyst", role=m.Role.ANALYST, office=miami)
    result = signed_in(in_miami)(query)
    assert [e["node"]["message"] for e in result["data"]["alerts"]["edges"]] == ["to Miami"]
    nowhere = UserFactory(username="n-analyst", role=m.Role.ANALYST)
    assert signed_in(nowhere)(query)["data"]["alerts"]["totalCount"] == 0


@pytest.mark.parametrize(
    "role",
    [m.Role.PROGRAM_MANAGER, m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR, m.Role.REPORTING_CLIENT],
)
def test_other_roles_may_not_read_or_acknowledge_alerts(gql_as, role: str) -> None:
    ask = gql_as(role)
    assert codes(ask("{ alerts { totalCount } }")) in (["FORBIDDEN"], ["DOCUMENT_NOT_TRUSTED"])
    result = ask(document("AcknowledgeAlerts"), {"ids": [str(GlobalID("Alert", "1"))]})
    assert codes(result) == ["FORBIDDEN"]


def test_anonymous_may_not_read_alerts(anonymous_gql: GraphQL) -> None:
    assert codes(anonymous_gql("{ alerts { totalCount } }")) == ["UNAUTHENTICATED"]


def test_acknowledging_is_all_or_nothing(world: World) -> None:
    alice = partner("alice")
    look_up(alice, email="mallory@example.com")
    analyst_adds_tip(world, "NEW-1")
    analyst_adds_tip(world, "NEW-2")
    first, second = alerts_of(alice)
    ack = signed_in(alice)
    # an unknown id among them: nothing is acknowledged
    result = ack(document("AcknowledgeAlerts"), {"ids": [first["id"], gid(m.Alert(pk=987654))]})
    assert errors(result["data"]["acknowledgeAlerts"]) == ["NOT_FOUND"]
    assert len(alerts_of(alice)) == 2
    # then one is acknowledged; acknowledging it again is INVALID_INPUT
    done = ack(document("AcknowledgeAlerts"), {"ids": [first["id"]]})["data"]["acknowledgeAlerts"]
    assert done["errors"] == [] and done["alerts"][0]["acknowledgedAt"]
    again = ack(document("AcknowledgeAlerts"), {"ids": [first["id"]]})["data"]["acknowledgeAlerts"]
    assert errors(again) == ["INVALID_INPUT"]
    assert [a["id"] for a in alerts_of(alice)] == [second["id"]]
    assert len(alerts_of(alice, unacknowledged=False)) == 2


# -- the accounting: lookup, screening and alert ----------------------------------------------

ACCOUNTING = """
query ($id: ID!) {
  accountingOfDisclosures(recordId: $id, first: 100) {
    edges { node {
      recordId recordType concerns disclosedAt recipientUsername recipientFullName
      recipientAgency recipientRole lookupId purpose screeningReference alertId
      redisseminations { requestId recipient purpose status decidedByUsername }
    } }
  }
}
"""


def accounting(record_id: str) -> list[dict]:
    result = signed_in(UserFactory(username="aud", role=m.Role.AUDITOR))(
        ACCOUNTING, {"id": record_id}
    )
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["accountingOfDisclosures"]["edges"]]


def csv_lines(record_id: str) -> list[dict[str, str]]:
    client = Client()
    client.force_login(UserFactory(username="aud", role=m.Role.AUDITOR))
    response = client.get(f"/disclosures/{record_id}.csv")
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_disclosures_by_lookup_screening_and_alert_are_accounted_for(world: World) -> None:
    # given Alice looks the traveller up, Bob screens a passenger list with her in it,
    alice, bob = partner("alice"), partner("bob", "Port Police")
    lookup_id = look_up(alice, email="mallory@example.com")["lookupId"]
    screened = screen(bob, {"name": "Mallory Keane", "dateOfBirth": BORN.isoformat()})
    screening_lookup = screened["results"][0]["lookup"]["lookupId"]
    # and a new tip naming her as a suspect alerts them both (Alice by the e-mail and the
    # person, Bob by the person): one alert each, disclosing the tip
    new_tip = analyst_adds_tip(world, "NEW-1", suspect=True)
    alert_of = {
        user.username: str(GlobalID("Alert", str(a.pk)))
        for user in (alice, bob)
        for a in m.Alert.objects.filter(recipient=user, kind=m.AlertKind.LINKED_TIP)[:1]
    }
    assert set(alert_of) == {"alice", "bob"}
    # when an auditor reads Mallory's accounting
    rows = accounting(gid(world.suspect))
    # then it has the lookup's, the screening's and the alerts' disclosures, each with its
    # recipient and purpose
    found = {
        (r["recipientUsername"], r["recordId"], r["concerns"], r["purpose"], r["lookupId"])
        for r in rows
    }
    assert ("alice", gid(world.suspect), "RECORD", "TRAVELLER_LOOKUP", lookup_id) in found
    assert ("bob", gid(world.suspect), "RECORD", "PASSENGER_SCREENING", screening_lookup) in found
    alerted = [r for r in rows if r["purpose"] == "ALERT"]
    assert {(r["recipientUsername"], r["recordId"], r["concerns"]) for r in alerted} == {
        ("alice", new_tip, "TIP_NAMING"),
        ("bob", new_tip, "TIP_NAMING"),
    }
    assert all(r["lookupId"] is None for r in alerted)
    assert {r["recipientUsername"]: r["alertId"] for r in alerted} == alert_of
    assert {r["recipientAgency"] for r in alerted} == {
        "CBP National Targeting Center",
        "Port Police",
    }
    screened_row = next(r for r in rows if r["purpose"] == "PASSENGER_SCREENING")
    assert screened_row["screeningReference"] == FLIGHT
    # and the CSV has the same lines, in the same order
    lines = csv_lines(gid(world.suspect))
    assert [
        (
            line["record_id"],
            line["concerns"],
            line["recipient_username"],
            line["recipient_agency"],
            line["purpose"],
            line["lookup_id"] or None,
            line["alert_id"] or None,
            line["screening_reference"] or None,
        )
        for line in lines
    ] == [
        (
            r["recordId"],
            r["concerns"],
            r["recipientUsername"],
            r["recipientAgency"],
            r["purpose"],
            r["lookupId"],
            r["alertId"],
            r["screeningReference"],
        )
        for r in rows
    ]
    assert {line["purpose"] for line in lines} == {
        "TRAVELLER_LOOKUP",
        "PASSENGER_SCREENING",
        "ALERT",
    }


# -- redress on the cleared traveller ---------------------------------------------------------

RECORD_CASE = """
mutation ($input: RecordRedressCaseInput!) {
  recordRedressCase(input: $input) {
    redressCase { id caseNumber fullName documentNumbers outcome decidedOn }
    errors { code message field }
  }
}
"""
UPDATE_CASE = """
mutation ($input: UpdateRedressCaseInput!) {
  updateRedressCase(input: $input) {
    redressCase { id outcome decidedOn }
    errors { code message field }
  }
}
"""
CASES = "{ redressCases { totalCount edges { node { caseNumber outcome } } } }"


def case_input(**overrides: Any) -> dict[str, Any]:
    return {
        "caseNumber": "trip 2025 0001",
        "fullName": "Mallory Keane",
        "dateOfBirth": BORN.isoformat(),
        "documentNumbers": ["k1234567"],
        "outcome": "CLEARED",
        "openedOn": "2025-01-10",
        "decidedOn": "2025-03-01",
        **overrides,
    }


def record_case(**overrides: Any) -> dict:
    analyst = UserFactory(username="redress-analyst", role=m.Role.ANALYST)
    return signed_in(analyst)(RECORD_CASE, {"input": case_input(**overrides)})["data"][
        "recordRedressCase"
    ]


def test_an_analyst_records_a_case_and_reads_it_back(gql) -> None:
    payload = record_case()
    assert payload["errors"] == []
    assert payload["redressCase"]["caseNumber"] == "TRIP 2025 0001"
    assert payload["redressCase"]["documentNumbers"] == ["K1234567"]
    assert [e["node"] for e in gql(CASES)["data"]["redressCases"]["edges"]] == [
        {"caseNumber": "TRIP 2025 0001", "outcome": "CLEARED"}
    ]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"decidedOn": None}, "INVALID_INPUT", "decidedOn"),
        ({"outcome": "PENDING"}, "INVALID_INPUT", "decidedOn"),
        ({"decidedOn": "2024-01-01"}, "INVALID_INPUT", "decidedOn"),
        ({"fullName": "Al"}, "INVALID_INPUT", "fullName"),
        ({"caseNumber": "  "}, "INVALID_INPUT", "caseNumber"),
        ({"documentNumbers": ["!!"]}, "INVALID_IDENTIFIER", "documentNumbers[0]"),
        (
            {"openedOn": "2999-01-01", "decidedOn": None, "outcome": "PENDING"},
            "INVALID_INPUT",
            "openedOn",
        ),
    ],
)
def test_a_bad_case_is_a_typed_error_and_nothing_is_written(
    overrides: dict, code: str, field: str
) -> None:
    payload = record_case(**overrides)
    assert payload["redressCase"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert m.RedressCase.objects.count() == 0


def test_a_case_number_recorded_twice_is_a_duplicate() -> None:
    record_case()
    assert errors(record_case(caseNumber="TRIP 2025  0001")) == ["DUPLICATE"]


def test_a_case_is_updated_and_its_decision_cleared(gql) -> None:
    case_id = record_case()["redressCase"]["id"]
    payload = gql(UPDATE_CASE, {"input": {"id": case_id, "outcome": "PENDING", "decidedOn": None}})
    assert payload["data"]["updateRedressCase"] == {
        "redressCase": {"id": case_id, "outcome": "PENDING", "decidedOn": None},
        "errors": [],
    }
    bad = gql(UPDATE_CASE, {"input": {"id": case_id, "outcome": "CLEARED"}})
    assert errors(bad["data"]["updateRedressCase"]) == ["INVALID_INPUT"]
    assert m.RedressCase.objects.get().outcome == "PENDING"


@pytest.mark.parametrize(
    "role",
    [m.Role.INVESTIGATOR, m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR, m.Role.REPORTING_CLIENT],
)
def test_redress_cases_are_the_owning_agency_s(gql_as, role: str) -> None:
    record_case()
    ask = gql_as(role)
    assert codes(ask(CASES)) == ["FORBIDDEN"]
    assert codes(ask(RECORD_CASE, {"input": case_input(caseNumber="X")})) == ["FORBIDDEN"]
    assert m.RedressCase.objects.count() == 1


def test_a_program_manager_reads_cases_but_may_not_record_them(gql_as) -> None:
    record_case()
    pm = gql_as(m.Role.PROGRAM_MANAGER)
    assert pm(CASES)["data"]["redressCases"]["totalCount"] == 1
    assert codes(pm(RECORD_CASE, {"input": case_input(caseNumber="Y")})) == ["FORBIDDEN"]


def test_a_partner_lookup_of_a_cleared_traveller_shows_the_mark_first(world: World) -> None:
    record_case()
    # by name and date of birth: the suspect Mallory matches, the traveller was cleared
    result = look_up(partner("alice"), name="Mallory Keane", dateOfBirth=BORN.isoformat())
    assert result["redress"] == [
        {
            "caseNumber": "TRIP 2025 0001",
            "decidedOn": "2025-03-01",
            "matchedBy": "NAME_AND_DATE_OF_BIRTH",
        }
    ]
    [match] = result["matches"]
    first = match["reasons"][0]
    assert (first["field"], first["how"]) == ("REDRESS", "CLEARED")
    assert "TRIP 2025 0001" in first["detail"] and "misidentification" in first["detail"]
    assert [r["field"] for r in match["reasons"][1:]] == ["NAME", "DATE_OF_BIRTH"]


def test_the_mark_follows_the_passport_and_only_a_cleared_case(world: World) -> None:
    record_case()
    record_case(
        caseNumber="TRIP-PENDING", outcome="PENDING", decidedOn=None, documentNumbers=["P7654321"]
    )
    alice = partner("alice")
    by_passport = look_up(alice, email="mallory@example.com", passport="K1234567")
    assert [r["matchedBy"] for r in by_passport["redress"]] == ["PASSPORT"]
    pending = look_up(alice, email="mallory@example.com", passport="P7654321")
    assert pending["redress"] == []
    assert pending["matches"][0]["reasons"][0]["field"] != "REDRESS"
    other = look_up(alice, name="Mallory Keane", dateOfBirth="1990-01-01")
    assert other["redress"] == []


def test_a_screening_marks_the_cleared_traveller_only(world: World) -> None:
    record_case()
    answer = screen(
        partner("bob"),
        {"name": "Mallory Keane", "dateOfBirth": BORN.isoformat()},
        {"email": "nobody@example.com"},
    )
    marked, unmarked = (r["lookup"] for r in answer["results"])
    assert [r["caseNumber"] for r in marked["redress"]] == ["TRIP 2025 0001"]
    assert marked["matches"][0]["reasons"][0]["field"] == "REDRESS"
    assert unmarked["redress"] == []


# -- redissemination --------------------------------------------------------------------------

DECIDE = """
mutation ($input: DecideRedisseminationInput!) {
  decideRedissemination(input: $input) {
    request { id status decisionReason decidedAt }
    errors { code message field }
  }
}
"""
REQUESTS = "{ redisseminationRequests { edges { node { id recipient status requestedBy } } } }"


def ask_to_pass_on(user: m.User, record_id: str, recipient: str = "RCMP Border Unit") -> dict:
    result = signed_in(user)(
        document("RequestRedissemination"),
        {"input": {"recordId": record_id, "recipient": recipient, "purpose": "joint case 42"}},
    )
    assert "errors" not in result, result
    return result["data"]["requestRedissemination"]


def test_a_partner_asks_an_analyst_decides_the_partner_is_alerted(world: World, gql) -> None:
    alice = partner("alice")
    look_up(alice, email="mallory@example.com")
    # when Alice asks to pass the tip on
    asked = ask_to_pass_on(alice, gid(world.tip))
    assert asked["errors"] == []
    request = asked["request"]
    assert (request["recordId"], request["status"]) == (gid(world.tip), "PENDING")
    # an analyst sees it and approves it
    [listed] = [e["node"] for e in gql(REQUESTS)["data"]["redisseminationRequests"]["edges"]]
    assert listed["requestedBy"] == "alice (CBP National Targeting Center)"
    decided = gql(DECIDE, {"input": {"requestId": request["id"], "approve": True}})
    assert decided["data"]["decideRedissemination"]["request"]["status"] == "APPROVED"
    # then Alice is alerted of the decision
    [alert] = alerts_of(alice)
    assert alert["kind"] == "REDISSEMINATION_DECIDED"
    assert alert["redissemination"]["status"] == "APPROVED"
    assert alert["recordId"] == gid(world.tip)
    # and the accounting lists the request beside the disclosure, in the CSV too
    [row] = accounting(gid(world.tip))
    assert [(x["recipient"], x["status"]) for x in row["redisseminations"]] == [
        ("RCMP Border Unit", "APPROVED")
    ]
    [line] = csv_lines(gid(world.tip))
    assert line["redisseminations"].startswith("APPROVED to RCMP Border Unit for joint case 42")
    # and both operations are audited, naming the request
    rows = AuditEvent.objects.filter(operation_name__in=["RequestRedissemination"]).order_by("seq")
    request_pk = m.RedisseminationRequest.objects.get().pk
    assert [r.records_changed for r in rows] == [[f"RedisseminationRequest:{request_pk}"]]


def test_a_decision_is_final_and_a_refusal_needs_its_reason(world: World, gql) -> None:
    alice = partner("alice")
    look_up(alice, email="mallory@example.com")
    request_id = ask_to_pass_on(alice, gid(world.email))["request"]["id"]
    no_reason = gql(DECIDE, {"input": {"requestId": request_id, "approve": False}})
    assert errors(no_reason["data"]["decideRedissemination"]) == ["INVALID_INPUT"]
    refused = gql(
        DECIDE, {"input": {"requestId": request_id, "approve": False, "reason": "ongoing op"}}
    )["data"]["decideRedissemination"]
    assert refused["request"]["status"] == "REFUSED"
    again = gql(DECIDE, {"input": {"requestId": request_id, "approve": True}})
    assert errors(again["data"]["decideRedissemination"]) == ["INVALID_TRANSITION"]
    assert m.RedisseminationRequest.objects.get().status == "REFUSED"
    assert "ongoing op" in alerts_of(alice)[0]["message"]


def test_a_partner_may_ask_only_about_what_was_disclosed_to_them(world: World) -> None:
    alice, bob = partner("alice"), partner("bob")
    look_up(alice, email="mallory@example.com")
    # Bob received nothing: NOT_FOUND, nothing written
    assert errors(ask_to_pass_on(bob, gid(world.tip))) == ["NOT_FOUND"]
    lead = m.Lead.objects.create(title="never disclosed", office=OfficeFactory())
    assert errors(ask_to_pass_on(alice, gid(lead))) == ["NOT_FOUND"]
    assert errors(ask_to_pass_on(alice, gid(world.tip), recipient=" ")) == ["INVALID_INPUT"]
    assert m.RedisseminationRequest.objects.count() == 0
    # Alice's request is hers: Bob's list is empty
    ask_to_pass_on(alice, gid(world.tip))
    mine = signed_in(bob)(document("RedisseminationRequests"), {})
    assert mine["data"]["redisseminationRequests"]["edges"] == []
    hers = signed_in(alice)(document("RedisseminationRequests"), {})
    assert len(hers["data"]["redisseminationRequests"]["edges"]) == 1


def test_only_investigators_ask_and_only_analysts_decide(world: World, gql_as) -> None:
    alice = partner("alice")
    look_up(alice, email="mallory@example.com")
    request_id = ask_to_pass_on(alice, gid(world.tip))["request"]["id"]
    for role in (m.Role.ANALYST, m.Role.PROGRAM_MANAGER, m.Role.AUDITOR):
        result = gql_as(role)(
            document("RequestRedissemination"),
            {"input": {"recordId": gid(world.tip), "recipient": "x", "purpose": "y"}},
        )
        assert codes(result) == ["FORBIDDEN"]
    for role in (m.Role.PROGRAM_MANAGER, m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR):
        result = gql_as(role)(DECIDE, {"input": {"requestId": request_id, "approve": True}})
        assert codes(result) == ["FORBIDDEN"]
    decide = signed_in(alice)(DECIDE, {"input": {"requestId": request_id, "approve": True}})
    assert codes(decide) in (["FORBIDDEN"], ["DOCUMENT_NOT_TRUSTED"])
    assert m.RedisseminationRequest.objects.get().status == "PENDING"


def test_the_alerts_page_costs_the_same_queries_for_2_or_20_alerts(world: World) -> None:
    alice = partner("alice")
    look_up(alice, email="mallory@example.com")
    ask = signed_in(alice)

    def queries_for(n: int) -> int:
        for i in range(n):
            tip = TipFactory(source_reference=f"Q{n}-{i}")
            SightingFactory(tip=tip, identifier=world.email)
            raise_link_alerts([tip.pk])
        ask(document("PartnerAlerts"), {})  # warm caches
        with CaptureQueriesContext(connection) as captured:
            result = ask(document("PartnerAlerts"), {})
        edges = result["data"]["alerts"]["edges"]
        assert len(edges) == m.Alert.objects.filter(recipient=alice).count()
        assert all(e["node"]["tip"] is not None for e in edges)
        return len(captured)

    assert queries_for(2) == queries_for(20)
