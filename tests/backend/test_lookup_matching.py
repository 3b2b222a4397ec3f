"""backend.services.lookups: fuzzy name matching with date of birth, exact identifiers,
ranked matches with reasons, redress marks, refusals, and what a partner may see."""

from __future__ import annotations

import datetime as dt

import pytest

from backend import models as m
from backend.errors import InvalidInput
from backend.services.lookups import LookupCriteria, MatchReason, traveller_lookup
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


@pytest.fixture
def analyst():
    return UserFactory(username="lookup-analyst", role=m.Role.ANALYST)


@pytest.fixture
def investigator():
    return UserFactory(username="lookup-investigator", role=m.Role.INVESTIGATOR)


def named(full_name: str, *, dob: dt.date = DOB, caveat: str = m.HandlingCaveat.NONE, **kw):
    """A subject named as suspect in a tip of its own."""
    subject = SubjectFactory(full_name=full_name, date_of_birth=dob, **kw)
    tip = TipFactory(source_reference=f"TIP-{full_name}", handling_caveat=caveat)
    TipSubjectFactory(tip=tip, subject=subject)
    return subject, tip


def by_name(user, name: str, dob: dt.date = DOB):
    return traveller_lookup(by=user, criteria=LookupCriteria(name=name, date_of_birth=dob))


def test_folded_name_finds_accented_name_with_the_right_date_of_birth(analyst):
    # given José Álvarez, born on DOB
    jose, tip = named("José Álvarez")
    # when looked up as "jose alvarez" with that date of birth
    outcome = by_name(analyst, "jose alvarez")
    # then he is the one match, exact on the folded name and on the date of birth
    assert [x.subject_id for x in outcome.matches] == [jose.pk]
    match = outcome.matches[0]
    assert match.reasons == [
        MatchReason("NAME", "EXACT", "similarity 1.00 to 'jose alvarez'"),
        MatchReason("DATE_OF_BIRTH", "EXACT", "1975-03-02"),
    ]
    assert match.score == 0.9
    assert match.tip_ids == [tip.pk]
    assert outcome.matched_on == ["NAME_AND_DATE_OF_BIRTH"]


def test_wrong_date_of_birth_finds_nothing(analyst):
    # given José Álvarez, born on DOB
    named("José Álvarez")
    # when looked up with the next day as date of birth
    outcome = by_name(analyst, "jose alvarez", dt.date(1975, 3, 3))
    # then nothing matches
    assert (outcome.matches, outcome.subject_ids, outcome.tip_ids) == ([], [], [])
    assert outcome.matched_on == []


def test_similar_spelling_matches_fuzzily_and_another_first_name_does_not(analyst):
    # given José Álvarez
    jose, _ = named("José Álvarez")
    # when looked up with a misspelt surname, then he is found fuzzily
    outcome = by_name(analyst, "Jose Alvares")
    assert [x.subject_id for x in outcome.matches] == [jose.pk]
    assert outcome.matches[0].reasons[0] == MatchReason(
        "NAME", "FUZZY", "similarity 0.73 to 'jose alvarez'"
    )
    # when looked up with another first name and the same surname, then he is not found
    assert by_name(analyst, "maria alvarez").matches == []


def test_transliterated_name_matches(analyst):
    # given a subject recorded in Cyrillic
    dmitri, _ = named("Дмитрий Петров")
    # when looked up in Latin script
    outcome = by_name(analyst, "Dmitri Petrov")
    # then the transliterated name matches
    assert [x.subject_id for x in outcome.matches] == [dmitri.pk]
    assert outcome.matches[0].reasons[0] == MatchReason(
        "NAME", "FUZZY", "similarity 0.81 to 'dmitrii petrov'"
    )


def test_alias_matches(analyst):
    # given a subject known under an alias
    ivan, _ = named("Ivan Drago", aliases=["Pépé el Toro"])
    # when looked up by the alias, slightly differently written
    outcome = by_name(analyst, "pepe toro")
    # then the alias matches and the reason says so
    assert [x.subject_id for x in outcome.matches] == [ivan.pk]
    assert outcome.matches[0].reasons[0] == MatchReason(
        "NAME", "FUZZY", "similarity 0.77 to 'pepe el toro' (alias)"
    )


def test_removed_subject_is_not_matched(analyst):
    # given a removed subject
    jose, _ = named("José Álvarez")
    m.Subject.objects.filter(pk=jose.pk).update(removed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    # when looked up, then nothing matches
    assert by_name(analyst, "jose alvarez").matches == []


def test_matches_are_ranked_by_score_with_their_reasons(analyst):
    # given José Álvarez holding an e-mail, Josef Alvarez with the same date of birth,
    # and a phone number seen in a tip that no person holds
    jose, jose_tip = named("José Álvarez")
    email = IdentifierFactory(raw_value="Traveller@Example.com")
    jose.identifier_links.create(identifier=email)
    SightingFactory(tip=jose_tip, identifier=email)
    josef, josef_tip = named("Josef Alvarez")
    phone = IdentifierFactory(kind=m.IdentifierKind.PHONE, raw_value="+1 202 555 0142")
    phone_tip = TipFactory(source_reference="PHONE-TIP")
    SightingFactory(tip=phone_tip, identifier=phone)
    # when looked up by name, date of birth, e-mail and phone together
    outcome = traveller_lookup(
        by=analyst,
        criteria=LookupCriteria(
            name="jose alvarez",
            date_of_birth=DOB,
            email="traveller@example.com",
            phone="+1 (202) 555-0142",
        ),
    )
    # then José (name, date of birth and e-mail) ranks first, the phone next, Josef last
    ranked = [(x.subject_id, x.identifier_id, x.score, x.tip_ids) for x in outcome.matches]
    assert ranked == [
        (jose.pk, None, 0.99, [jose_tip.pk]),
        (None, phone.pk, 0.85, [phone_tip.pk]),
        (josef.pk, None, 0.72, [josef_tip.pk]),
    ]
    assert [x.reasons for x in outcome.matches] == [
        [
            MatchReason("NAME", "EXACT", "similarity 1.00 to 'jose alvarez'"),
            MatchReason("DATE_OF_BIRTH", "EXACT", "1975-03-02"),
            MatchReason("EMAIL", "EXACT", "traveller@example.com"),
        ],
        [MatchReason("PHONE", "EXACT", "+12025550142")],
        [
            MatchReason("NAME", "FUZZY", "similarity 0.80 to 'josef alvarez'"),
            MatchReason("DATE_OF_BIRTH", "EXACT", "1975-03-02"),
        ],
    ]


def test_redress_marks_come_with_the_match(analyst):
    # given a person marked through redress as a known misidentification
    marked, _ = named(
        "José Álvarez", known_misidentification=True, redress_case_number="TRIP-2024-000123"
    )
    # when looked up
    match = by_name(analyst, "jose alvarez").matches[0]
    # then the mark and its case number come with the match
    assert (match.subject_id, match.known_misidentification, match.redress_case_number) == (
        marked.pk,
        True,
        "TRIP-2024-000123",
    )


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        (LookupCriteria(), "input"),
        (LookupCriteria(name="jose alvarez"), "dateOfBirth"),
        (LookupCriteria(date_of_birth=DOB), "name"),
        (LookupCriteria(name="j", date_of_birth=DOB), "name"),
        (LookupCriteria(name="jo", date_of_birth=DOB), "name"),
        (LookupCriteria(name="a. b.", date_of_birth=DOB), "name"),
        (LookupCriteria(name=" -- ", date_of_birth=DOB), "name"),
    ],
)
def test_empty_or_over_broad_lookups_are_refused(analyst, criteria, field):
    # when a lookup gives nothing, a name without date of birth, or too short a name
    with pytest.raises(InvalidInput) as refused:
        traveller_lookup(by=analyst, criteria=criteria)
    # then it is refused naming the field, and nothing is recorded
    assert refused.value.field == field
    assert not m.TravellerLookup.objects.exists()


def test_lookup_matching_more_tips_than_the_cap_is_refused(analyst, settings):
    # given a cap of 2 tips and a person named in 3 tips
    settings.LOOKUP_MAX_TIPS = 2
    jose, _ = named("José Álvarez")
    for _ in range(2):
        TipSubjectFactory(tip=TipFactory(), subject=jose)
    # when looked up
    with pytest.raises(InvalidInput) as refused:
        by_name(analyst, "jose alvarez")
    # then it is refused as too broad
    assert (refused.value.field, refused.value.message) == (
        "input",
        "the lookup matches more than 2 tips; narrow it down",
    )


def test_threshold_is_a_setting(analyst, settings):
    # given José Álvarez and a stricter threshold
    named("José Álvarez")
    settings.LOOKUP_NAME_THRESHOLD = 0.8
    # when looked up with a misspelt surname (similarity 0.73), then he is not found
    assert by_name(analyst, "jose alvares").matches == []


def test_partner_never_gets_owner_only_tips_through_a_fuzzy_match(analyst, investigator):
    # given José Álvarez named in a visible and an OWNER_ONLY tip, and Josef Alvarez named
    # only in an OWNER_ONLY tip
    jose, visible = named("José Álvarez")
    hidden = TipFactory(source_reference="HIDDEN", handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    TipSubjectFactory(tip=hidden, subject=jose)
    named("Josef Alvarez", caveat=m.HandlingCaveat.OWNER_ONLY)
    # when an investigator looks up a similar name
    outcome = by_name(investigator, "jose alvares")
    # then only José and his visible tip come back; nothing OWNER_ONLY, not even Josef
    assert [(x.subject_id, x.tip_ids) for x in outcome.matches] == [(jose.pk, [visible.pk])]
    assert outcome.tip_ids == [visible.pk]
    assert outcome.subject_ids == [jose.pk]
    # while the owning agency sees both people and all three tips
    owner = by_name(analyst, "jose alvares")
    assert len(owner.matches) == 2
    assert len(owner.tip_ids) == 3


def test_partner_never_finds_a_victim_by_fuzzy_name(investigator):
    # given a person named only as a victim
    victim = SubjectFactory(full_name="Ana Victima", date_of_birth=DOB)
    TipSubjectFactory(tip=TipFactory(), subject=victim, role=m.SubjectRole.VICTIM)
    # when an investigator looks the name up, then nothing comes back
    outcome = by_name(investigator, "ana victima")
    assert (outcome.matches, outcome.subject_ids, outcome.tip_ids) == ([], [], [])
