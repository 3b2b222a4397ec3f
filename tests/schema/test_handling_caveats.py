"""Each handling caveat has one effect (HandlingCaveat's docstring):

- NONE: a partner may be shown the tip; no marking;
- LAW_ENFORCEMENT_SENSITIVE: a partner may be shown the tip, and the marking travels with it
  and with every person and identifier reached through it: ``handlingMarkings`` on the
  records and on the lookup match, ``extensions.handlingMarkings`` on the response;
- OWNER_ONLY: never shown to a partner.

Statistics count tips by caveat (tests/schema/test_statistics_api.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from strawberry.relay import GlobalID

from backend import models as m
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
)

pytestmark = pytest.mark.django_db

LES = m.HandlingCaveat.LAW_ENFORCEMENT_SENSITIVE
LOOKUP = """query($input: TravellerLookupInput!) { travellerLookup(input: $input) {
  tips { id handlingMarkings }
  subjects { id handlingMarkings }
  identifiers { id handlingMarkings }
  matches { handlingMarkings subject { handlingMarkings } }
} }"""


def gid(obj) -> str:
    names = {m.Tip: "Tip", m.Subject: "Subject", m.Identifier: "Identifier"}
    return str(GlobalID(names[type(obj)], str(obj.pk)))


def suspect_in(caveat: str, *, email: str = "sam@example.com"):
    """A suspect holding an e-mail, named in one tip under ``caveat``."""
    tip = TipFactory(handling_caveat=caveat)
    suspect = SubjectFactory(full_name="Sam Suspect")
    TipSubjectFactory(tip=tip, subject=suspect)
    identifier = IdentifierFactory(raw_value=email)
    suspect.identifier_links.create(identifier=identifier)
    return tip, suspect, identifier


def test_every_caveat_says_its_effect_in_the_schema():
    from schema import schema

    enum = schema.get_type_by_name("HandlingCaveat")
    descriptions = {value.name: value.description for value in enum.values}
    assert set(descriptions) == set(m.HandlingCaveat.values)
    assert all(len(text or "") > 40 for text in descriptions.values()), descriptions
    assert "never shown to the partner agency" in descriptions["OWNER_ONLY"]
    assert "marking travels with it" in descriptions["LAW_ENFORCEMENT_SENSITIVE"]


def test_partner_lookup_of_a_tip_without_caveat_carries_no_marking(gql_as):
    # given a suspect in a tip without caveat
    suspect_in(m.HandlingCaveat.NONE)
    # when an investigator looks them up
    result = gql_as(m.Role.INVESTIGATOR)(LOOKUP, {"input": {"email": "sam@example.com"}})
    data = result["data"]["travellerLookup"]
    # then everything comes back unmarked, with the dissemination rule only
    assert [len(data[key]) for key in ("tips", "subjects", "identifiers")] == [1, 1, 1]
    assert all(r["handlingMarkings"] == [] for key in ("tips", "subjects", "identifiers")
               for r in data[key])  # fmt: skip
    assert data["matches"] == [{"handlingMarkings": [], "subject": {"handlingMarkings": []}}]
    assert set(result["extensions"]) == {"dissemination"}


def test_law_enforcement_sensitive_marking_travels_with_everything_a_partner_gets(gql_as):
    # given a suspect in a LAW_ENFORCEMENT_SENSITIVE tip
    tip, suspect, identifier = suspect_in(LES)
    # when an investigator looks them up
    result = gql_as(m.Role.INVESTIGATOR)(LOOKUP, {"input": {"email": "sam@example.com"}})
    data = result["data"]["travellerLookup"]
    # then the tip, the person, the identifier and the match all carry the marking
    marked = ["LAW_ENFORCEMENT_SENSITIVE"]
    assert data["tips"] == [{"id": gid(tip), "handlingMarkings": marked}]
    assert data["subjects"] == [{"id": gid(suspect), "handlingMarkings": marked}]
    assert data["identifiers"] == [{"id": gid(identifier), "handlingMarkings": marked}]
    assert data["matches"] == [
        {"handlingMarkings": marked, "subject": {"handlingMarkings": marked}}
    ]
    # and the response carries it, with its handling rule and the records it covers
    assert "may not be passed on" in result["extensions"]["dissemination"]
    [marking] = result["extensions"]["handlingMarkings"]
    assert marking["caveat"] == "LAW_ENFORCEMENT_SENSITIVE"
    assert marking["label"] == "Law enforcement sensitive"
    assert "law-enforcement use only" in marking["rule"]
    assert marking["records"] == sorted([gid(tip), gid(suspect), gid(identifier)])


def test_the_marking_is_in_the_response_however_little_of_the_record_is_asked(gql_as):
    # given a LAW_ENFORCEMENT_SENSITIVE tip an investigator has looked up
    tip, _, _ = suspect_in(LES)
    investigator = gql_as(m.Role.INVESTIGATOR)
    # when the lookup asks for matchedOn only, and when the tip is reopened for its id only
    looked_up = investigator(
        "query($i: TravellerLookupInput!) { travellerLookup(input: $i) { matchedOn } }",
        {"i": {"email": "sam@example.com"}},
    )
    reopened = investigator("query($id: ID!) { node(id: $id) { id } }", {"id": gid(tip)})
    # then each response still carries the marking for the tip
    for result in (looked_up, reopened):
        assert [(x["caveat"], x["records"]) for x in result["extensions"]["handlingMarkings"]] == [
            ("LAW_ENFORCEMENT_SENSITIVE", [gid(tip)])
        ]


@pytest.mark.parametrize("caveat", [m.HandlingCaveat.NONE, LES])
def test_a_lookups_tips_take_their_markings_from_its_answer_without_a_query(gql_as, caveat):
    # given a suspect's tip with or without a marking, and a tip elsewhere with one
    tip, _, _ = suspect_in(caveat)
    TipFactory(handling_caveat=LES)
    investigator = gql_as(m.Role.INVESTIGATOR)
    query = "query($i: TravellerLookupInput!) { travellerLookup(input: $i) { tips { id } } }"
    # when an investigator's lookup lists the tips by id
    with CaptureQueriesContext(connection) as captured:
        result = investigator(query, {"i": {"email": "sam@example.com"}})
    # then the response's markings are the lookup's tip's own
    assert result["data"]["travellerLookup"]["tips"] == [{"id": gid(tip)}]
    expected = [] if caveat == m.HandlingCaveat.NONE else [(LES, [gid(tip)])]
    markings = [
        (x["caveat"], x["records"]) for x in result["extensions"].get("handlingMarkings", [])
    ]
    assert markings == expected
    # and no statement read a tip's caveat again after the lookup's own read
    tip_reads = [q["sql"] for q in captured if 'FROM "backend_tip"' in q["sql"]]
    assert not [sql for sql in tip_reads if "handling_caveat" in sql.split("FROM")[0]], tip_reads


def test_owner_only_tip_never_reaches_a_partner(gql_as, gql):
    # given a suspect known only through an OWNER_ONLY tip
    tip, _, _ = suspect_in(m.HandlingCaveat.OWNER_ONLY)
    # when an investigator looks them up, then nothing comes back and nothing is marked
    result = gql_as(m.Role.INVESTIGATOR)(LOOKUP, {"input": {"email": "sam@example.com"}})
    assert result["data"]["travellerLookup"] == {
        "tips": [],
        "subjects": [],
        "identifiers": [],
        "matches": [],
    }
    assert set(result["extensions"]) == {"dissemination"}
    # while the owning agency sees the tip, marked OWNER_ONLY, with no extensions
    result = gql(LOOKUP, {"input": {"email": "sam@example.com"}})
    assert result["data"]["travellerLookup"]["tips"] == [
        {"id": gid(tip), "handlingMarkings": ["OWNER_ONLY"]}
    ]
    assert "extensions" not in result


def test_a_person_carries_only_the_markings_of_tips_the_caller_sees_them_in(gql_as, gql):
    # given a suspect in a tip without caveat who is a witness in a LAW_ENFORCEMENT_SENSITIVE
    # tip, where their e-mail was seen too
    _, suspect, identifier = suspect_in(m.HandlingCaveat.NONE)
    witnessed = TipFactory(handling_caveat=LES)
    TipSubjectFactory(tip=witnessed, subject=suspect, role=m.SubjectRole.WITNESS)
    query = """query($s: ID!) { node(id: $s) { ... on Subject { handlingMarkings } } }"""
    # when an investigator looks them up and opens them
    investigator = gql_as(m.Role.INVESTIGATOR)
    investigator(LOOKUP, {"input": {"email": "sam@example.com"}})
    result = investigator(query, {"s": gid(suspect)})
    # then the person carries no marking for them: they learn the person only as a suspect
    assert result["data"]["node"] == {"handlingMarkings": []}
    assert "handlingMarkings" not in result["extensions"]
    # while an analyst, who sees both tips, sees the marking
    assert gql(query, {"s": gid(suspect)})["data"]["node"] == {
        "handlingMarkings": ["LAW_ENFORCEMENT_SENSITIVE"]
    }
    # and an identifier seen in a marked tip carries the marking for whoever sees that tip
    SightingFactory(tip=witnessed, identifier=identifier)
    query = """query($e: ID!) { node(id: $e) { ... on Identifier { handlingMarkings } } }"""
    assert gql(query, {"e": gid(identifier)})["data"]["node"] == {
        "handlingMarkings": ["LAW_ENFORCEMENT_SENSITIVE"]
    }
    assert investigator(query, {"e": gid(identifier)})["data"]["node"] == {"handlingMarkings": []}


LISTS = """query($n: Int!) {
  tips(first: $n) { edges { node {
    handlingMarkings
    subjects { edges { node { subject { handlingMarkings } } } }
    identifiers { edges { node { identifier { handlingMarkings } } } }
  } } }
  subjects(first: $n) { edges { node { handlingMarkings } } }
  identifiers(first: $n) { edges { node { handlingMarkings } } }
}"""


def test_markings_of_lists_and_nested_relations_take_a_constant_number_of_queries(gql):
    counts = []
    for total in (2, 12):
        # given that many suspects, alternately in marked and unmarked tips, each with an
        # e-mail seen in their tip
        while m.Tip.objects.count() < total:
            n = m.Tip.objects.count()
            tip, _, identifier = suspect_in(
                LES if n % 2 else m.HandlingCaveat.NONE, email=f"person{n}@example.com"
            )
            SightingFactory(tip=tip, identifier=identifier)
        # when an analyst lists tips, people and identifiers with their markings
        with CaptureQueriesContext(connection) as captured:
            result = gql(LISTS, {"n": total})
        assert "errors" not in result, result
        # then each has the marking of its tip
        marks = [e["node"]["handlingMarkings"] for e in result["data"]["subjects"]["edges"]]
        assert sorted(map(tuple, marks)) == sorted(
            [("LAW_ENFORCEMENT_SENSITIVE",)] * (total // 2) + [()] * (total // 2)
        )
        for edge in result["data"]["tips"]["edges"]:
            tip = edge["node"]
            [person] = tip["subjects"]["edges"]
            [seen] = tip["identifiers"]["edges"]
            assert person["node"]["subject"]["handlingMarkings"] == tip["handlingMarkings"]
            assert seen["node"]["identifier"]["handlingMarkings"] == tip["handlingMarkings"]
        counts.append(len(captured))
    # and the number of SQL queries does not grow with the number of records
    assert counts[0] == counts[1], counts
