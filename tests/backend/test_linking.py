"""backend.services.linking: automatic tip links through shared identifiers and subjects."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q

from backend.models import SubjectRole, Tip, TipLink, TipLinkKind
from backend.services.linking import link_tips
from backend.services.tips import SightingSpec
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    service_tip,
)

pytestmark = pytest.mark.django_db

RECEIVED = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


def _tip(reference: str, *, identifiers=(), subjects=()) -> Tip:
    return service_tip(reference, identifiers=identifiers, subjects=subjects)


def _links() -> set[tuple[int, int, str, int | None, int | None, str]]:
    return set(
        TipLink.objects.values_list(
            "from_tip_id", "to_tip_id", "kind", "identifier_id", "subject_id", "reason"
        )
    )


def _seen_from(tip: Tip) -> set[tuple[int, str]]:
    """(linked tip, kind) of every link of ``tip``, read from either end as its readers do."""
    return {
        (link.other_end(tip.pk), link.kind)
        for link in TipLink.objects.filter(Q(from_tip=tip) | Q(to_tip=tip))
    }


def test_shared_normalised_identifier_links_both_ways():
    # given a tip with an e-mail address
    first = _tip("A", identifiers=[SightingSpec(kind="EMAIL", value="Predator@Example.com")])
    assert TipLink.objects.count() == 0

    # when a second tip arrives with the same address written differently
    second = _tip("B", identifiers=[SightingSpec(kind="EMAIL", value=" predator@EXAMPLE.com")])

    # then the two are linked (one row, lower tip first), by that identifier, with a reason
    # naming it, and each tip sees the other
    identifier_id = first.sightings.get().identifier_id
    reason = "Both tips contain EMAIL predator@example.com"
    assert _links() == {
        (first.pk, second.pk, "SHARED_IDENTIFIER", identifier_id, None, reason),
    }
    assert _seen_from(first) == {(second.pk, "SHARED_IDENTIFIER")}
    assert _seen_from(second) == {(first.pk, "SHARED_IDENTIFIER")}


def test_shared_subject_links_both_ways():
    # given two tips naming the same subject (in different roles)
    subject = SubjectFactory(full_name="John Q. Example")
    first = _tip("A", subjects=[(subject, SubjectRole.SUSPECT)])
    second = _tip("B", subjects=[(subject, SubjectRole.WITNESS)])

    # then they are linked through the subject (one row), and each tip sees the other
    reason = "Both tips name subject John Q. Example"
    assert _links() == {
        (first.pk, second.pk, "SHARED_SUBJECT", None, subject.pk, reason),
    }
    assert _seen_from(first) == {(second.pk, "SHARED_SUBJECT")}
    assert _seen_from(second) == {(first.pk, "SHARED_SUBJECT")}


def test_link_tips_on_rows_written_directly():
    # given three tips written with factories (no service), two sharing a phone number
    phone = IdentifierFactory(kind="PHONE", raw_value="+1 202 555 0143")
    a, b, unrelated = TipFactory(), TipFactory(), TipFactory()
    SightingFactory(tip=a, identifier=phone)
    SightingFactory(tip=b, identifier=phone, event="LOGIN")
    SightingFactory(tip=unrelated)  # its own, different identifier

    # when linking is run for one of them
    added = link_tips(tip_ids=[a.pk])

    # then exactly the two sharing the phone are linked (one row), seen from both
    assert added == 1
    assert {(f, t, k) for f, t, k, *_ in _links()} == {
        (a.pk, b.pk, "SHARED_IDENTIFIER"),
    }
    assert _seen_from(b) == {(a.pk, "SHARED_IDENTIFIER")}
    assert not TipLink.objects.filter(from_tip=unrelated).exists()
    assert not TipLink.objects.filter(to_tip=unrelated).exists()
    assert TipLink.objects.get(from_tip=a).reason == "Both tips contain PHONE +12025550143"


def test_identifier_and_subject_both_shared_give_two_kinds():
    # given two tips sharing both an identifier and a subject
    subject = SubjectFactory()
    spec = SightingSpec(kind="IP_ADDRESS", value="198.51.100.23")
    first = _tip("A", identifiers=[spec], subjects=[(subject, SubjectRole.SUSPECT)])
    second = _tip("B", identifiers=[spec], subjects=[(subject, SubjectRole.SUSPECT)])

    # then there is one link per kind, each seen from both tips
    assert sorted(TipLink.objects.values_list("from_tip_id", "to_tip_id", "kind")) == sorted(
        [
            (first.pk, second.pk, "SHARED_IDENTIFIER"),
            (first.pk, second.pk, "SHARED_SUBJECT"),
        ]
    )
    assert _seen_from(second) == {(first.pk, "SHARED_IDENTIFIER"), (first.pk, "SHARED_SUBJECT")}


def test_two_shared_identifiers_give_one_link_each():
    # given two tips sharing two different identifiers
    specs = [
        SightingSpec(kind="EMAIL", value="one@example.com"),
        SightingSpec(kind="USERNAME", value="kid_lover", qualifier="discord"),
    ]
    first = _tip("A", identifiers=specs)
    second = _tip("B", identifiers=specs)
    # then each shared identifier gives its own link, with its own reason
    reasons = sorted(
        TipLink.objects.filter(from_tip=first, to_tip=second).values_list("reason", flat=True)
    )
    assert reasons == [
        "Both tips contain EMAIL one@example.com",
        "Both tips contain USERNAME kid_lover",
    ]
    assert TipLink.objects.count() == 2
    assert len(TipLink.objects.filter(Q(from_tip=second) | Q(to_tip=second))) == 2


def test_repeated_sightings_of_one_identifier_give_one_link():
    # given one tip that saw the identifier at login and at upload, another that reported it
    a, b = TipFactory(), TipFactory()
    ident = IdentifierFactory()
    SightingFactory(tip=a, identifier=ident, event="LOGIN")
    SightingFactory(tip=a, identifier=ident, event="UPLOAD")
    SightingFactory(tip=b, identifier=ident)
    # when linked, then there is still only one link
    assert link_tips(tip_ids=[a.pk, b.pk]) == 1
    assert TipLink.objects.count() == 1


def test_no_self_links():
    # given a tip that names the same identifier twice and the same subject in two roles
    subject = SubjectFactory()
    tip = _tip(
        "A",
        identifiers=[
            SightingSpec(kind="EMAIL", value="x@example.com", event="LOGIN"),
            SightingSpec(kind="EMAIL", value="x@example.com", event="UPLOAD"),
        ],
        subjects=[(subject, SubjectRole.SUSPECT), (subject, SubjectRole.WITNESS)],
    )
    # when linked again explicitly
    added = link_tips(tip_ids=[tip.pk])
    # then it links to nothing, not even itself
    assert added == 0
    assert TipLink.objects.count() == 0


def test_link_tips_is_idempotent():
    # given three tips sharing an identifier and two of them a subject
    subject = SubjectFactory()
    spec = SightingSpec(kind="DOMAIN", value="Bad-Site.example")
    a = _tip("A", identifiers=[spec], subjects=[(subject, SubjectRole.SUSPECT)])
    b = _tip("B", identifiers=[spec])
    c = _tip("C", identifiers=[spec], subjects=[(subject, SubjectRole.SUSPECT)])
    before = _links()
    # 3 tips sharing an identifier: 3 pairs, one link each; a and c share the subject: 1 more
    assert len(before) == 4

    # when linking is run again, for one, for all, and repeatedly
    assert link_tips(tip_ids=[a.pk]) == 0
    assert link_tips(tip_ids=[a.pk, b.pk, c.pk, a.pk]) == 0
    assert link_tips(tip_ids=[c.pk]) == 0

    # then nothing was added and nothing changed
    assert _links() == before
    assert TipLink.objects.count() == 4


def test_unrelated_tips_are_not_linked():
    # given tips with different identifiers and different subjects,
    # including look-alikes that do not share a normalised value
    _tip("A", identifiers=[SightingSpec(kind="EMAIL", value="alice@example.com")])
    _tip("B", identifiers=[SightingSpec(kind="EMAIL", value="alice@example.org")])
    _tip("C", identifiers=[SightingSpec(kind="USERNAME", value="alice", qualifier="x")])
    _tip("D", identifiers=[SightingSpec(kind="USERNAME", value="alice", qualifier="tiktok")])
    _tip("E", subjects=[(SubjectFactory(full_name="Same Name"), SubjectRole.SUSPECT)])
    _tip("F", subjects=[(SubjectFactory(full_name="Same Name"), SubjectRole.SUSPECT)])
    # then no links exist at all
    assert TipLink.objects.count() == 0
    assert link_tips(tip_ids=Tip.objects.values_list("pk", flat=True)) == 0


def test_link_tips_with_no_ids_does_nothing():
    # given two tips already sharing a subject but not yet linked (written directly)
    subject = SubjectFactory()
    TipSubjectFactory(subject=subject)
    TipSubjectFactory(subject=subject)
    # when linking is asked for no tips, then nothing happens
    assert link_tips(tip_ids=[]) == 0
    assert TipLink.objects.count() == 0


def test_link_kinds_stored_are_known_choices():
    # given two linked tips
    spec = SightingSpec(kind="EMAIL", value="k@example.com")
    _tip("A", identifiers=[spec])
    _tip("B", identifiers=[spec])
    # then the kind stored by raw SQL is one of the model's choices
    assert set(TipLink.objects.values_list("kind", flat=True)) == {
        TipLinkKind.SHARED_IDENTIFIER.value
    }
