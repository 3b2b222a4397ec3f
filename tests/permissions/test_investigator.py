"""The partner-agency investigator: narrow lookups, what they returned, notes, nothing more.

OWNER_ONLY tips must never reach an investigator by any path: list, node id guessing, a
nested relation from a visible record, a lookup, or a count.
"""

from __future__ import annotations

import datetime as dt

import pytest
from strawberry.relay import GlobalID

from backend import models as m
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    NoteFactory,
    OfficeFactory,
    ResearchResultFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DOB = dt.date(1975, 3, 2)
LOOKUP = """
query($input: TravellerLookupInput!) {
  travellerLookup(input: $input) {
    matchedOn relevantToInvestigation investigationContacts disseminationCaveat
    tips { id sourceReference }
    subjects { id fullName knownMisidentification redressCaseNumber }
    identifiers { id value }
  }
}
"""


def gid(obj) -> str:
    names = {m.Tip: "Tip", m.Subject: "Subject", m.Identifier: "Identifier", m.Lead: "Lead"}
    return str(GlobalID(names[type(obj)], str(obj.pk)))


@pytest.fixture
def world():
    """A visible tip and an OWNER_ONLY tip sharing an e-mail and a suspect, plus extras."""
    analyst = UserFactory(username="owner-analyst", role=m.Role.ANALYST)
    email = IdentifierFactory(raw_value="traveller@example.com")
    other_email = IdentifierFactory(raw_value="someone.else@example.com")
    suspect = SubjectFactory(full_name="José Álvarez", date_of_birth=DOB)
    suspect.identifier_links.create(identifier=email)
    victim = SubjectFactory(full_name="Victim Person")
    visible = TipFactory(source_reference="VISIBLE-1", narrative="secret narrative")
    hidden = TipFactory(
        source_reference="OWNER-ONLY-1", handling_caveat=m.HandlingCaveat.OWNER_ONLY
    )
    unrelated = TipFactory(source_reference="UNRELATED-1")
    for tip in (visible, hidden):
        SightingFactory(tip=tip, identifier=email)
        TipSubjectFactory(tip=tip, subject=suspect)
    SightingFactory(tip=visible, identifier=other_email)
    SightingFactory(tip=unrelated, identifier=other_email)
    TipSubjectFactory(tip=visible, subject=victim, role=m.SubjectRole.VICTIM)
    NoteFactory(record=visible, author=analyst, body="internal analyst note")
    NoteFactory(
        record=visible,
        author=analyst,
        body="targeting note",
        kind=m.NoteKind.TARGETING,
        screening_outcome=m.ScreeningOutcome.ADDITIONAL_SCREENING,
    )
    ResearchResultFactory(identifier=email, tip=visible)
    office = OfficeFactory(contact_point="HSI duty desk +1 202 555 0100")
    lead = LeadFactory(office=office, status=m.LeadStatus.REFERRED)
    lead.tips.add(visible)
    from backend.services.linking import link_tips

    link_tips(tip_ids=[visible.pk, hidden.pk, unrelated.pk])
    return {
        "email": email,
        "suspect": suspect,
        "victim": victim,
        "visible": visible,
        "hidden": hidden,
        "unrelated": unrelated,
        "other_email": other_email,
    }


@pytest.fixture
def investigator(gql_as):
    return gql_as(m.Role.INVESTIGATOR)


def lookup(gql, **criteria):
    return gql(LOOKUP, {"input": criteria})


@pytest.mark.parametrize(
    "query",
    [
        "{ tips(first: 5) { totalCount } }",
        "{ subjects(first: 5) { totalCount } }",
        "{ identifiers(first: 5) { totalCount } }",
        "{ leads(first: 5) { totalCount } }",
        "{ sources(first: 5) { totalCount } }",
        "{ offices(first: 5) { totalCount } }",
        "{ researchResults(first: 5) { totalCount } }",
        '{ identifierByValue(identifier: {kind: EMAIL, value: "traveller@example.com"}) { id } }',
    ],
)
def test_investigator_cannot_list_or_browse(world, investigator, query):
    result = investigator(query)
    assert not any((result["data"] or {}).values())
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_lookup_by_email_returns_only_what_investigator_may_see(world, investigator):
    # when the investigator looks the traveller up by e-mail (in another case)
    result = lookup(investigator, email="Traveller@EXAMPLE.com")
    data = result["data"]["travellerLookup"]
    # then only the visible tip comes back, never the OWNER_ONLY one
    assert [t["sourceReference"] for t in data["tips"]] == ["VISIBLE-1"]
    assert [s["fullName"] for s in data["subjects"]] == ["José Álvarez"]
    assert [i["value"] for i in data["identifiers"]] == ["traveller@example.com"]
    assert data["matchedOn"] == ["EMAIL"]
    # and it says an investigation is under way, who to call, and the no-redissemination rule
    assert data["relevantToInvestigation"] is True
    assert data["investigationContacts"] == ["HSI duty desk +1 202 555 0100"]
    assert "may not be passed on" in data["disseminationCaveat"]
    assert "may not be passed on" in result["extensions"]["dissemination"]
    # and the lookup was recorded with its disclosures
    recorded = m.TravellerLookup.objects.get()
    assert recorded.criteria == {"email": "traveller@example.com"}
    assert recorded.tip_hits == 1
    assert (
        m.Disclosure.objects.filter(object_id=world["hidden"].pk, content_type__model="tip").count()
        == 0
    )


def test_analyst_lookup_includes_owner_only_tips(world, gql):
    data = lookup(gql, email="traveller@example.com")["data"]["travellerLookup"]
    assert sorted(t["sourceReference"] for t in data["tips"]) == ["OWNER-ONLY-1", "VISIBLE-1"]
    assert "extensions" not in gql("{ viewer { role } }")


@pytest.mark.parametrize(
    ("name", "dob", "found"),
    [
        ("jose alvarez", DOB.isoformat(), ["José Álvarez"]),
        ("  JOSÉ   ÁLVAREZ ", DOB.isoformat(), ["José Álvarez"]),
        ("jose alvarez", "1975-03-03", []),
        ("maria alvarez", DOB.isoformat(), []),
    ],
)
def test_lookup_by_name_and_date_of_birth(world, investigator, name, dob, found):
    data = lookup(investigator, name=name, dateOfBirth=dob)["data"]["travellerLookup"]
    assert [s["fullName"] for s in data["subjects"]] == found
    assert data["matchedOn"] == (["NAME_AND_DATE_OF_BIRTH"] if found else [])


def test_victim_is_never_found_by_an_investigator_lookup(world, investigator):
    world["victim"].date_of_birth = DOB
    world["victim"].save()
    data = lookup(investigator, name="Victim Person", dateOfBirth=DOB.isoformat())
    assert data["data"]["travellerLookup"]["subjects"] == []


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({}, "input"),
        ({"name": "jose alvarez"}, "dateOfBirth"),
        ({"dateOfBirth": "1975-03-02"}, "name"),
        ({"name": "j", "dateOfBirth": "1975-03-02"}, "name"),
        ({"username": "someone"}, "platform"),
    ],
)
def test_empty_or_broad_lookups_are_refused(world, investigator, criteria, field):
    result = lookup(investigator, **criteria)
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}
    assert not m.TravellerLookup.objects.exists()


def test_malformed_identifier_in_lookup_is_a_typed_error(world, investigator):
    result = lookup(investigator, email="not-an-email")
    assert result["errors"][0]["extensions"]["code"] == "INVALID_IDENTIFIER"
    assert "not-an-email" in result["errors"][0]["message"]


def test_node_fetch_only_of_records_a_lookup_returned(world, investigator):
    query = "query($id: ID!) { node(id: $id) { id } }"
    visible, hidden, unrelated = world["visible"], world["hidden"], world["unrelated"]
    # before any lookup, nothing can be opened
    assert investigator(query, {"id": gid(visible)})["data"]["node"] is None
    lookup(investigator, email="traveller@example.com")
    # after it, the returned tip opens; the OWNER_ONLY and unrelated tips still do not
    assert investigator(query, {"id": gid(visible)})["data"]["node"] == {"id": gid(visible)}
    assert investigator(query, {"id": gid(hidden)})["data"]["node"] is None
    assert investigator(query, {"id": gid(unrelated)})["data"]["node"] is None


def test_nested_relations_never_lead_to_hidden_records(world, investigator):
    lookup(investigator, email="traveller@example.com")
    query = """query($e: ID!, $s: ID!, $t: ID!) {
      e: node(id: $e) { ... on Identifier {
        sightings { totalCount edges { node { tip { sourceReference } } } }
        subjects { totalCount }
      } }
      s: node(id: $s) { ... on Subject {
        tips { totalCount edges { node { tip { sourceReference } } } }
      } }
      t: node(id: $t) { ... on Tip {
        identifiers { totalCount edges { node { identifier { value } } } }
        subjects { totalCount edges { node { role subject { fullName } } } }
        notes { totalCount edges { node { body } } }
      } }
    }"""
    data = investigator(
        query, {"e": gid(world["email"]), "s": gid(world["suspect"]), "t": gid(world["visible"])}
    )["data"]
    # from the e-mail and from the suspect, only the visible tip is reachable, and counted
    assert data["e"]["sightings"]["totalCount"] == 1
    assert data["e"]["sightings"]["edges"][0]["node"]["tip"]["sourceReference"] == "VISIBLE-1"
    assert data["s"]["tips"]["totalCount"] == 1
    # on the tip: only the disclosed identifier, no victim, only the targeting note
    assert [e["node"]["identifier"]["value"] for e in data["t"]["identifiers"]["edges"]] == [
        "traveller@example.com"
    ]
    assert [e["node"]["role"] for e in data["t"]["subjects"]["edges"]] == ["SUSPECT"]
    assert [e["node"]["body"] for e in data["t"]["notes"]["edges"]] == ["targeting note"]


@pytest.mark.parametrize(
    "field",
    [
        "source { name }",
        "narrative",
        "actionableReason",
        "victims { totalCount }",
        "researchResults { totalCount }",
        "leads { totalCount }",
        "links { totalCount }",
    ],
)
def test_need_to_know_fields_are_refused_per_field(world, investigator, gql, field):
    lookup(investigator, email="traveller@example.com")
    query = f"query($id: ID!) {{ node(id: $id) {{ ... on Tip {{ sourceReference {field} }} }} }}"
    # an investigator gets the tip with that field refused, with a stable code
    result = investigator(query, {"id": gid(world["visible"])})
    assert result["data"]["node"]["sourceReference"] == "VISIBLE-1"
    assert [e["extensions"]["code"] for e in result["errors"]] == ["NEED_TO_KNOW"]
    # an analyst reads it
    assert "errors" not in gql(query, {"id": gid(world["visible"])})


def test_need_to_know_fields_say_so_in_the_schema():
    from schema import schema

    tip = schema.get_type_by_name("Tip")
    fields = {f.python_name: f for f in tip.fields}
    assert "Not for investigators" in fields["source"].description


ADD_NOTE = """mutation($input: AddNoteInput!) { addNote(input: $input) {
  note { body kind screeningOutcome flightNumber } errors { code field } } }"""


def test_investigator_adds_targeting_note_to_a_record_found(world, investigator):
    lookup(investigator, email="traveller@example.com")
    result = investigator(
        ADD_NOTE,
        {
            "input": {
                "recordId": gid(world["visible"]),
                "body": "Traveller screened at JFK",
                "kind": "TARGETING",
                "travel": {"screeningOutcome": "REFERRED_TO_SECONDARY", "flightNumber": "xy 12"},
            }
        },
    )
    assert result["data"]["addNote"] == {
        "note": {
            "body": "Traveller screened at JFK",
            "kind": "TARGETING",
            "screeningOutcome": "REFERRED_TO_SECONDARY",
            "flightNumber": "XY12",
        },
        "errors": [],
    }


@pytest.mark.parametrize("record", ["hidden", "unrelated"])
def test_investigator_cannot_note_records_not_found(world, investigator, record):
    lookup(investigator, email="traveller@example.com")
    before = m.Note.objects.count()
    result = investigator(ADD_NOTE, {"input": {"recordId": gid(world[record]), "body": "x"}})
    assert result["data"]["addNote"]["errors"] == [{"code": "NOT_FOUND", "field": "recordId"}]
    assert m.Note.objects.count() == before


@pytest.mark.parametrize(
    "mutation",
    [
        'mutation { createSubject(input: {fullName: "X"}) { errors { code } } }',
        'mutation { updateTip(input: {id: "VGlwOjE=", narrative: "x"}) { errors { code } } }',
        'mutation { removeRecord(id: "VGlwOjE=", reason: "x") { errors { code } } }',
    ],
)
def test_investigator_cannot_create_edit_or_remove(world, investigator, mutation):
    result = investigator(mutation)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
