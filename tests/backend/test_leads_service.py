"""backend.services.leads: building leads, referring them and recording their outcome."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backend.errors import InvalidInput, InvalidTransition
from backend.models import Lead, LeadStatus, Tip, TipStatus
from backend.services.leads import change_lead_status, create_lead, update_lead
from tests.factories import LeadFactory, OfficeFactory, SubjectFactory, TipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _lead_in(status: str, **kwargs) -> Lead:
    """A lead put straight into ``status`` (bypassing the machine) to set up a scenario."""
    lead = LeadFactory(**kwargs)
    Lead.objects.filter(pk=lead.pk).update(status=status)
    lead.refresh_from_db()
    return lead


# ----------------------------------------------------------------------------------------------
# create_lead / update_lead


def test_create_lead_is_a_draft_with_tips_and_subjects():
    # given tips, subjects, an office and an analyst
    analyst, office = UserFactory(), OfficeFactory()
    tips = [TipFactory(), TipFactory()]
    subjects = [SubjectFactory()]
    # when a lead is created with a messy title
    lead = create_lead(
        by=analyst,
        title="  Operation \t Example  ",
        summary="Two tips, one suspect.",
        office=office,
        tips=tips,
        subjects=subjects,
    )
    # then it is a draft with everything attached and the title tidied
    lead.refresh_from_db()
    assert lead.status == "DRAFT"
    assert lead.title == "Operation Example"
    assert lead.summary == "Two tips, one suspect."
    assert lead.office == office
    assert lead.created_by == analyst
    assert set(lead.tips.all()) == set(tips)
    assert list(lead.subjects.all()) == subjects
    assert (lead.referred_at, lead.closed_at, lead.outcome) == (None, None, "")


@pytest.mark.parametrize("title", ["", "   ", "\n\t"])
def test_create_lead_needs_a_title(title: str):
    with pytest.raises(InvalidInput) as info:
        create_lead(by=None, title=title, tips=[TipFactory()])
    assert info.value.field == "title"
    assert Lead.objects.count() == 0


def test_create_lead_refuses_too_many_tips():
    tips = [TipFactory.build()] * 201
    with pytest.raises(InvalidInput) as info:
        create_lead(by=None, title="Big", tips=tips)
    assert info.value.field == "tipIds"
    assert Lead.objects.count() == 0


def test_update_draft_lead_changes_everything():
    # given a draft lead with one tip and one subject
    keep_tip, drop_tip, new_tip = TipFactory(), TipFactory(), TipFactory()
    old_subject, new_subject = SubjectFactory(), SubjectFactory()
    lead = create_lead(by=None, title="Draft", tips=[keep_tip, drop_tip], subjects=[old_subject])
    office = OfficeFactory()
    # when every field is changed
    update_lead(
        lead=lead,
        title=" Renamed ",
        summary="New summary",
        office=office,
        add_tips=[new_tip],
        remove_tips=[drop_tip],
        add_subjects=[new_subject],
        remove_subjects=[old_subject],
    )
    # then the changes are stored
    lead.refresh_from_db()
    assert (lead.title, lead.summary, lead.office) == ("Renamed", "New summary", office)
    assert set(lead.tips.all()) == {keep_tip, new_tip}
    assert list(lead.subjects.all()) == [new_subject]


@pytest.mark.parametrize("status", ["REFERRED", "ACCEPTED", "DECLINED", "CLOSED", "CANCELLED"])
@pytest.mark.parametrize(
    "change",
    ["office", "add_tips", "remove_tips", "add_subjects", "remove_subjects"],
)
def test_structural_changes_refused_unless_draft(status: str, change: str):
    # given a lead that is no longer a draft
    tip, subject = TipFactory(), SubjectFactory()
    original_office = OfficeFactory()
    lead = _lead_in(status, office=original_office, title="Original title")
    lead.tips.add(tip)
    lead.subjects.add(subject)
    value = {
        "office": OfficeFactory(),
        "add_tips": [TipFactory()],
        "remove_tips": [tip],
        "add_subjects": [SubjectFactory()],
        "remove_subjects": [subject],
    }[change]
    # when its office, tips or subjects are changed (together with its title)
    with pytest.raises(InvalidInput) as info:
        update_lead(lead=lead, title="New title", **{change: value})
    # then it is refused and nothing changed
    assert info.value.field == "status"
    assert info.value.message == (
        f"office, tips and subjects of a {status} lead cannot change; only a DRAFT's can"
    )
    lead.refresh_from_db()
    assert lead.title == "Original title"
    assert lead.office == original_office
    assert list(lead.tips.all()) == [tip]
    assert list(lead.subjects.all()) == [subject]


@pytest.mark.parametrize("status", ["REFERRED", "ACCEPTED", "DECLINED", "CLOSED", "CANCELLED"])
def test_title_and_summary_may_change_in_any_status(status: str):
    lead = _lead_in(status)
    update_lead(lead=lead, title="Still editable", summary="Notes")
    lead.refresh_from_db()
    assert (lead.title, lead.summary, lead.status) == ("Still editable", "Notes", status)


def test_update_lead_refuses_empty_title():
    lead = LeadFactory(title="Kept")
    with pytest.raises(InvalidInput) as info:
        update_lead(lead=lead, title="  ")
    assert info.value.field == "title"
    assert Lead.objects.get(pk=lead.pk).title == "Kept"


# ----------------------------------------------------------------------------------------------
# referral


def test_referral_sets_referred_at_and_moves_actionable_tips_to_referred():
    # given a draft lead with an office, one actionable tip and one already referred tip
    actionable = TipFactory(status=TipStatus.ACTIONABLE)
    already = TipFactory(status=TipStatus.REFERRED)
    other = TipFactory(status=TipStatus.ACTIONABLE)  # not on the lead
    lead = create_lead(by=None, title="L", office=OfficeFactory(), tips=[actionable, already])
    before = timezone.now()

    # when it is referred
    result = change_lead_status(lead=lead, status=LeadStatus.REFERRED)
    after = timezone.now()

    # then the lead is referred, with the time, and its tips are REFERRED
    result.refresh_from_db()
    assert result.status == "REFERRED"
    assert before <= result.referred_at <= after
    assert result.closed_at is None
    assert Tip.objects.get(pk=actionable.pk).status == "REFERRED"
    assert Tip.objects.get(pk=already.pk).status == "REFERRED"
    # and the newly referred tip records when, for the receipt-to-referral statistics
    assert Tip.objects.get(pk=actionable.pk).referred_at == result.referred_at
    # and a tip not on the lead is untouched
    assert Tip.objects.get(pk=other.pk).status == "ACTIONABLE"
    assert Tip.objects.get(pk=other.pk).referred_at is None


def test_a_second_referral_keeps_the_first_referral_time():
    # given a tip referred once, sent back to ACTIONABLE, and referred again on another lead
    tip = TipFactory(status=TipStatus.ACTIONABLE)
    first = create_lead(by=None, title="L1", office=OfficeFactory(), tips=[tip])
    change_lead_status(lead=first, status=LeadStatus.REFERRED)
    first_time = Tip.objects.get(pk=tip.pk).referred_at
    Tip.objects.filter(pk=tip.pk).update(status=TipStatus.ACTIONABLE)
    second = create_lead(by=None, title="L2", office=OfficeFactory(), tips=[tip])

    # when
    change_lead_status(lead=second, status=LeadStatus.REFERRED)

    # then
    assert first_time is not None
    assert Tip.objects.get(pk=tip.pk).referred_at == first_time


def test_referral_needs_an_office():
    tip = TipFactory(status=TipStatus.ACTIONABLE)
    lead = create_lead(by=None, title="No office", tips=[tip])
    with pytest.raises(InvalidInput) as info:
        change_lead_status(lead=lead, status="REFERRED")
    assert info.value.field == "office"
    assert info.value.message == "a lead needs an office before it can be referred"
    lead.refresh_from_db()
    assert (lead.status, lead.referred_at) == ("DRAFT", None)
    assert Tip.objects.get(pk=tip.pk).status == "ACTIONABLE"


def test_referral_needs_at_least_one_tip():
    lead = create_lead(by=None, title="No tips", office=OfficeFactory())
    with pytest.raises(InvalidInput) as info:
        change_lead_status(lead=lead, status="REFERRED")
    assert info.value.field == "tips"
    assert info.value.message == "a lead needs at least one tip before it can be referred"
    lead.refresh_from_db()
    assert (lead.status, lead.referred_at) == ("DRAFT", None)


@pytest.mark.parametrize("bad_status", ["RECEIVED", "UNDER_REVIEW", "NOT_ACTIONABLE", "CLOSED"])
def test_referral_needs_every_tip_actionable_or_referred(bad_status: str):
    # given a lead with one actionable tip and one tip not found actionable
    ok = TipFactory(status=TipStatus.ACTIONABLE, source_reference="OK-1")
    bad = TipFactory(status=bad_status, source_reference="BAD-1")
    lead = create_lead(by=None, title="Mixed", office=OfficeFactory(), tips=[ok, bad])
    # when referred
    with pytest.raises(InvalidInput) as info:
        change_lead_status(lead=lead, status="REFERRED")
    # then it is refused naming the tip that is not ready, and nothing moved
    assert info.value.field == "tips"
    assert info.value.message == (
        "only tips found actionable can be referred; not actionable yet: BAD-1"
    )
    lead.refresh_from_db()
    assert (lead.status, lead.referred_at) == ("DRAFT", None)
    assert Tip.objects.get(pk=ok.pk).status == "ACTIONABLE"
    assert Tip.objects.get(pk=bad.pk).status == bad_status


def test_declined_lead_can_go_back_to_draft_and_be_referred_again():
    # given a lead referred and then declined
    tip = TipFactory(status=TipStatus.ACTIONABLE)
    lead = create_lead(by=None, title="Again", office=OfficeFactory(), tips=[tip])
    change_lead_status(lead=lead, status="REFERRED")
    change_lead_status(lead=lead, status="DECLINED")
    # when it returns to draft, is re-assigned to another office and re-referred
    change_lead_status(lead=lead, status="DRAFT")
    second_office = OfficeFactory()
    update_lead(lead=Lead.objects.get(pk=lead.pk), office=second_office)
    result = change_lead_status(lead=lead, status="REFERRED")
    # then it is referred to the new office, its tip still REFERRED
    assert (result.status, result.office) == ("REFERRED", second_office)
    assert Tip.objects.get(pk=tip.pk).status == "REFERRED"


# ----------------------------------------------------------------------------------------------
# outcome and closing


@pytest.mark.parametrize("from_status", ["ACCEPTED", "DECLINED"])
def test_closing_needs_an_outcome(from_status: str):
    lead = _lead_in(from_status)
    with pytest.raises(InvalidInput) as info:
        change_lead_status(lead=lead, status="CLOSED")
    assert info.value.field == "outcome"
    assert info.value.message == "closing a lead needs an outcome"
    lead.refresh_from_db()
    assert (lead.status, lead.closed_at) == (from_status, None)


def test_closing_with_empty_outcome_refused():
    lead = _lead_in("ACCEPTED")
    with pytest.raises(InvalidInput) as info:
        change_lead_status(lead=lead, status="CLOSED", outcome="")
    assert info.value.field == "outcome"
    assert Lead.objects.get(pk=lead.pk).status == "ACCEPTED"


def test_closing_with_outcome_records_it():
    # given an accepted lead
    lead = _lead_in("ACCEPTED")
    before = timezone.now()
    # when closed with an outcome and notes
    result = change_lead_status(
        lead=lead, status="CLOSED", outcome="ARREST", outcome_notes="Arrested 2024-06-01."
    )
    # then the outcome, notes and closing time are stored
    result.refresh_from_db()
    assert (result.status, result.outcome, result.outcome_notes) == (
        "CLOSED",
        "ARREST",
        "Arrested 2024-06-01.",
    )
    assert before <= result.closed_at <= timezone.now()


def test_outcome_recorded_earlier_allows_closing_later():
    # given an accepted lead whose outcome was recorded on an earlier step
    lead = _lead_in("REFERRED")
    change_lead_status(lead=lead, status="ACCEPTED", outcome="SEARCH_WARRANT")
    # when closed without repeating it, then the stored outcome suffices
    result = change_lead_status(lead=lead, status="CLOSED")
    assert (result.status, result.outcome) == ("CLOSED", "SEARCH_WARRANT")


def test_unknown_outcome_refused():
    lead = _lead_in("ACCEPTED")
    with pytest.raises(InvalidInput) as info:
        change_lead_status(lead=lead, status="CLOSED", outcome="PROMOTION")
    assert info.value.field == "outcome"
    assert info.value.message == "outcome 'PROMOTION' is not a known outcome"
    lead.refresh_from_db()
    assert (lead.status, lead.outcome) == ("ACCEPTED", "")


def test_cancelling_a_draft_needs_no_outcome():
    lead = create_lead(by=None, title="Dropped")
    result = change_lead_status(lead=lead, status="CANCELLED")
    assert (result.status, result.closed_at, result.referred_at) == ("CANCELLED", None, None)


# ----------------------------------------------------------------------------------------------
# illegal transitions


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("DRAFT", "ACCEPTED"),
        ("DRAFT", "CLOSED"),
        ("REFERRED", "DRAFT"),
        ("REFERRED", "CLOSED"),
        ("ACCEPTED", "DECLINED"),
        ("CLOSED", "DRAFT"),
        ("CANCELLED", "DRAFT"),
        ("CANCELLED", "REFERRED"),
    ],
)
def test_illegal_lead_transitions_refused(current: str, target: str):
    # given a lead in ``current`` with a ready tip
    lead = _lead_in(current)
    lead.tips.add(TipFactory(status=TipStatus.ACTIONABLE))
    # when moved illegally, even with an outcome
    with pytest.raises(InvalidTransition) as info:
        change_lead_status(lead=lead, status=target, outcome="ARREST")
    # then it is refused naming both states and nothing changed
    assert f"Lead cannot move from {current} to {target}" in info.value.message
    lead.refresh_from_db()
    assert (lead.status, lead.outcome, lead.referred_at, lead.closed_at) == (
        current,
        "",
        None,
        None,
    )


def test_unknown_lead_status_refused():
    lead = create_lead(by=None, title="X")
    with pytest.raises(InvalidTransition) as info:
        change_lead_status(lead=lead, status="ARCHIVED")
    assert info.value.message == "Lead status 'ARCHIVED' does not exist"


def test_full_lead_walk():
    # given a draft lead with an actionable tip
    tip = TipFactory(status=TipStatus.ACTIONABLE)
    lead = create_lead(by=None, title="Walk", office=OfficeFactory(), tips=[tip])
    # when walked DRAFT -> REFERRED -> ACCEPTED -> CLOSED
    for status, outcome in [("REFERRED", None), ("ACCEPTED", None), ("CLOSED", "INDICTMENT")]:
        lead = change_lead_status(lead=lead, status=status, outcome=outcome)
        assert Lead.objects.get(pk=lead.pk).status == status
    # then it ends closed with its outcome and both times set
    assert lead.outcome == "INDICTMENT"
    assert lead.referred_at is not None
    assert lead.closed_at is not None
    assert lead.referred_at <= lead.closed_at


def test_update_lead_with_a_stale_object_checks_the_stored_status():
    # given a lead object read while it was a draft, and the lead referred since
    tip = TipFactory(status=TipStatus.ACTIONABLE)
    stale = create_lead(by=None, title="Stale", office=OfficeFactory(), tips=[tip])
    change_lead_status(lead=stale, status="REFERRED")
    assert stale.status == "DRAFT"
    # when tips are added through the stale object, then it is refused as for a referred lead
    with pytest.raises(InvalidInput) as info:
        update_lead(lead=stale, add_tips=[TipFactory()])
    assert info.value.field == "status"
    # and a title edit through the stale object does not move the lead back to DRAFT
    update_lead(lead=stale, title="Renamed")
    stored = Lead.objects.get(pk=stale.pk)
    assert (stored.title, stored.status) == ("Renamed", "REFERRED")
    assert stored.referred_at is not None
    assert list(stored.tips.all()) == [tip]


@pytest.mark.parametrize("field", ["add_subjects", "remove_subjects", "add_tips", "remove_tips"])
def test_update_lead_refuses_too_many_items(field: str):
    lead = create_lead(by=None, title="Draft")
    items = [SubjectFactory.build() if "subjects" in field else TipFactory.build()] * 201
    with pytest.raises(InvalidInput) as info:
        update_lead(lead=lead, title="Changed", **{field: items})
    camel = {
        "add_subjects": "addSubjectIds",
        "remove_subjects": "removeSubjectIds",
        "add_tips": "addTipIds",
        "remove_tips": "removeTipIds",
    }[field]
    assert info.value.field == camel
    assert Lead.objects.get(pk=lead.pk).title == "Draft"
