"""travellerLookup over GraphQL: ranked matches with reasons and redress marks, refusals,
what an investigator may see, and a constant number of SQL queries however many matches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend import models as m
from tests.factories import (
    IdentifierFactory,
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
    matchedOn
    subjects { fullName }
    tips { sourceReference }
    matches {
      score
      reasons { field how detail }
      knownMisidentification redressCaseNumber
      subject { fullName knownMisidentification redressCaseNumber }
      identifier { value }
      tips { sourceReference }
    }
  }
}
"""


def named(full_name: str, reference: str, *, caveat: str = m.HandlingCaveat.NONE, **kw):
    subject = SubjectFactory(full_name=full_name, date_of_birth=DOB, **kw)
    tip = TipFactory(source_reference=reference, handling_caveat=caveat)
    TipSubjectFactory(tip=tip, subject=subject)
    return subject, tip


def lookup(gql, **criteria):
    return gql(LOOKUP, {"input": criteria})


def test_fuzzy_lookup_returns_ranked_matches_with_reasons(gql):
    # given José Álvarez holding an e-mail, and Josef Alvarez, both born on DOB
    jose, jose_tip = named("José Álvarez", "JOSE-1")
    email = IdentifierFactory(raw_value="traveller@example.com")
    jose.identifier_links.create(identifier=email)
    SightingFactory(tip=jose_tip, identifier=email)
    named("Josef Alvarez", "JOSEF-1")
    # when an analyst looks up "jose alvarez" with the date of birth and the e-mail
    result = lookup(
        gql, name="jose alvarez", dateOfBirth=DOB.isoformat(), email="Traveller@Example.com"
    )
    # then both come back ranked, each with why it matched
    assert "errors" not in result, result
    data = result["data"]["travellerLookup"]
    assert data["matchedOn"] == ["EMAIL", "NAME_AND_DATE_OF_BIRTH"]
    assert data["matches"] == [
        {
            "score": 0.99,
            "reasons": [
                {"field": "NAME", "how": "EXACT", "detail": "similarity 1.00 to 'jose alvarez'"},
                {"field": "DATE_OF_BIRTH", "how": "EXACT", "detail": "1975-03-02"},
                {"field": "EMAIL", "how": "EXACT", "detail": "traveller@example.com"},
            ],
            "knownMisidentification": False,
            "redressCaseNumber": None,
            "subject": {
                "fullName": "José Álvarez",
                "knownMisidentification": False,
                "redressCaseNumber": "",
            },
            "identifier": None,
            "tips": [{"sourceReference": "JOSE-1"}],
        },
        {
            "score": 0.72,
            "reasons": [
                {"field": "NAME", "how": "FUZZY", "detail": "similarity 0.80 to 'josef alvarez'"},
                {"field": "DATE_OF_BIRTH", "how": "EXACT", "detail": "1975-03-02"},
            ],
            "knownMisidentification": False,
            "redressCaseNumber": None,
            "subject": {
                "fullName": "Josef Alvarez",
                "knownMisidentification": False,
                "redressCaseNumber": "",
            },
            "identifier": None,
            "tips": [{"sourceReference": "JOSEF-1"}],
        },
    ]
    # and the flat fields stay as they were
    assert sorted(s["fullName"] for s in data["subjects"]) == ["Josef Alvarez", "José Álvarez"]
    assert sorted(t["sourceReference"] for t in data["tips"]) == ["JOSE-1", "JOSEF-1"]


def test_wrong_date_of_birth_finds_nothing(gql):
    # given José Álvarez born on DOB
    named("José Álvarez", "JOSE-1")
    # when looked up with another date of birth
    data = lookup(gql, name="jose alvarez", dateOfBirth="1975-03-03")["data"]["travellerLookup"]
    # then nothing comes back
    assert (data["matchedOn"], data["matches"], data["subjects"], data["tips"]) == ([], [], [], [])


def test_transliterated_and_alias_names_are_found(gql):
    # given a person recorded in Cyrillic, and one known under an alias
    named("Дмитрий Петров", "DMITRI-1")
    named("Ivan Drago", "IVAN-1", aliases=["Pepe el Toro"])
    # when each is looked up in Latin script / by the alias
    dmitri = lookup(gql, name="Dmitri Petrov", dateOfBirth=DOB.isoformat())
    ivan = lookup(gql, name="pepe toro", dateOfBirth=DOB.isoformat())
    # then each is found, and the reason names the name it matched
    [match] = dmitri["data"]["travellerLookup"]["matches"]
    assert (match["subject"]["fullName"], match["reasons"][0]["detail"]) == (
        "Дмитрий Петров",
        "similarity 0.81 to 'dmitrii petrov'",
    )
    [match] = ivan["data"]["travellerLookup"]["matches"]
    assert (match["subject"]["fullName"], match["reasons"][0]["detail"]) == (
        "Ivan Drago",
        "similarity 0.77 to 'pepe el toro' (alias)",
    )


def test_redress_marks_are_shown(gql_as):
    # given a person marked as a known misidentification through redress
    named(
        "José Álvarez",
        "JOSE-1",
        known_misidentification=True,
        redress_case_number="TRIP-2024-000123",
    )
    # when an investigator looks them up
    result = lookup(gql_as(m.Role.INVESTIGATOR), name="jose alvarez", dateOfBirth="1975-03-02")
    # then the match shows the mark and the case number
    [match] = result["data"]["travellerLookup"]["matches"]
    assert (match["knownMisidentification"], match["redressCaseNumber"]) == (
        True,
        "TRIP-2024-000123",
    )
    assert match["subject"]["redressCaseNumber"] == "TRIP-2024-000123"


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({}, "input"),
        ({"name": "jose alvarez"}, "dateOfBirth"),
        ({"dateOfBirth": "1975-03-02"}, "name"),
        ({"name": "j", "dateOfBirth": "1975-03-02"}, "name"),
        ({"name": "Jo", "dateOfBirth": "1975-03-02"}, "name"),
        ({"name": "A B", "dateOfBirth": "1975-03-02"}, "name"),
    ],
)
def test_over_broad_lookups_are_refused(gql_as, criteria, field):
    # when an investigator gives no criteria, a name without date of birth, or a name too short
    result = lookup(gql_as(m.Role.INVESTIGATOR), **criteria)
    # then it is refused with INVALID_INPUT naming the field, and nothing is recorded
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}
    assert not m.TravellerLookup.objects.exists()


def test_lookup_over_the_tip_cap_is_refused(gql, settings):
    # given a cap of 2 and a person named in 3 tips
    settings.LOOKUP_MAX_TIPS = 2
    jose, _ = named("José Álvarez", "JOSE-1")
    for n in range(2):
        TipSubjectFactory(tip=TipFactory(source_reference=f"JOSE-{n + 2}"), subject=jose)
    # when looked up
    result = lookup(gql, name="jose alvarez", dateOfBirth=DOB.isoformat())
    # then it is refused as too broad
    assert result["data"] is None
    assert result["errors"][0]["message"] == "the lookup matches more than 2 tips; narrow it down"
    assert result["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "input"}


def test_investigator_never_sees_owner_only_tips_through_a_fuzzy_match(gql_as):
    # given José Álvarez in a visible and an OWNER_ONLY tip, Josef Alvarez only in OWNER_ONLY
    jose, _ = named("José Álvarez", "VISIBLE-1")
    hidden = TipFactory(source_reference="HIDDEN-1", handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    TipSubjectFactory(tip=hidden, subject=jose)
    named("Josef Alvarez", "HIDDEN-2", caveat=m.HandlingCaveat.OWNER_ONLY)
    # when an investigator looks up a similar spelling
    result = lookup(gql_as(m.Role.INVESTIGATOR), name="jose alvares", dateOfBirth="1975-03-02")
    data = result["data"]["travellerLookup"]
    # then only José and the visible tip come back, in the matches and in the flat fields
    assert [(x["subject"]["fullName"], x["tips"]) for x in data["matches"]] == [
        ("José Álvarez", [{"sourceReference": "VISIBLE-1"}])
    ]
    assert data["tips"] == [{"sourceReference": "VISIBLE-1"}]
    assert data["subjects"] == [{"fullName": "José Álvarez"}]


def test_the_flat_lists_of_an_answer_are_row_scoped_whatever_ids_they_hold(gql_as, monkeypatch):
    # given a partner's lookup whose answer is made to hold, beside what the partner rule
    # returned, an OWNER_ONLY tip and a person named only as its victim
    from schema import lookup as lookup_schema

    named("José Álvarez", "VISIBLE-1")
    hidden = TipFactory(source_reference="HIDDEN-1", handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    victim = SubjectFactory(full_name="Vic Tim")
    TipSubjectFactory(tip=hidden, subject=victim, role=m.SubjectRole.VICTIM)
    answer = lookup_schema.lookup_result

    def leaky(outcome):
        result = answer(outcome)
        result.tip_ids = [*result.tip_ids, hidden.pk]
        result.subject_ids = [*result.subject_ids, victim.pk]
        return result

    monkeypatch.setattr(lookup_schema, "lookup_result", leaky)
    # when the partner looks the traveller up
    result = lookup(gql_as(m.Role.INVESTIGATOR), name="jose alvarez", dateOfBirth="1975-03-02")
    data = result["data"]["travellerLookup"]
    # then the flat lists hold only what the partner rule lets the partner see
    assert data["tips"] == [{"sourceReference": "VISIBLE-1"}]
    assert data["subjects"] == [{"fullName": "José Álvarez"}]


IDS = """
query($input: TravellerLookupInput!) {
  travellerLookup(input: $input) { tips { id __typename } ...more }
}
fragment more on TravellerLookupResult { tips { ... on Tip { id } } }
"""


def test_an_answer_asking_only_tip_ids_lists_what_the_lookup_read_without_a_query(gql_as):
    from schema.base import type_name

    # given José on a visible tip, a law-enforcement-sensitive one and an OWNER_ONLY one
    jose, visible = named("José Álvarez", "VISIBLE-1")
    sensitive = TipFactory(handling_caveat=m.HandlingCaveat.LAW_ENFORCEMENT_SENSITIVE)
    TipSubjectFactory(tip=sensitive, subject=jose)
    hidden = TipFactory(handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    TipSubjectFactory(tip=hidden, subject=jose)
    gql = gql_as(m.Role.INVESTIGATOR)
    variables = {"input": {"name": "jose alvarez", "dateOfBirth": DOB.isoformat()}}
    # when an investigator's answer asks for the tips' ids only, and another for more
    with CaptureQueriesContext(connection) as captured:
        ids_only = gql(IDS, variables)
    sent = [query["sql"] for query in captured]  # (the next request clears Django's log)
    full = gql(LOOKUP.replace("tips { sourceReference }", "tips { id sourceReference }"), variables)
    tip_table = m.Tip._meta.db_table
    # then both list the same visible tips, with the caveat's marking in the response
    assert "errors" not in ids_only, ids_only
    listed = [tip["id"] for tip in ids_only["data"]["travellerLookup"]["tips"]]
    assert listed == [tip["id"] for tip in full["data"]["travellerLookup"]["tips"]]
    assert sorted(listed) == sorted(
        str(relay_id(type_name(m.Tip), tip.pk)) for tip in (visible, sensitive)
    )
    assert {tip["__typename"] for tip in ids_only["data"]["travellerLookup"]["tips"]} == {"Tip"}
    markings = ids_only["extensions"]["handlingMarkings"]
    assert [marking["caveat"] for marking in markings] == ["LAW_ENFORCEMENT_SENSITIVE"]
    assert markings[0]["records"] == [str(relay_id(type_name(m.Tip), sensitive.pk))]
    # (a document asking for more of the tips elsewhere gets it, in one query)
    with CaptureQueriesContext(connection) as captured:
        more = gql(IDS.replace("... on Tip { id }", "... on Tip { sourceReference }"), variables)
    tip_reads = [q["sql"] for q in captured if q["sql"].startswith(f'SELECT "{tip_table}"')]
    assert len(tip_reads) == 1, tip_reads
    assert sorted(tip["sourceReference"] for tip in more["data"]["travellerLookup"]["tips"]) == (
        sorted([visible.source_reference, sensitive.source_reference])
    )
    # and the id-only answer read no tip again
    assert sent and not any(sql.startswith(f'SELECT "{tip_table}"') for sql in sent), sent


def test_an_id_only_answer_lists_only_the_tips_the_lookup_read(gql_as, monkeypatch):
    from schema import lookup as lookup_schema
    from schema.base import type_name

    # given a partner's lookup whose answer is made to name an OWNER_ONLY tip it never read
    _, visible = named("José Álvarez", "VISIBLE-1")
    hidden = TipFactory(source_reference="HIDDEN-1", handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    answer = lookup_schema.lookup_result

    def leaky(outcome):
        result = answer(outcome)
        result.tip_ids = [*result.tip_ids, hidden.pk]
        return result

    monkeypatch.setattr(lookup_schema, "lookup_result", leaky)
    # when the partner asks for the tips' ids only
    result = gql_as(m.Role.INVESTIGATOR)(
        IDS, {"input": {"name": "jose alvarez", "dateOfBirth": DOB.isoformat()}}
    )
    # then only the tip the lookup read is listed
    assert [tip["id"] for tip in result["data"]["travellerLookup"]["tips"]] == [
        str(relay_id(type_name(m.Tip), visible.pk))
    ]


def relay_id(name: str, pk: int):
    from strawberry import relay

    return relay.GlobalID(name, str(pk))


MATCHES = """
query($input: TravellerLookupInput!) {
  travellerLookup(input: $input) {
    matches {
      score reasons { field how detail } knownMisidentification redressCaseNumber
      subject { fullName aliases dateOfBirth }
      tips { sourceReference category status }
    }
  }
}
"""


def grow(count: int) -> None:
    for _ in range(count):
        subject, _ = named("José Álvarez", f"JOSE-{m.Subject.objects.count():03d}")
        TipSubjectFactory(tip=TipFactory(), subject=subject)


@pytest.mark.parametrize("role", [m.Role.ANALYST, m.Role.INVESTIGATOR])
def test_matches_with_subject_and_tips_run_a_constant_number_of_queries(gql_as, role):
    gql = gql_as(role)
    variables = {"input": {"name": "jose alvarez", "dateOfBirth": DOB.isoformat()}}
    counts = []
    gql(MATCHES, variables)  # once, to fill the per-process caches (content types)
    for total in (2, 15):
        # given that many people of that name and birth date, each in two tips
        grow(total - m.Subject.objects.count())
        # when the lookup is run with matches, their subject and tips
        with CaptureQueriesContext(connection) as captured:
            result = gql(MATCHES, variables)
        # then every match comes back
        assert "errors" not in result, result
        matches = result["data"]["travellerLookup"]["matches"]
        assert len(matches) == total
        assert all(len(x["tips"]) == 2 for x in matches)
        counts.append(len(captured))
    # and the SQL count does not grow with the number of matches
    assert counts[0] == counts[1], counts


def test_an_audited_partner_lookup_by_token_runs_a_small_fixed_number_of_statements():
    from django.test import Client

    from tests.conftest import make_gql, register_document

    # given a partner investigator's tool with a token, a registered lookup document, and a
    # suspect's e-mail seen in two tips
    investigator = UserFactory(username="partner", role=m.Role.INVESTIGATOR)
    _, raw = m.ApiToken.issue(user=investigator, name="tool", days=1)
    register_document(MATCHES)
    subject, _ = named("José Álvarez", "JOSE-BUDGET")
    TipSubjectFactory(tip=TipFactory(), subject=subject)
    identifier = IdentifierFactory(raw_value="jose@example.com")
    m.SubjectIdentifier.objects.create(subject=subject, identifier=identifier)
    gql = make_gql(Client(), Authorization=f"Bearer {raw}")
    variables = {"input": {"email": "JOSE@example.com"}}
    gql(MATCHES, variables)  # once, to fill the per-process caches
    # when the lookup is run again
    with CaptureQueriesContext(connection) as captured:
        result = gql(MATCHES, variables)
    # then it matched, and the whole request took at most 11 statements: the token (with its
    # account and lockout count), the transaction's start and end, the trusted document (which
    # also sets the operation's audit context), the lookup's reads (one), its row and
    # disclosures with the leads they touch for deconfliction (one), the answer's people and
    # tips, the people's handling markings for the response's extensions (two; the tips' own
    # come with the answer), and the audit row (one)
    assert "errors" not in result, result
    assert result["data"]["travellerLookup"]["matches"][0]["subject"]["fullName"] == "José Álvarez"
    sent = [" ".join(q["sql"].split()) for q in captured]
    assert len(sent) <= 11, "\n".join(sql[:100] for sql in sent)
    assert not any(sql.startswith("SELECT set_config") for sql in sent), sent


def test_an_audited_partner_lookup_of_ids_by_e_mail_runs_seven_statements():
    from django.test import Client

    from tests.conftest import make_gql, register_document

    # given a partner tool's registered lookup of ids (bench/lookup_bench.py's), and an
    # e-mail seen in a tip
    query = (
        "query($i: TravellerLookupInput!) "
        "{ travellerLookup(input: $i) { matchedOn tips { id } subjects { id } } }"
    )
    investigator = UserFactory(username="partner", role=m.Role.INVESTIGATOR)
    _, raw = m.ApiToken.issue(user=investigator, name="tool", days=1)
    register_document(query)
    SightingFactory(identifier=IdentifierFactory(raw_value="seen@example.com"))
    gql = make_gql(Client(), Authorization=f"Bearer {raw}")
    variables = {"i": {"email": "seen@example.com"}}
    gql(query, variables)  # once, to fill the per-process caches
    # when it is run again
    with CaptureQueriesContext(connection) as captured:
        result = gql(query, variables)
    sent = [" ".join(q["sql"].split()) for q in captured]
    # then it found the tip, in seven statements: the token, the transaction's start, the
    # trusted document with the audit context, the lookup's reads, its row with its
    # disclosures, the audit row and the commit
    assert result["data"]["travellerLookup"]["matchedOn"] == ["EMAIL"]
    assert len(result["data"]["travellerLookup"]["tips"]) == 1
    assert len(sent) == 7, "\n".join(sql[:100] for sql in sent)
    # (in a test's transaction the request's own is a savepoint)
    opened = {"BEGIN": "BEGIN", "SAVEPOINT": "BEGIN", "COMMIT": "COMMIT", "RELEASE": "COMMIT"}
    kinds = [opened.get(sql.split()[0], sql.split()[0]) for sql in sent]
    assert kinds == ["SELECT", "BEGIN", "SELECT", "WITH", "WITH", "WITH", "COMMIT"], sent
