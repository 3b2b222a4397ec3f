"""The partner rule (permissions.partner): a partner-agency investigator learns about a person
only where they are a suspect on a tip the partner may see. Witnesses, reporting persons,
victims and people in any other role are never matched, counted or disclosed, by name, alias
or identifier, and nothing in the answer (matchedOn, reasons, the tip cap) tells that they
exist. The owning agency's analysts keep seeing everyone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from strawberry.relay import GlobalID

from backend import models as m
from permissions.partner import (
    lookup_reach,
    partner_identifiers,
    partner_subjects,
    partner_tip_subjects,
    partner_tips,
)
from permissions.scoping import scope_queryset
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DOB = dt.date(1981, 6, 14)
LOOKUP = """
query($input: TravellerLookupInput!) {
  travellerLookup(input: $input) {
    matchedOn
    subjects { fullName }
    tips { sourceReference }
    identifiers { value }
    matches {
      reasons { field }
      subject { fullName }
      identifier { value }
      tips { sourceReference }
    }
  }
}
"""
#: One lookup per kind a partner may ask by, each finding the person of ``person_in``.
LOOKUPS = {
    "name and date of birth": ({"name": "marta quintero", "dateOfBirth": DOB.isoformat()}, None),
    "e-mail": ({"email": "Marta.Q@Example.com"}, "EMAIL"),
    "username": ({"username": "@Marta_Q", "platform": "Instagram"}, "USERNAME"),
    "phone": ({"phone": "+1 (202) 555-0142"}, "PHONE"),
    "passport": ({"passport": "x1234567", "passportCountry": "ES"}, "PASSPORT"),
}
HIDDEN_ROLES = [
    m.SubjectRole.WITNESS,
    m.SubjectRole.REPORTING_PERSON,
    m.SubjectRole.VICTIM,
    m.SubjectRole.OTHER,
]


def gid(obj) -> str:
    names = {m.Tip: "Tip", m.Subject: "Subject", m.Identifier: "Identifier"}
    return str(GlobalID(names[type(obj)], str(obj.pk)))


def person_in(role: str, *, reference: str = "TIP-1", caveat: str = m.HandlingCaveat.NONE):
    """Marta Quintero, named in one tip in ``role``, holding an e-mail, a username, a phone
    number and a passport (linked to her only: none of them is seen in a tip)."""
    tip = TipFactory(source_reference=reference, handling_caveat=caveat)
    marta = SubjectFactory(full_name="Marta Quintero", date_of_birth=DOB)
    TipSubjectFactory(tip=tip, subject=marta, role=role)
    for kind, raw, qualifier in (
        (m.IdentifierKind.EMAIL, "marta.q@example.com", ""),
        (m.IdentifierKind.USERNAME, "marta_q", "instagram"),
        (m.IdentifierKind.PHONE, "+1 202 555 0142", ""),
        (m.IdentifierKind.PASSPORT, "X1234567", "ES"),
    ):
        marta.identifier_links.create(
            identifier=IdentifierFactory(kind=kind, raw_value=raw, qualifier=qualifier)
        )
    return marta, tip


def lookup(gql, criteria: dict) -> dict:
    result = gql(LOOKUP, {"input": criteria})
    assert "errors" not in result, result
    return result["data"]["travellerLookup"]


NOTHING = {"matchedOn": [], "subjects": [], "tips": [], "identifiers": [], "matches": []}


# -- lookups: denied, allowed, owning agency ------------------------------------------------


@pytest.mark.parametrize("kind", LOOKUPS)
@pytest.mark.parametrize("role", HIDDEN_ROLES)
def test_partner_lookup_never_finds_a_person_in_any_role_but_suspect(gql_as, role, kind):
    # given Marta, named in a visible tip as a witness, reporting person, victim or other
    person_in(role)
    criteria, _ = LOOKUPS[kind]
    # when an investigator looks her up by name and date of birth, or by one of her identifiers
    data = lookup(gql_as(m.Role.INVESTIGATOR), criteria)
    # then nothing comes back, nothing is disclosed, and the lookup counted nothing
    assert data == NOTHING
    assert not m.Disclosure.objects.exists()
    recorded = m.TravellerLookup.objects.get()
    assert (recorded.subject_hits, recorded.tip_hits) == (0, 0)


@pytest.mark.parametrize("kind", LOOKUPS)
def test_partner_lookup_finds_a_suspect_on_a_visible_tip(gql_as, kind):
    # given Marta, named as a suspect in a visible tip
    marta, tip = person_in(m.SubjectRole.SUSPECT)
    criteria, field = LOOKUPS[kind]
    # when an investigator looks her up
    data = lookup(gql_as(m.Role.INVESTIGATOR), criteria)
    # then she and her tip come back, matched on what was asked, and both are disclosed
    assert data["subjects"] == [{"fullName": "Marta Quintero"}]
    assert data["tips"] == [{"sourceReference": "TIP-1"}]
    assert data["matchedOn"] == [field or "NAME_AND_DATE_OF_BIRTH"]
    disclosed = set(m.Disclosure.objects.values_list("content_type__model", "object_id"))
    assert {("subject", marta.pk), ("tip", tip.pk)} <= disclosed


@pytest.mark.parametrize("kind", LOOKUPS)
@pytest.mark.parametrize("role", HIDDEN_ROLES)
def test_analyst_lookup_finds_a_person_in_every_role(gql, role, kind):
    # given Marta in a role a partner never learns about
    person_in(role)
    criteria, field = LOOKUPS[kind]
    # when an analyst of the owning agency looks her up, then she is found
    data = lookup(gql, criteria)
    assert data["subjects"] == [{"fullName": "Marta Quintero"}]
    assert data["matchedOn"] == [field or "NAME_AND_DATE_OF_BIRTH"]


def test_partner_does_not_find_a_suspect_known_only_through_an_owner_only_tip(gql_as):
    # given Marta, a suspect only in an OWNER_ONLY tip, and a witness in a visible one
    marta, _ = person_in(m.SubjectRole.SUSPECT, caveat=m.HandlingCaveat.OWNER_ONLY)
    TipSubjectFactory(tip=TipFactory(), subject=marta, role=m.SubjectRole.WITNESS)
    # when an investigator looks her up by name and by e-mail, then nothing comes back
    investigator = gql_as(m.Role.INVESTIGATOR)
    assert lookup(investigator, LOOKUPS["name and date of birth"][0]) == NOTHING
    assert lookup(investigator, LOOKUPS["e-mail"][0]) == NOTHING
    assert not m.Disclosure.objects.exists()


def test_a_suspect_who_is_also_a_witness_leads_only_to_the_tips_where_a_suspect(gql_as):
    # given Marta, a suspect in one visible tip and a witness in another
    marta, _ = person_in(m.SubjectRole.SUSPECT, reference="AS-SUSPECT")
    witnessed = TipFactory(source_reference="AS-WITNESS")
    TipSubjectFactory(tip=witnessed, subject=marta, role=m.SubjectRole.WITNESS)
    investigator = gql_as(m.Role.INVESTIGATOR)
    # when an investigator looks her up
    data = lookup(investigator, LOOKUPS["e-mail"][0])
    # then she comes back with the tip where she is a suspect, never the one she witnessed
    assert data["tips"] == [{"sourceReference": "AS-SUSPECT"}]
    assert [x["tips"] for x in data["matches"]] == [[{"sourceReference": "AS-SUSPECT"}]]
    assert not m.Disclosure.objects.filter(
        content_type__model="tip", object_id=witnessed.pk
    ).exists()


def test_partner_gets_only_the_suspect_of_an_identifier_a_witness_shares(gql_as):
    # given an e-mail held by a suspect and by a witness, each in a visible tip
    person_in(m.SubjectRole.SUSPECT, reference="SUSPECT-TIP")
    witness = SubjectFactory(full_name="Walter Witness", date_of_birth=DOB)
    TipSubjectFactory(
        tip=TipFactory(source_reference="WITNESS-TIP"), subject=witness, role="WITNESS"
    )
    witness.identifier_links.create(identifier=m.Identifier.objects.get(kind="EMAIL"))
    # when an investigator looks the e-mail up
    data = lookup(gql_as(m.Role.INVESTIGATOR), LOOKUPS["e-mail"][0])
    # then only the suspect and the suspect's tip come back; the witness is never disclosed
    assert data["subjects"] == [{"fullName": "Marta Quintero"}]
    assert data["tips"] == [{"sourceReference": "SUSPECT-TIP"}]
    assert not m.Disclosure.objects.filter(
        content_type__model="subject", object_id=witness.pk
    ).exists()
    assert m.TravellerLookup.objects.get().subject_hits == 1


def test_matched_on_and_reasons_never_tell_of_a_hidden_victim(gql_as, gql):
    # given a suspect holding an e-mail, and a victim with her own name and date of birth
    person_in(m.SubjectRole.SUSPECT)
    victim = SubjectFactory(full_name="Vera Victim", date_of_birth=DOB)
    TipSubjectFactory(tip=TipFactory(), subject=victim, role=m.SubjectRole.VICTIM)
    criteria = {"email": "marta.q@example.com", "name": "Vera Victim", "dateOfBirth": str(DOB)}
    # when an investigator looks up the suspect's e-mail together with the victim's name
    data = lookup(gql_as(m.Role.INVESTIGATOR), criteria)
    # then only the e-mail matched, as far as the answer tells: no NAME_AND_DATE_OF_BIRTH
    assert data["matchedOn"] == ["EMAIL"]
    assert [[r["field"] for r in x["reasons"]] for x in data["matches"]] == [["EMAIL"]]
    assert data["subjects"] == [{"fullName": "Marta Quintero"}]
    # while the owning agency is told both matched
    assert lookup(gql, criteria)["matchedOn"] == ["EMAIL", "NAME_AND_DATE_OF_BIRTH"]


def test_tip_identifier_is_found_through_a_visible_tip_only(gql_as):
    # given a phone number seen in a visible tip naming only a witness, and an e-mail seen
    # only in an OWNER_ONLY tip
    tip = TipFactory(source_reference="VISIBLE-TIP")
    TipSubjectFactory(tip=tip, subject=SubjectFactory(), role=m.SubjectRole.WITNESS)
    SightingFactory(
        tip=tip, identifier=IdentifierFactory(kind="PHONE", raw_value="+1 202 555 0142")
    )
    hidden = TipFactory(handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    SightingFactory(tip=hidden, identifier=IdentifierFactory(raw_value="hidden@example.com"))
    investigator = gql_as(m.Role.INVESTIGATOR)
    # when an investigator looks the phone up, then the tip identifier and its tip come back,
    # and nobody named in the tip
    data = lookup(investigator, {"phone": "+12025550142"})
    assert (data["matchedOn"], data["subjects"], data["tips"]) == (
        ["PHONE"],
        [],
        [{"sourceReference": "VISIBLE-TIP"}],
    )
    assert [x["identifier"] for x in data["matches"]] == [{"value": "+12025550142"}]
    # when they look the e-mail up, then nothing comes back
    assert lookup(investigator, {"email": "hidden@example.com"}) == NOTHING


@pytest.mark.parametrize("role", HIDDEN_ROLES)
def test_a_hidden_persons_identifier_is_not_found_through_a_tip_that_mentions_it(gql_as, gql, role):
    # given Marta in a hidden role, her e-mail also seen in the (visible) tip naming her
    _marta, tip = person_in(role)
    SightingFactory(tip=tip, identifier=m.Identifier.objects.get(kind="EMAIL"))
    # when an investigator looks the e-mail up, then nothing comes back and nothing is disclosed
    assert lookup(gql_as(m.Role.INVESTIGATOR), LOOKUPS["e-mail"][0]) == NOTHING
    assert not m.Disclosure.objects.exists()
    # and an analyst finds the tip through it
    assert lookup(gql, LOOKUPS["e-mail"][0])["tips"] == [{"sourceReference": "TIP-1"}]


def test_people_a_partner_may_not_learn_do_not_count_towards_the_tip_cap(gql_as, gql, settings):
    # given a cap of 2 tips, and Marta named as a witness in 3
    settings.LOOKUP_MAX_TIPS = 2
    marta, _ = person_in(m.SubjectRole.WITNESS)
    for _ in range(2):
        TipSubjectFactory(tip=TipFactory(), subject=marta, role=m.SubjectRole.WITNESS)
    criteria = LOOKUPS["name and date of birth"][0]
    # when an investigator looks her up, then the answer is "nothing", not "too broad"
    assert lookup(gql_as(m.Role.INVESTIGATOR), criteria) == NOTHING
    # while the owning agency, who may see those tips, is told to narrow the lookup down
    refused = gql(LOOKUP, {"input": criteria})
    assert refused["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "input"}


# -- row scoping applies the same rule to what was disclosed --------------------------------


def disclose(user, *records) -> None:
    """Disclosures as an earlier lookup (under an older rule) may have left them."""
    lookup_row = m.TravellerLookup.objects.create(user=user, criteria={})
    for record in records:
        m.Disclosure.objects.create(
            lookup=lookup_row,
            user=user,
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
        )


@pytest.mark.parametrize("role", HIDDEN_ROLES)
def test_a_disclosed_person_in_a_hidden_role_still_cannot_be_opened(gql_as, user_of, role):
    # given Marta, a non-suspect, and her tip, both on record as disclosed to the investigator
    marta, tip = person_in(role)
    investigator = user_of(m.Role.INVESTIGATOR)
    disclose(investigator, marta, tip)
    gql = gql_as(m.Role.INVESTIGATOR)
    query = """query($s: ID!, $t: ID!) {
      s: node(id: $s) { id }
      t: node(id: $t) { ... on Tip { sourceReference subjects { totalCount } } }
    }"""
    # when the investigator opens her and her tip
    data = gql(query, {"s": gid(marta), "t": gid(tip)})["data"]
    # then she cannot be opened, and the tip does not name her
    assert data["s"] is None
    assert data["t"] == {"sourceReference": "TIP-1", "subjects": {"totalCount": 0}}


def test_a_disclosed_suspect_shows_only_suspect_rows_on_a_tip(gql_as, user_of):
    # given Marta, a suspect in one tip and a witness in another, everything disclosed
    marta, suspect_tip = person_in(m.SubjectRole.SUSPECT)
    witnessed = TipFactory(source_reference="WITNESSED")
    TipSubjectFactory(tip=witnessed, subject=marta, role=m.SubjectRole.WITNESS)
    disclose(user_of(m.Role.INVESTIGATOR), marta, suspect_tip, witnessed)
    query = """query($s: ID!) { node(id: $s) { ... on Subject {
      tips { edges { node { role tip { sourceReference } } } } } } }"""
    # when the investigator opens her, then only her suspect role is shown
    edges = gql_as(m.Role.INVESTIGATOR)(query, {"s": gid(marta)})["data"]["node"]["tips"]
    assert [(e["node"]["role"], e["node"]["tip"]["sourceReference"]) for e in edges["edges"]] == [
        ("SUSPECT", "TIP-1")
    ]
    # while an analyst sees both
    assert scope_queryset(m.TipSubject.objects.filter(subject=marta), UserFactory()).count() == 2


# -- the rule itself ------------------------------------------------------------------------


def test_partner_rule_querysets():
    # given a suspect, a witness and a victim in a visible tip, a suspect in an OWNER_ONLY tip,
    # a removed suspect, and identifiers seen in each kind of tip or held by each person
    visible = TipFactory()
    owner_only = TipFactory(handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    people = {}
    for name, tip, role in (
        ("suspect", visible, m.SubjectRole.SUSPECT),
        ("witness", visible, m.SubjectRole.WITNESS),
        ("victim", visible, m.SubjectRole.VICTIM),
        ("hidden suspect", owner_only, m.SubjectRole.SUSPECT),
        ("removed suspect", visible, m.SubjectRole.SUSPECT),
    ):
        people[name] = SubjectFactory(full_name=name)
        TipSubjectFactory(tip=tip, subject=people[name], role=role)
        email = IdentifierFactory(raw_value=f"{name.replace(' ', '-')}@x.org")
        people[name].identifier_links.create(identifier=email)
    m.Subject.objects.filter(pk=people["removed suspect"].pk).update(removed_at=visible.received_at)
    SightingFactory(tip=visible, identifier=IdentifierFactory(raw_value="seen@x.org"))
    SightingFactory(tip=owner_only, identifier=IdentifierFactory(raw_value="hidden@x.org"))
    # then a partner may see the visible tip, learn the suspect, and the identifiers seen in
    # the visible tip or held by the suspect; nothing else
    assert list(partner_tips()) == [visible]
    assert list(partner_subjects()) == [people["suspect"]]
    assert [(r.subject, r.role) for r in partner_tip_subjects()] == [(people["suspect"], "SUSPECT")]
    assert sorted(i.value for i in partner_identifiers()) == ["seen@x.org", "suspect@x.org"]


@pytest.mark.parametrize(
    ("role", "partner"),
    [
        (m.Role.ANALYST, False),
        (m.Role.PROGRAM_MANAGER, False),
        (m.Role.INVESTIGATOR, True),
        (m.Role.REPORTING_CLIENT, True),
        (m.Role.AUDITOR, True),
    ],
)
def test_lookup_reach_binds_everyone_but_the_owning_agency(role, partner):
    # given a witness in a visible tip
    marta, _ = person_in(m.SubjectRole.WITNESS)
    # when the reach of a lookup by this role is asked for
    reach = lookup_reach(UserFactory(role=role))
    # then the owning agency reaches her; everyone else is bound by the partner rule
    assert reach.partner is partner
    assert reach.subjects.filter(pk=marta.pk).exists() is not partner


@pytest.mark.parametrize("role", [m.Role.INVESTIGATOR, m.Role.ANALYST])
def test_the_compiled_reach_selects_exactly_what_the_rule_selects(role):
    from django.db import connection

    from permissions.partner import CANDIDATES, lookup_reach_sql

    # given people in every role on visible, owner-only and removed tips, with identifiers
    # held and seen
    for subject_role in m.SubjectRole.values:
        for caveat in (m.HandlingCaveat.NONE, m.HandlingCaveat.OWNER_ONLY):
            tip = TipFactory(handling_caveat=caveat)
            subject = SubjectFactory()
            TipSubjectFactory(tip=tip, subject=subject, role=subject_role)
            held = IdentifierFactory()
            m.SubjectIdentifier.objects.create(subject=subject, identifier=held)
            SightingFactory(tip=tip, identifier=held)
            SightingFactory(tip=tip, identifier=IdentifierFactory())
    gone = TipFactory(removed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    TipSubjectFactory(tip=gone, subject=SubjectFactory())
    user = UserFactory(role=role)
    # when the reach is compiled to SQL (once per process) and run
    reach, compiled = lookup_reach(user), lookup_reach_sql(user)

    def ids(name: str) -> set[int]:
        # (every row of the table a candidate)
        sql, params = getattr(compiled, name)
        table = getattr(reach, name).model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {CANDIDATES[name]} AS (SELECT id FROM {table}) {sql}", params)
            return {pk for (pk,) in cursor.fetchall()}

    # then each set holds exactly the rows of the rule's querysets, and not nothing
    for name in ("tips", "tip_subjects", "subjects", "identifiers"):
        expected = set(getattr(reach, name).values_list("pk", flat=True))
        assert expected, name
        assert ids(name) == expected, name


@pytest.mark.parametrize("prefiltered", [False, True])
def test_a_partners_scoped_people_keep_the_rule_inside_another_query(user_of, prefiltered):
    """A scoped queryset may become a subquery of another query (``__in``), where Django
    renames its tables; the partner rule's correlated EXISTS must still refer to the person
    of the outer row. (A rule resolved once per process and reused did not: inside a
    subquery it compared a row with itself, and a disclosed witness came through.)"""
    # given a suspect and a witness, each in a tip, all of it disclosed to a partner
    marta, suspect_tip = person_in(m.SubjectRole.SUSPECT)
    witnessed = TipFactory(source_reference="WITNESSED")
    witness = SubjectFactory(full_name="Walter Witness")
    TipSubjectFactory(tip=witnessed, subject=witness, role=m.SubjectRole.WITNESS)
    investigator = user_of(m.Role.INVESTIGATOR)
    disclose(investigator, marta, suspect_tip, witness, witnessed)
    people = m.Subject.objects.all()
    if prefiltered:
        people = people.filter(pk__in=[marta.pk, witness.pk])
    # when the partner's scoped people are used on their own and inside other queries
    scoped = scope_queryset(people, investigator)
    rows = m.TipSubject.objects.filter(subject__in=scoped)
    tips = m.Tip.objects.filter(subject_links__subject__in=scoped).distinct()
    # then only the suspect is visible, however they are used
    assert list(scoped) == [marta]
    assert set(rows.values_list("subject_id", flat=True)) == {marta.pk}
    assert list(tips) == [suspect_tip]
