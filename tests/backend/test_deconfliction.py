"""Deconfliction: work touching another office's active lead tells both offices."""

from __future__ import annotations

import pytest
from strawberry.relay import GlobalID

from backend import models as m
from backend.errors import InvalidInput
from backend.services.deconfliction import acknowledge, deconflict
from backend.services.leads import create_lead
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


@pytest.fixture
def world():
    """Office X has an active (referred) lead on a tip with an e-mail and a suspect."""
    x = OfficeFactory(name="Office X", contact_point="X duty desk")
    y = OfficeFactory(name="Office Y", contact_point="Y duty desk")
    email = IdentifierFactory(raw_value="shared@example.com")
    suspect = SubjectFactory(full_name="Sam Suspect")
    tip = TipFactory(source_reference="X-1")
    SightingFactory(tip=tip, identifier=email)
    TipSubjectFactory(tip=tip, subject=suspect)
    lead = LeadFactory(title="X lead", office=x, status=m.LeadStatus.REFERRED)
    lead.tips.add(tip)
    return {"x": x, "y": y, "email": email, "suspect": suspect, "lead": lead}


def new_tip_with(identifier=None, subject=None) -> m.Tip:
    tip = TipFactory()
    if identifier is not None:
        SightingFactory(tip=tip, identifier=identifier)
    if subject is not None:
        TipSubjectFactory(tip=tip, subject=subject)
    return tip


def test_lead_of_another_office_on_a_shared_identifier_notifies_both(world):
    # when office Y builds a lead from a tip with the same e-mail
    other = create_lead(
        by=None, title="Y lead", office=world["y"], tips=[new_tip_with(world["email"])]
    )
    # then one notice names the e-mail and X's lead, with a copy for each office
    [notice] = m.DeconflictionNotice.objects.all()
    assert notice.lead == world["lead"]
    assert notice.triggered_by_lead == other
    assert notice.identifier == world["email"]
    assert "shared@example.com" in notice.reason and "X lead" in notice.reason
    copies = {(r.office.name, r.contact_point) for r in notice.recipients.all()}
    assert copies == {("Office X", "Y duty desk"), ("Office Y", "X duty desk")}


def test_shared_subject_notifies_too(world):
    create_lead(by=None, title="Y lead", office=world["y"], subjects=[world["suspect"]])
    [notice] = m.DeconflictionNotice.objects.all()
    assert notice.subject == world["suspect"]
    assert "Sam Suspect" in notice.reason


def test_same_office_raises_nothing(world):
    create_lead(by=None, title="X again", office=world["x"], tips=[new_tip_with(world["email"])])
    assert not m.DeconflictionNotice.objects.exists()


@pytest.mark.parametrize("status", [m.LeadStatus.DRAFT, m.LeadStatus.CLOSED, m.LeadStatus.DECLINED])
def test_inactive_leads_raise_nothing(world, status):
    m.Lead.objects.filter(pk=world["lead"].pk).update(status=status)
    create_lead(by=None, title="Y lead", office=world["y"], tips=[new_tip_with(world["email"])])
    assert not m.DeconflictionNotice.objects.exists()


def test_unrelated_work_raises_nothing(world):
    create_lead(
        by=None, title="Y lead", office=world["y"], tips=[new_tip_with(IdentifierFactory())]
    )
    assert not m.DeconflictionNotice.objects.exists()


def test_the_same_work_does_not_notify_twice(world):
    tip = new_tip_with(world["email"])
    for _ in range(2):
        deconflict(identifier_ids=[world["email"].pk], origin_office=world["y"], tip=tip)
    assert m.DeconflictionNotice.objects.count() == 1


def test_work_without_an_office_tells_the_lead_office_who_did_it(world):
    user = UserFactory(username="hq-analyst", first_name="Hana", last_name="Q", agency="HQ")
    deconflict(identifier_ids=[world["email"].pk], origin_office=None, by=user, tip=new_tip_with())
    [recipient] = m.NoticeRecipient.objects.all()
    assert recipient.office == world["x"]
    assert recipient.contact_point == "Hana Q (HQ)"


def test_acknowledge_own_office_copy_only(world):
    create_lead(by=None, title="Y lead", office=world["y"], tips=[new_tip_with(world["email"])])
    copy_x = m.NoticeRecipient.objects.get(office=world["x"])
    y_user = UserFactory(username="y-analyst", office=world["y"])
    x_user = UserFactory(username="x-analyst", office=world["x"])
    with pytest.raises(InvalidInput, match="your own office"):
        acknowledge(recipient=copy_x, by=y_user)
    acknowledge(recipient=copy_x, by=x_user)
    copy_x.refresh_from_db()
    assert copy_x.acknowledged_by == x_user
    with pytest.raises(InvalidInput, match="already acknowledged"):
        acknowledge(recipient=copy_x, by=x_user)


NOTICES = """{ deconflictionNotices(filters: {acknowledgedAt: {isNull: true}}) {
  totalCount edges { node { id office { name } contactPoint
    notice { reason lead { title } identifier { value } } } } } }"""
ACK = """mutation($id: ID!) { acknowledgeNotice(recipientId: $id) {
  recipient { acknowledgedAt } errors { code field } } }"""


def test_notices_listed_and_acknowledged_over_graphql(world, gql):
    create_lead(by=None, title="Y lead", office=world["y"], tips=[new_tip_with(world["email"])])
    listed = gql(NOTICES)["data"]["deconflictionNotices"]
    assert listed["totalCount"] == 2
    offices = sorted(e["node"]["office"]["name"] for e in listed["edges"])
    assert offices == ["Office X", "Office Y"]
    assert {e["node"]["notice"]["identifier"]["value"] for e in listed["edges"]} == {
        "shared@example.com"
    }
    first = listed["edges"][0]["node"]["id"]
    done = gql(ACK, {"id": first})["data"]["acknowledgeNotice"]
    assert done["errors"] == [] and done["recipient"]["acknowledgedAt"]
    assert gql(NOTICES)["data"]["deconflictionNotices"]["totalCount"] == 1
    again = gql(ACK, {"id": first})["data"]["acknowledgeNotice"]
    assert again["errors"] == [{"code": "INVALID_INPUT", "field": "recipientId"}]
    missing = gql(ACK, {"id": str(GlobalID("NoticeRecipient", "999999"))})
    assert missing["data"]["acknowledgeNotice"]["errors"][0]["code"] == "NOT_FOUND"


def test_a_new_tip_from_another_office_notifies_both(world):
    from django.utils import timezone

    from backend.services.tips import SightingSpec, create_tip
    from tests.factories import SourceFactory

    # when an analyst of office Y records a tip with the shared e-mail
    y_analyst = UserFactory(username="y-intake", office=world["y"])
    tip = create_tip(
        by=y_analyst,
        source=SourceFactory(),
        source_reference="Y-NEW",
        received_at=timezone.now(),
        category=m.TipCategory.DISTRIBUTION,
        identifiers=[SightingSpec(kind="EMAIL", value="Shared@Example.com")],
    )
    # then X's lead is flagged to both offices, naming the tip
    [notice] = m.DeconflictionNotice.objects.all()
    assert (notice.lead, notice.triggered_by_tip) == (world["lead"], tip)
    assert sorted(r.office.name for r in notice.recipients.all()) == ["Office X", "Office Y"]


def test_a_partner_lookup_tells_the_lead_office_who_asked(world, gql_as):
    # when a partner investigator looks the traveller up
    gql_as(m.Role.INVESTIGATOR)(
        '{ travellerLookup(input: {email: "shared@example.com"}) { tips { id } } }'
    )
    # then office X learns of it, with the investigator as the contact
    [notice] = m.DeconflictionNotice.objects.all()
    assert notice.triggered_by_lookup is not None
    [recipient] = notice.recipients.all()
    assert recipient.office == world["x"]
    assert recipient.contact_point.startswith("investigator-user")


# -- a traveller lookup: its statement that records it also reads the leads it touches ------


def _look_up(user: m.User, **criteria: object) -> list[m.DeconflictionNotice]:
    import datetime as dt

    from backend.services.lookups import LookupCriteria, traveller_lookup

    if "date_of_birth" in criteria:
        criteria["date_of_birth"] = dt.date.fromisoformat(str(criteria["date_of_birth"]))
    outcome = traveller_lookup(by=user, criteria=LookupCriteria(**criteria))  # type: ignore[arg-type]
    return list(m.DeconflictionNotice.objects.filter(triggered_by_lookup=outcome.lookup))


@pytest.mark.parametrize(
    "criteria",
    [
        {"email": "SHARED@example.com"},  # an identifier seen in the lead's tip
        {"name": "Sam Suspect", "date_of_birth": "1980-01-01"},  # a person in the lead's tip
    ],
)
def test_a_lookup_from_another_office_notifies_the_leads_office(world, criteria):
    y_analyst = UserFactory(username="y-analyst", office=world["y"])
    [notice] = _look_up(y_analyst, **criteria)
    assert notice.lead == world["lead"]
    copies = {(r.office.name, r.contact_point) for r in notice.recipients.all()}
    assert copies == {("Office X", "Y duty desk"), ("Office Y", "X duty desk")}


def test_a_lookup_of_a_person_of_the_lead_itself_notifies_too(world):
    # given a lead that names a person directly, on no tip
    loner = SubjectFactory(full_name="Lone Person", date_of_birth="1975-05-05")
    other = LeadFactory(title="X person lead", office=world["x"], status=m.LeadStatus.ACCEPTED)
    other.subjects.add(loner)
    # (an analyst may look up anyone; the owning agency's reach is every live record)
    [notice] = _look_up(
        UserFactory(username="hq", office=None), name="Lone Person", date_of_birth="1975-05-05"
    )
    assert notice.lead == other
    assert notice.subject == loner


def test_a_lookup_from_the_leads_own_office_raises_nothing(world):
    assert (
        _look_up(UserFactory(username="x-analyst", office=world["x"]), email="shared@example.com")
        == []
    )


@pytest.mark.parametrize("change", ["DRAFT", "CLOSED", "removed", "no office"])
def test_a_lookup_touching_an_inactive_lead_raises_nothing(world, change):
    from django.utils import timezone

    leads = m.Lead.objects.filter(pk=world["lead"].pk)
    if change == "removed":
        leads.update(removed_at=timezone.now())
    elif change == "no office":
        leads.update(office=None, status=m.LeadStatus.DRAFT)
    else:
        leads.update(status=change)
    y_analyst = UserFactory(username="y-analyst", office=world["y"])
    assert _look_up(y_analyst, email="shared@example.com") == []
