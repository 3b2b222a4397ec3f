"""screenPassengers: a passenger list screened at once, each traveller answered as
travellerLookup answers them (ranked, explained, suspects only for a partner), one audit row
listing every traveller, one lookup row per traveller screened, per-traveller errors, the
list's cap and bounds, POST only, and a number of SQL statements that does not grow with the
list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import parse
from strawberry.relay import GlobalID

from audit.models import AuditEvent
from backend import models as m
from backend.services.lookups import LookupCriteria, traveller_lookup
from backend.services.screening import screen_passengers
from schema import schema
from schema.limits import estimate_cost
from tests.conftest import make_gql, register_document
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    OfficeFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DOB = dt.date(1979, 8, 23)
#: The registered document partner tools run.
DOCUMENT = (Path(settings.GRAPHQL_DOCUMENTS_DIR) / "ScreenPassengers.graphql").read_text()
SCREEN = """
query Screen($input: ScreenPassengersInput!) {
  screenPassengers(input: $input) {
    screeningId reference screened withMatches withErrors disseminationCaveat
    results {
      index
      criteria { name dateOfBirth email username platform phone passport passportCountry }
      error { code message field }
      lookup {
        lookupId matchedOn relevantToInvestigation investigationContacts
        subjects { fullName }
        tips { sourceReference }
        matches {
          score
          reasons { field how detail }
          knownMisidentification redressCaseNumber
          subject { fullName }
          identifier { value }
          tips { sourceReference }
        }
      }
    }
  }
}
"""


def suspect(
    full_name: str,
    reference: str,
    *,
    email: str | None = None,
    role: str = m.SubjectRole.SUSPECT,
    caveat: str = m.HandlingCaveat.NONE,
    **kw,
) -> tuple[m.Subject, m.Tip]:
    """A person born on DOB, named in one tip in ``role``, holding ``email`` if given."""
    person = SubjectFactory(full_name=full_name, date_of_birth=DOB, **kw)
    tip = TipFactory(source_reference=reference, handling_caveat=caveat)
    TipSubjectFactory(tip=tip, subject=person, role=role)
    if email is not None:
        person.identifier_links.create(identifier=IdentifierFactory(raw_value=email))
    return person, tip


def screen(gql, travellers: list[dict], reference: str = "ba 117  lhr", query: str = SCREEN):
    return gql(query, {"input": {"reference": reference, "travellers": travellers}})


def screened(gql, travellers: list[dict], **kw) -> dict:
    result = screen(gql, travellers, **kw)
    assert "errors" not in result, result
    return result["data"]["screenPassengers"]


def nothing_recorded() -> bool:
    return not (m.TravellerLookup.objects.exists() or m.Disclosure.objects.exists())


# -- allowed -----------------------------------------------------------------------------------


def test_investigator_screens_a_list_and_each_traveller_is_answered_in_order(gql_as):
    # given two suspects on visible tips, one holding an e-mail
    jose, jose_tip = suspect("José Álvarez", "JOSE-1")
    ana, ana_tip = suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    # when an investigator screens a list of three: José by name, Ana by e-mail, a stranger
    data = screened(
        gql_as(m.Role.INVESTIGATOR),
        [
            {"name": "JOSE ALVAREZ", "dateOfBirth": DOB.isoformat(), "passport": "p1234567"},
            {"name": "Ana Ruiz", "dateOfBirth": "1990-01-01", "email": "Ana.Ruiz@Example.com"},
            {"name": "Nobody Known", "dateOfBirth": DOB.isoformat()},
        ],
    )
    # then the list is summed up, under its reference as recorded
    assert data["reference"] == "BA 117 LHR"
    assert (data["screened"], data["withMatches"], data["withErrors"]) == (3, 2, 0)
    assert data["disseminationCaveat"]
    first, second, third = data["results"]
    assert [r["index"] for r in data["results"]] == [0, 1, 2]
    # and each traveller is answered as travellerLookup answers: ranked, with reasons
    assert first["criteria"] == {
        "name": "jose alvarez",
        "dateOfBirth": DOB.isoformat(),
        "email": None,
        "username": None,
        "platform": None,
        "phone": None,
        "passport": "P1234567",
        "passportCountry": None,
    }
    assert first["error"] is None
    assert first["lookup"]["matchedOn"] == ["NAME_AND_DATE_OF_BIRTH"]
    [match] = first["lookup"]["matches"]
    assert match["subject"] == {"fullName": "José Álvarez"}
    assert match["tips"] == [{"sourceReference": "JOSE-1"}]
    assert match["reasons"][0] == {
        "field": "NAME",
        "how": "EXACT",
        "detail": "similarity 1.00 to 'jose alvarez'",
    }
    assert second["criteria"]["email"] == "ana.ruiz@example.com"
    assert second["lookup"]["matchedOn"] == ["EMAIL"]
    assert [x["subject"]["fullName"] for x in second["lookup"]["matches"]] == ["Ana Ruiz"]
    assert second["lookup"]["tips"] == [{"sourceReference": "ANA-1"}]
    assert third["lookup"]["matches"] == [] and third["lookup"]["matchedOn"] == []
    # and each screened traveller is one recorded lookup, with the screening in its criteria
    lookups = list(m.TravellerLookup.objects.order_by("id"))
    assert len(lookups) == 3
    assert {r["lookup"]["lookupId"] for r in data["results"]} == {
        str(GlobalID("TravellerLookup", str(x.pk))) for x in lookups
    }
    for index, lookup in enumerate(lookups):
        assert lookup.criteria["screening"] == {
            "id": data["screeningId"],
            "reference": "BA 117 LHR",
            "traveller": index,
        }
    assert lookups[0].criteria["name"] == "jose alvarez"
    assert (lookups[0].subject_hits, lookups[0].tip_hits) == (1, 1)
    assert (lookups[2].subject_hits, lookups[2].tip_hits) == (0, 0)
    # and what each returned is disclosed through that traveller's lookup
    disclosed = set(
        m.Disclosure.objects.values_list("lookup_id", "content_type__model", "object_id")
    )
    assert (lookups[0].pk, "subject", jose.pk) in disclosed
    assert (lookups[0].pk, "tip", jose_tip.pk) in disclosed
    assert (lookups[1].pk, "subject", ana.pk) in disclosed
    assert (lookups[1].pk, "tip", ana_tip.pk) in disclosed
    assert not any(lookup_id == lookups[2].pk for lookup_id, _, _ in disclosed)


def test_the_registered_document_runs_for_a_partner_tool_by_its_hash():
    from backend.documents import document_hash, printed_document

    # given the registered document, and a partner tool sending only its hash
    text = printed_document("ScreenPassengers", DOCUMENT)
    register_document(text)
    suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    investigator = UserFactory(username="partner-tool", role=m.Role.INVESTIGATOR)
    _, raw = m.ApiToken.issue(user=investigator, name="tool", days=1)
    client = Client()
    body = {
        "variables": {
            "input": {"reference": "AF 1", "travellers": [{"email": "ana.ruiz@example.com"}]}
        },
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}},
    }
    response = client.post(
        "/graphql",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    # then it is answered
    answer = response.json()
    assert "errors" not in answer, answer
    [result] = answer["data"]["screenPassengers"]["results"]
    assert result["lookup"]["matches"][0]["subject"]["fullName"] == "Ana Ruiz"


def test_analyst_screens_too_and_sees_everyone(gql):
    # given a witness (whom a partner never learns about)
    suspect("Marta Quintero", "W-1", role=m.SubjectRole.WITNESS)
    # when an analyst screens her
    data = screened(gql, [{"name": "marta quintero", "dateOfBirth": DOB.isoformat()}])
    # then the owning agency finds her
    [result] = data["results"]
    assert [x["subject"]["fullName"] for x in result["lookup"]["matches"]] == ["Marta Quintero"]


def test_a_traveller_is_answered_exactly_as_a_single_lookup(gql_as):
    # given people and identifiers a lookup could rank in several ways
    suspect("José Álvarez", "JOSE-1", email="jose@example.com")
    suspect("Josef Alvarez", "JOSEF-1")
    lone = IdentifierFactory(raw_value="lone@example.com")
    SightingFactory(tip=TipFactory(source_reference="LONE-1"), identifier=lone)
    investigator = UserFactory(username="compare", role=m.Role.INVESTIGATOR)
    criteria = [
        LookupCriteria(name="jose alvarez", date_of_birth=DOB, email="JOSE@example.com"),
        LookupCriteria(email="lone@example.com"),
        LookupCriteria(name="josef alvarez", date_of_birth=DOB),
    ]
    # when they are screened as a list and looked up one by one
    screening = screen_passengers(by=investigator, reference="X 1", travellers=criteria)
    singles = [traveller_lookup(by=investigator, criteria=c) for c in criteria]
    # then every traveller's answer is the single lookup's
    for traveller, single in zip(screening.travellers, singles, strict=True):
        outcome = traveller.outcome
        assert outcome is not None and traveller.error is None
        assert outcome.matches == single.matches
        assert outcome.matched_on == single.matched_on
        assert (outcome.tip_ids, outcome.subject_ids, outcome.identifier_ids) == (
            single.tip_ids,
            single.subject_ids,
            single.identifier_ids,
        )
        expected = {**single.lookup.criteria}
        assert {k: v for k, v in outcome.lookup.criteria.items() if k != "screening"} == expected
        assert (outcome.lookup.subject_hits, outcome.lookup.tip_hits) == (
            single.lookup.subject_hits,
            single.lookup.tip_hits,
        )


# -- denied ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        m.Role.REPORTING_CLIENT,
        m.Role.AUDITOR,
        m.Role.SYSTEM_ADMINISTRATOR,
        m.Role.PROGRAM_MANAGER,
    ],
)
def test_roles_without_lookups_are_refused(gql_as, role):
    # given a suspect a screening would find
    suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    # when a caller whose role may not look travellers up screens a list
    result = screen(gql_as(role), [{"email": "ana.ruiz@example.com"}])
    # then it is refused with FORBIDDEN, and nothing is recorded
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert nothing_recorded()
    row = AuditEvent.objects.filter(kind="OPERATION").latest("seq")
    assert (row.outcome, row.records_returned) == ("DENIED", [])


def test_a_partner_may_not_send_a_screening_of_their_own():
    # given an investigator whose tool sends an unregistered screening document
    client = Client()
    client.force_login(UserFactory(username="own-doc", role=m.Role.INVESTIGATOR))
    result = screen(make_gql(client), [{"email": "x@example.com"}])
    # then it is refused as not trusted, before anything runs
    assert result["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
    assert nothing_recorded()


def test_a_screening_over_get_is_refused_and_records_nothing():
    # given a signed-in investigator and a suspect holding an e-mail
    suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    query = (
        'query Screen { screenPassengers(input: {reference: "AF 1", travellers: '
        '[{email: "ana.ruiz@example.com"}]}) { screened } }'
    )
    register_document(query)
    client = Client()
    client.force_login(UserFactory(username="get-screen", role=m.Role.INVESTIGATOR))
    # when a cross-site link makes the browser GET it
    response = client.get("/graphql", {"query": query}, headers={"Accept": "text/html"})
    # then it is refused with 405 before it ran, and nothing is recorded
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert nothing_recorded()
    # while the same over POST runs
    posted = client.post("/graphql", {"query": query}, content_type="application/json")
    assert posted.json()["data"]["screenPassengers"]["screened"] == 1


# -- scoped: what a partner may learn ----------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        m.SubjectRole.WITNESS,
        m.SubjectRole.VICTIM,
        m.SubjectRole.REPORTING_PERSON,
        m.SubjectRole.OTHER,
    ],
)
def test_a_partner_screening_never_finds_anyone_but_suspects(gql_as, role):
    # given Marta, in a visible tip as a witness, victim, reporting person or other, holding
    # an e-mail; and a suspect on the same flight
    suspect("Marta Quintero", "M-1", email="marta.q@example.com", role=role)
    suspect("Ana Ruiz", "ANA-1")
    # when an investigator screens both, Marta by name and by e-mail
    data = screened(
        gql_as(m.Role.INVESTIGATOR),
        [
            {"name": "marta quintero", "dateOfBirth": DOB.isoformat()},
            {"email": "marta.q@example.com"},
            {"name": "ana ruiz", "dateOfBirth": DOB.isoformat()},
        ],
    )
    marta_by_name, marta_by_email, ana = data["results"]
    # then nothing comes back for Marta, by name or e-mail, and nothing names her
    for result in (marta_by_name, marta_by_email):
        assert result["lookup"]["matches"] == []
        assert result["lookup"]["matchedOn"] == []
        assert result["lookup"]["subjects"] == [] and result["lookup"]["tips"] == []
    assert [x["subject"]["fullName"] for x in ana["lookup"]["matches"]] == ["Ana Ruiz"]
    assert data["withMatches"] == 1
    # and her lookups counted and disclosed nothing
    marta_lookups = m.TravellerLookup.objects.filter(criteria__screening__traveller__in=[0, 1])
    assert [(x.subject_hits, x.tip_hits) for x in marta_lookups] == [(0, 0), (0, 0)]
    assert not m.Disclosure.objects.filter(lookup__in=marta_lookups).exists()


def test_a_partner_screening_never_shows_owner_only_tips(gql_as):
    # given José in a visible and an OWNER_ONLY tip, Josef only in an OWNER_ONLY tip
    jose, _ = suspect("José Álvarez", "VISIBLE-1")
    hidden = TipFactory(source_reference="HIDDEN-1", handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    TipSubjectFactory(tip=hidden, subject=jose)
    suspect("Josef Alvarez", "HIDDEN-2", caveat=m.HandlingCaveat.OWNER_ONLY)
    # when an investigator screens a similar spelling, and Josef
    data = screened(
        gql_as(m.Role.INVESTIGATOR),
        [
            {"name": "jose alvares", "dateOfBirth": DOB.isoformat()},
            {"name": "josef alvarez", "dateOfBirth": DOB.isoformat()},
        ],
    )
    # then only José and his visible tip come back
    first, second = data["results"]
    assert [(x["subject"]["fullName"], x["tips"]) for x in first["lookup"]["matches"]] == [
        ("José Álvarez", [{"sourceReference": "VISIBLE-1"}])
    ]
    assert first["lookup"]["tips"] == [{"sourceReference": "VISIBLE-1"}]
    assert [x["subject"]["fullName"] for x in second["lookup"]["matches"]] == ["José Álvarez"]
    assert not m.Disclosure.objects.filter(object_id=hidden.pk, content_type__model="tip").exists()


def test_redress_marks_show_in_a_screening(gql_as):
    suspect(
        "José Álvarez",
        "JOSE-1",
        known_misidentification=True,
        redress_case_number="TRIP-2024-000123",
    )
    data = screened(
        gql_as(m.Role.INVESTIGATOR), [{"name": "jose alvarez", "dateOfBirth": DOB.isoformat()}]
    )
    [match] = data["results"][0]["lookup"]["matches"]
    assert (match["knownMisidentification"], match["redressCaseNumber"]) == (
        True,
        "TRIP-2024-000123",
    )


# -- per-traveller errors, the list's own refusals, bounds ----------------------------------


def test_a_bad_traveller_gets_an_error_and_the_rest_is_screened(gql_as):
    # given a suspect on the list
    suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    # when the list holds malformed travellers beside her
    data = screened(
        gql_as(m.Role.INVESTIGATOR),
        [
            {"name": "jose alvarez"},
            {"email": "ana.ruiz@example.com"},
            {"email": "not an e-mail"},
            {},
            {"dateOfBirth": DOB.isoformat()},
            {"username": "ana_r"},
        ],
    )
    # then each malformed one has its error, with the field, and no lookup
    errors = [(r["error"] or {}).get("code") for r in data["results"]]
    fields = [(r["error"] or {}).get("field") for r in data["results"]]
    assert errors == [
        "INVALID_INPUT",
        None,
        "INVALID_IDENTIFIER",
        "INVALID_INPUT",
        "INVALID_INPUT",
        "INVALID_INPUT",
    ]
    assert fields == ["dateOfBirth", None, "email", "input", "name", "platform"]
    assert data["results"][0]["error"]["message"] == "a name lookup needs the date of birth"
    for result in data["results"]:
        if result["error"] is not None:
            assert result["lookup"] is None and result["criteria"] is None
    # and the good one is screened all the same
    assert data["results"][1]["lookup"]["matchedOn"] == ["EMAIL"]
    assert (data["screened"], data["withMatches"], data["withErrors"]) == (1, 1, 5)
    [lookup] = m.TravellerLookup.objects.all()
    assert lookup.criteria["screening"]["traveller"] == 1


def test_a_traveller_over_the_tip_cap_gets_an_error_of_their_own(gql, settings):
    # given a cap of 2 and José named in 3 tips, Ana in 1
    settings.LOOKUP_MAX_TIPS = 2
    jose, _ = suspect("José Álvarez", "JOSE-1")
    for n in range(2):
        TipSubjectFactory(tip=TipFactory(source_reference=f"JOSE-{n + 2}"), subject=jose)
    suspect("Ana Ruiz", "ANA-1")
    data = screened(
        gql,
        [
            {"name": "jose alvarez", "dateOfBirth": DOB.isoformat()},
            {"name": "ana ruiz", "dateOfBirth": DOB.isoformat()},
        ],
    )
    jose_result, ana_result = data["results"]
    assert jose_result["error"] == {
        "code": "INVALID_INPUT",
        "message": "the lookup matches more than 2 tips; narrow it down",
        "field": "input",
    }
    assert jose_result["lookup"] is None
    assert jose_result["criteria"]["name"] == "jose alvarez"  # well-formed, only too broad
    assert ana_result["lookup"]["tips"] == [{"sourceReference": "ANA-1"}]
    assert m.TravellerLookup.objects.count() == 1


def test_past_the_screenings_bounds_the_travellers_matching_most_are_left_out(gql, settings):
    # given bounds of 3 matches in all, José matching 3 people and Ana 1
    settings.SCREENING_MAX_MATCHES = 3
    for n in range(3):
        suspect("José Álvarez", f"JOSE-{n}")
    suspect("Ana Ruiz", "ANA-1")
    data = screened(
        gql,
        [
            {"name": "ana ruiz", "dateOfBirth": DOB.isoformat()},
            {"name": "jose alvarez", "dateOfBirth": DOB.isoformat()},
        ],
    )
    ana_result, jose_result = data["results"]
    # then José, who matched most, is left out with an error, and Ana is screened
    assert jose_result["lookup"] is None
    assert jose_result["error"]["code"] == "INVALID_INPUT"
    assert "travellerLookup" in jose_result["error"]["message"]
    assert len(ana_result["lookup"]["matches"]) == 1
    assert m.TravellerLookup.objects.count() == 1


@pytest.mark.parametrize(
    ("reference", "travellers", "field"),
    [
        ("BA 117", [], "travellers"),
        ("BA 117", [{"email": "x@example.com"}] * 501, "travellers"),
        ("   ", [{"email": "x@example.com"}], "reference"),
        ("X" * 65, [{"email": "x@example.com"}], "reference"),
        ("BA\x07117", [{"email": "x@example.com"}], "reference"),
    ],
)
def test_a_list_refused_as_a_whole(gql_as, reference, travellers, field):
    result = screen(gql_as(m.Role.INVESTIGATOR), travellers, reference=reference)
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}
    assert nothing_recorded()


def test_the_registered_document_is_within_the_cost_limit():
    document = parse(DOCUMENT)
    cost = estimate_cost(schema._schema, document, document.definitions[0])
    assert cost <= settings.GRAPHQL_MAX_COST, cost


@pytest.mark.parametrize("max_matches", [1000, 3])
def test_a_screenings_lists_cost_their_share_of_the_screenings_bounds(settings, max_matches):
    # given the screening's bounds
    settings.SCREENING_MAX_MATCHES = max_matches
    query = parse(
        "query($input: ScreenPassengersInput!) { screenPassengers(input: $input) "
        "{ results { lookup { matches { tips { id } } } } } }"
    )
    # when a document asks for every traveller's matches and their tips
    cost = estimate_cost(schema._schema, query, query.definitions[0])
    # then it costs the root, each traveller's result and lookup, and the screening's totals
    # of matches and of tips under matches (not travellers x the lookup's own bounds)
    travellers = settings.SCREENING_MAX_TRAVELLERS
    assert cost == 1 + 2 * travellers + max_matches + settings.SCREENING_MAX_MATCH_TIPS
    # while the same lists under travellerLookup keep the lookup's bounds
    single = parse(
        "query($input: TravellerLookupInput!) { travellerLookup(input: $input) "
        "{ matches { tips { id } } } }"
    )
    lookup = settings.LOOKUP_MAX_TIPS
    assert estimate_cost(schema._schema, single, single.definitions[0]) == 1 + lookup * (1 + lookup)


# -- the audit row, the lookup rows ----------------------------------------------------------


def test_one_audit_row_lists_every_traveller_of_a_full_list(gql_as):
    # given a suspect, and a full list of 500 travellers with her among them
    ana, ana_tip = suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    travellers = [
        {
            "name": f"Traveller Number{n:03d} Longname",
            "dateOfBirth": "1970-01-01",
            "passport": f"X{n:07d}",
            "passportCountry": "GB",
            "email": f"traveller.number{n:03d}@example.com",
            "phone": f"+44 20 7946 {n:04d}",
        }
        for n in range(499)
    ]
    travellers.insert(250, {"email": "ana.ruiz@example.com"})
    # when an investigator screens it with the registered document
    result = screen(gql_as(m.Role.INVESTIGATOR), travellers, reference="VS 3 LHR", query=DOCUMENT)
    assert "errors" not in result, result
    data = result["data"]["screenPassengers"]
    assert (data["screened"], data["withMatches"], data["withErrors"]) == (500, 1, 0)
    # then the operation has one audit row, whose variables list every traveller, whole
    [row] = AuditEvent.objects.filter(kind="OPERATION", operation_name="ScreenPassengers")
    assert row.outcome == "ALLOWED"
    assert "_truncated" not in row.variables
    assert row.variables["input"]["travellers"] == travellers
    assert row.variables["input"]["reference"] == "VS 3 LHR"
    # and it names what was returned
    assert {f"Subject:{ana.pk}", f"Tip:{ana_tip.pk}"} <= set(row.records_returned)
    # and there is one lookup row per traveller, each with the reference and its place
    lookups = m.TravellerLookup.objects.all()
    assert lookups.count() == 500
    places = sorted(x.criteria["screening"]["traveller"] for x in lookups)
    assert places == list(range(500))
    assert {x.criteria["screening"]["reference"] for x in lookups} == {"VS 3 LHR"}
    assert {x.criteria["screening"]["id"] for x in lookups} == {data["screeningId"]}
    hit = lookups.get(criteria__screening__traveller=250)
    assert (hit.subject_hits, hit.tip_hits) == (1, 1)


def test_a_screening_touching_another_offices_lead_tells_that_office(gql_as):
    # given office X's active lead on Ana's tip
    x = OfficeFactory(name="Office X", contact_point="X duty desk")
    _, tip = suspect("Ana Ruiz", "ANA-1", email="ana.ruiz@example.com")
    lead = LeadFactory(title="X lead", office=x, status=m.LeadStatus.REFERRED)
    lead.tips.add(tip)
    # when a partner screens a list with her
    data = screened(
        gql_as(m.Role.INVESTIGATOR),
        [{"email": "stranger@example.com"}, {"email": "ana.ruiz@example.com"}],
    )
    # then the answer says so, and office X is told, by her traveller's lookup
    assert data["results"][1]["lookup"]["relevantToInvestigation"] is True
    assert data["results"][1]["lookup"]["investigationContacts"] == ["X duty desk"]
    [notice] = m.DeconflictionNotice.objects.all()
    assert notice.lead == lead
    assert notice.triggered_by_lookup.criteria["screening"]["traveller"] == 1


# -- statements --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [m.Role.ANALYST, m.Role.INVESTIGATOR])
def test_the_number_of_statements_does_not_grow_with_the_list(gql_as, role):
    gql = gql_as(role)
    counts = []
    for size in (2, 20):
        # given that many travellers, each a suspect with an e-mail in two tips
        travellers = []
        for n in range(size):
            person, _ = suspect(
                f"Person Nr{size}x{n}", f"T-{size}-{n}", email=f"p{size}x{n}@example.com"
            )
            TipSubjectFactory(tip=TipFactory(), subject=person)
            travellers.append(
                {"name": f"person nr{size}x{n}", "dateOfBirth": DOB.isoformat()}
                if n % 2
                else {"email": f"p{size}x{n}@example.com"}
            )
        screen(gql, travellers[:1], query=DOCUMENT)  # fill the per-process caches
        # when the list is screened with the registered document
        with CaptureQueriesContext(connection) as captured:
            result = screen(gql, travellers, query=DOCUMENT)
        # then every traveller is found, with both tips
        assert "errors" not in result, result
        results = result["data"]["screenPassengers"]["results"]
        assert all(len(r["lookup"]["matches"][0]["tips"]) == 2 for r in results), results
        counts.append(len(captured))
    # and the statements are as many for 20 travellers as for 2
    assert counts[0] == counts[1], counts
