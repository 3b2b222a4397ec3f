"""Alerts as rows (backend.services.alerts): who is alerted of what, set-based, delivered on
commit. The GraphQL side (the alerts query and acknowledgeAlerts) is in
tests/schema/test_alerts_api.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend import models as m
from backend.intake.importer import import_tips
from backend.intake.records import IntakeIdentifier, IntakeTip
from backend.services import alert_delivery, alerts
from backend.services.identifiers import update_identifier
from backend.services.leads import change_lead_status
from backend.services.lookups import LookupCriteria, traveller_lookup
from backend.services.removal import remove_record
from backend.services.subjects import update_subject
from backend.services.tips import (
    SightingSpec,
    add_identifier_to_tip,
    add_subject_to_tip,
    create_tip,
    update_tip,
)
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    OfficeFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

RECEIVED = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def delivered(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    calls: list[list[int]] = []
    monkeypatch.setattr(alert_delivery, "deliver", lambda ids: calls.append(list(ids)))
    return calls


def partner(name: str = "pat") -> m.User:
    return UserFactory(username=name, role=m.Role.INVESTIGATOR, agency="CBP")


class Looked:
    """A suspect with an e-mail, named in a tip; a partner looked the e-mail up."""

    def __init__(self) -> None:
        self.email = IdentifierFactory(raw_value="mallory@example.com")
        self.suspect = SubjectFactory(full_name="Mallory Suspect")
        self.suspect.identifier_links.create(identifier=self.email)
        self.tip = TipFactory(source_reference="OLD-1")
        SightingFactory(tip=self.tip, identifier=self.email)
        TipSubjectFactory(tip=self.tip, subject=self.suspect)
        self.partner = partner()
        self.lookup = traveller_lookup(
            by=self.partner, criteria=LookupCriteria(email="mallory@example.com")
        ).lookup


@pytest.fixture
def looked() -> Looked:
    return Looked()


def new_tip(reference: str, *, email: str = "mallory@example.com", **extra: Any) -> m.Tip:
    return create_tip(
        by=None,
        source=SourceFactory(),
        source_reference=reference,
        received_at=RECEIVED,
        category=m.TipCategory.OTHER,
        identifiers=[SightingSpec(kind="EMAIL", value=email)],
        **extra,
    )


def open_alerts(user: m.User, kind: str = m.AlertKind.LINKED_TIP) -> list[m.Alert]:
    return list(m.Alert.objects.filter(recipient=user, kind=kind).order_by("id"))


# -- link alerts -----------------------------------------------------------------------------


def test_a_new_tip_sharing_a_disclosed_identifier_alerts_the_partner_and_discloses_the_tip(
    looked: Looked, delivered: list[list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    # given a partner who looked the e-mail up
    # when an analyst records a new tip in which it is seen
    with django_capture_on_commit_callbacks(execute=True):
        tip = new_tip("NEW-1")
    # then the partner has one alert about the e-mail, and the tip is disclosed by it
    [alert] = open_alerts(looked.partner)
    assert (alert.tip_id, alert.object_id) == (tip.pk, looked.email.pk)
    assert alert.content_type == ContentType.objects.get_for_model(m.Identifier)
    assert "NEW-1 was received" in alert.message
    [disclosure] = m.Disclosure.objects.filter(alert=alert)
    assert (disclosure.user, disclosure.object_id, disclosure.lookup_id) == (
        looked.partner,
        tip.pk,
        None,
    )
    assert alert.pk in [pk for call in delivered for pk in call]


def test_nothing_is_delivered_when_the_transaction_rolls_back(
    looked: Looked, delivered: list[list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        new_tip("NEW-1")
    assert delivered == []  # on_commit, not at once
    assert len(callbacks) >= 1


def test_a_tip_naming_a_disclosed_suspect_alerts_but_not_as_a_victim(looked: Looked) -> None:
    tip = TipFactory(source_reference="T-SUSPECT")
    victim_tip = TipFactory(source_reference="T-VICTIM")
    TipSubjectFactory(tip=tip, subject=looked.suspect, role=m.SubjectRole.SUSPECT)
    TipSubjectFactory(tip=victim_tip, subject=looked.suspect, role=m.SubjectRole.VICTIM)
    written = alerts.raise_link_alerts([tip.pk, victim_tip.pk])
    assert [a.tip_id for a in open_alerts(looked.partner)] == [tip.pk]
    assert len(written) == 1


def test_owner_only_and_removed_tips_alert_nobody(looked: Looked) -> None:
    new_tip("OWNER", handling_caveat=m.HandlingCaveat.OWNER_ONLY)
    removed = TipFactory(source_reference="GONE", removed_at=timezone.now())
    SightingFactory(tip=removed, identifier=looked.email)
    assert alerts.raise_link_alerts([removed.pk]) == []
    assert open_alerts(looked.partner) == []


def test_an_expired_disclosure_stops_alerts(looked: Looked, settings: Any) -> None:
    # given the partner's lookup is older than the reopening window
    m.Disclosure.objects.filter(user=looked.partner).update(
        created_at=timezone.now() - dt.timedelta(days=settings.DISCLOSURE_REOPEN_DAYS + 1)
    )
    new_tip("LATE-1")
    assert open_alerts(looked.partner) == []


def test_only_active_partner_accounts_are_alerted_not_analysts(looked: Looked) -> None:
    analyst = UserFactory(username="ann", role=m.Role.ANALYST)
    traveller_lookup(by=analyst, criteria=LookupCriteria(email="mallory@example.com"))
    gone = partner("gone")
    traveller_lookup(by=gone, criteria=LookupCriteria(email="mallory@example.com"))
    gone.is_active = False
    gone.save()
    new_tip("NEW-2")
    assert m.Alert.objects.filter(kind=m.AlertKind.LINKED_TIP).count() == 1
    assert open_alerts(analyst) == [] and open_alerts(gone) == []


def test_a_changed_tip_alerts_once_until_acknowledged(looked: Looked) -> None:
    tip = new_tip("NEW-3")
    update_tip(tip=tip, narrative="more detail")
    add_subject_to_tip(tip=tip, subject=SubjectFactory(), role=m.SubjectRole.WITNESS)
    [alert] = open_alerts(looked.partner)
    alerts.acknowledge_alerts(alerts=[alert], by=looked.partner)
    update_tip(tip=tip, narrative="even more")
    assert len(open_alerts(looked.partner)) == 2
    assert "NEW-3 changed" in open_alerts(looked.partner)[-1].message


def test_link_alerts_are_one_statement_whatever_the_number_of_tips(looked: Looked) -> None:
    tips = [TipFactory(source_reference=f"MANY-{n}") for n in range(30)]
    for tip in tips:
        SightingFactory(tip=tip, identifier=looked.email)
    with CaptureQueriesContext(connection) as queries:
        written = alerts.raise_link_alerts([t.pk for t in tips])
    assert len(written) == 30
    assert len([q for q in queries if "backend_alert" in q["sql"]]) == 1


def test_a_bulk_import_alerts_at_the_end_of_each_batch(looked: Looked) -> None:
    records = [
        IntakeTip(
            row=n,
            source_reference=f"BULK-{n}",
            received_at=RECEIVED,
            category="DISTRIBUTION",
            narrative="n",
            identifiers=(IntakeIdentifier(kind="EMAIL", value="Mallory@Example.com"),),
        )
        for n in range(1, 4)
    ]
    import_tips(records=records, source=SourceFactory(), by=None, batch_size=2)
    refs = sorted(
        m.Tip.objects.filter(pk__in=[a.tip_id for a in open_alerts(looked.partner)]).values_list(
            "source_reference", flat=True
        )
    )
    assert refs == ["BULK-1", "BULK-2", "BULK-3"]


# -- corrections -----------------------------------------------------------------------------


def test_correcting_or_removing_a_disclosed_record_alerts_every_partner_who_received_it(
    looked: Looked,
) -> None:
    other = partner("other")  # received nothing
    second = partner("second")
    traveller_lookup(by=second, criteria=LookupCriteria(email="mallory@example.com"))
    # an old disclosure still counts: everyone who ever received it is told
    m.Disclosure.objects.filter(user=second).update(
        created_at=timezone.now() - dt.timedelta(days=400)
    )
    update_subject(subject=looked.suspect, full_name="Mallory Q Suspect")
    remove_record(by=UserFactory(role=m.Role.PROGRAM_MANAGER), record=looked.tip, reason="wrong")
    for user in (looked.partner, second):
        corrections = open_alerts(user, m.AlertKind.CORRECTION)
        assert sorted(a.object_id for a in corrections) == [looked.suspect.pk, looked.tip.pk]
        assert any("was removed" in a.message for a in corrections)
    assert open_alerts(other, m.AlertKind.CORRECTION) == []


# -- office alerts ---------------------------------------------------------------------------


def test_a_referral_and_a_deconfliction_notice_alert_the_offices() -> None:
    office, other_office = OfficeFactory(name="Miami"), OfficeFactory(name="Boston")
    tip = TipFactory(status=m.TipStatus.ACTIONABLE)
    email = IdentifierFactory(raw_value="shared@example.com")
    SightingFactory(tip=tip, identifier=email)
    lead = LeadFactory(office=office, title="Operation Reef")
    lead.tips.add(tip)
    change_lead_status(lead=lead, status=m.LeadStatus.REFERRED)
    [referral] = m.Alert.objects.filter(kind=m.AlertKind.REFERRAL)
    assert (referral.office, referral.lead) == (office, lead)
    assert "Operation Reef" in referral.message
    # a tip from Boston's analyst touching Miami's active lead: both offices are alerted
    boston = UserFactory(role=m.Role.ANALYST, office=other_office)
    create_tip(
        by=boston,
        source=SourceFactory(),
        source_reference="DECON-1",
        received_at=RECEIVED,
        category=m.TipCategory.OTHER,
        identifiers=[SightingSpec(kind="EMAIL", value="shared@example.com")],
    )
    notices = m.Alert.objects.filter(kind=m.AlertKind.DECONFLICTION)
    assert sorted(a.office.name for a in notices) == ["Boston", "Miami"]
    assert all(a.notice is not None and a.lead == lead for a in notices)


def test_acknowledging_twice_or_nothing_is_refused() -> None:
    user = partner()
    alert = m.Alert.objects.create(kind=m.AlertKind.CORRECTION, recipient=user, message="x")
    alerts.acknowledge_alerts(alerts=[alert], by=user)
    with pytest.raises(Exception, match="already acknowledged"):
        alerts.acknowledge_alerts(alerts=[alert], by=user)
    with pytest.raises(Exception, match="at least one"):
        alerts.acknowledge_alerts(alerts=[], by=user)


def test_an_identifier_added_to_a_tip_and_a_corrected_identifier_alert(looked: Looked) -> None:
    tip = TipFactory(source_reference="PLAIN-1")
    assert alerts.raise_link_alerts([tip.pk]) == []  # nothing links yet
    add_identifier_to_tip(tip=tip, sighting=SightingSpec(kind="EMAIL", value="Mallory@Example.com"))
    assert [a.tip_id for a in open_alerts(looked.partner)] == [tip.pk]
    update_identifier(identifier=looked.email, kind="EMAIL", value="mallory.k@example.com")
    [correction] = open_alerts(looked.partner, m.AlertKind.CORRECTION)
    assert correction.object_id == looked.email.pk
    assert "was corrected" in correction.message
