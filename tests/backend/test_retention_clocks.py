"""backend.services.retention: each category's clock, with the clock moved forward.

Records are back-dated with ``QuerySet.update`` (which leaves ``auto_now`` alone); the moment
the clocks are read at is passed in, so every test says exactly when a record becomes due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db.models import Model

from audit.models import AuditEvent
from audit.writer import write_event
from backend import models as m
from backend.retention import Category, period_days
from backend.services.legal_holds import lift_hold, place_hold
from backend.services.retention import Clocks, disposal_preview, due
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    NoteFactory,
    ResearchResultFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2020, 1, 1, 12, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(microseconds=1)
FAR = T0 + dt.timedelta(days=100 * 365)


def days(category: Category) -> dt.timedelta:
    return dt.timedelta(days=period_days(category))


def set_times(record: Model, **times: dt.datetime) -> None:
    """Back-date ``record`` (``update`` bypasses ``auto_now``)."""
    type(record)._default_manager.filter(pk=record.pk).update(**times)


def old_tip(**kwargs: Any) -> m.Tip:
    tip = TipFactory(**kwargs)
    set_times(tip, received_at=T0, updated_at=T0)
    return tip


def old_subject() -> m.Subject:
    subject = SubjectFactory()
    set_times(subject, created_at=T0, updated_at=T0)
    return subject


def old_identifier(**kwargs: Any) -> m.Identifier:
    identifier = IdentifierFactory(**kwargs)
    set_times(identifier, created_at=T0)
    return identifier


def closed_lead(at: dt.datetime = T0, **kwargs: Any) -> m.Lead:
    lead = LeadFactory(status=m.LeadStatus.CLOSED, outcome=m.LeadOutcome.ARREST, **kwargs)
    set_times(lead, closed_at=at, updated_at=at)
    return lead


def due_pks(category: Category, model: type[Model], now: dt.datetime) -> set[Any]:
    """The pks of ``model``'s rows that ``category`` makes due at ``now``."""
    return {
        pk
        for part in due(category, now=now)
        if part.model is model
        for pk in part.rows.values_list("pk", flat=True)
    }


def tips_due(now: dt.datetime) -> set[int]:
    return set(Clocks(now).tips.values_list("pk", flat=True))


def hold(record: Model, reference: str = "CASE-1") -> m.LegalHold:
    return place_hold(
        by=UserFactory(role=m.Role.PROGRAM_MANAGER),
        record=record,
        reason="Preservation letter from the US Attorney",
        reference=reference,
    )


# ----------------------------------------------------------------------------------------------
# Each category becomes due exactly at its period


def _tip() -> tuple[Model, dt.datetime]:
    return old_tip(), T0


def _lead() -> tuple[Model, dt.datetime]:
    return closed_lead(), T0


def _lookup(hits: int) -> Callable[[], tuple[Model, dt.datetime]]:
    def make() -> tuple[Model, dt.datetime]:
        lookup = m.TravellerLookup.objects.create(
            user=UserFactory(role=m.Role.INVESTIGATOR),
            criteria={"email": "traveller@example.com"},
            subject_hits=hits,
        )
        set_times(lookup, created_at=T0)
        return lookup, T0

    return make


def _disclosure() -> tuple[Model, dt.datetime]:
    lookup, _ = _lookup(1)()
    tip = old_tip()
    disclosure = m.Disclosure.objects.create(
        lookup=lookup,
        user=lookup.user,
        content_type=ContentType.objects.get_for_model(m.Tip),
        object_id=tip.pk,
    )
    set_times(disclosure, created_at=T0)
    # the record disclosed is released earlier (its period is shorter here), so the
    # disclosure's own period decides
    return disclosure, T0


def _import_job(file: str) -> Callable[[], tuple[Model, dt.datetime]]:
    def make() -> tuple[Model, dt.datetime]:
        job = m.ImportJob.objects.create(
            status=m.ImportJobStatus.SUCCEEDED,
            file=file,
            filename="tips.csv",
            format="CSV",
            mode="ACCEPT_VALID",
            source=SourceFactory(),
            finished_at=T0,
        )
        return job, T0

    return make


def _session() -> tuple[Model, dt.datetime]:
    return Session.objects.create(session_key="k" * 32, session_data="", expire_date=T0), T0


def _token() -> tuple[Model, dt.datetime]:
    token = m.ApiToken.objects.create(
        user=UserFactory(), name="cli", key_hash="a" * 64, expires_at=T0 + dt.timedelta(days=9)
    )
    set_times(token, revoked_at=T0)  # revoked before it expired: the revocation ends it
    return token, T0


def _sign_in(model: type[Model]) -> Callable[[], tuple[Model, dt.datetime]]:
    def make() -> tuple[Model, dt.datetime]:
        extra = {"failures_since_start": 1} if model is AccessAttempt else {}
        row = model._default_manager.create(
            user_agent="test", ip_address="192.0.2.1", username="x", **extra
        )
        set_times(row, attempt_time=T0)
        return row, T0

    return make


def _audit_event() -> tuple[Model, dt.datetime]:
    event = write_event(kind="OPERATION", outcome="ALLOWED", operation_name="t")
    return event, AuditEvent.objects.get(pk=event.pk).occurred_at  # append-only: not back-dated


def _admin_entry() -> tuple[Model, dt.datetime]:
    entry = LogEntry.objects.create(
        user=UserFactory(), action_flag=2, object_repr="x", action_time=T0
    )
    return entry, T0


CASES: dict[str, tuple[Category, Callable[[], tuple[Model, dt.datetime]]]] = {
    "tip": (Category.TIPS, _tip),
    "lead": (Category.LEADS, _lead),
    "lookup with hits": (Category.LOOKUPS_WITH_HITS, _lookup(1)),
    "lookup without hits": (Category.LOOKUPS_WITHOUT_HITS, _lookup(0)),
    "disclosure": (Category.DISCLOSURES, _disclosure),
    "import job": (Category.IMPORT_JOBS, _import_job("")),
    "uploaded file": (Category.UPLOADED_FILES, _import_job("intake/2020/01/01/tips.csv")),
    "session": (Category.SESSIONS_AND_TOKENS, _session),
    "API token": (Category.SESSIONS_AND_TOKENS, _token),
    "sign-in attempt": (Category.SESSIONS_AND_TOKENS, _sign_in(AccessAttempt)),
    "failed sign-in": (Category.SESSIONS_AND_TOKENS, _sign_in(AccessFailureLog)),
    "sign-in": (Category.SESSIONS_AND_TOKENS, _sign_in(AccessLog)),
    "audit event": (Category.AUDIT_LOG, _audit_event),
    "admin change": (Category.AUDIT_LOG, _admin_entry),
}


def test_every_category_has_a_case():
    assert {category for category, _ in CASES.values()} == set(Category)


@pytest.mark.parametrize("case", list(CASES))
def test_each_category_becomes_due_exactly_at_its_period(case, settings):
    category, make = CASES[case]
    # given the records a disclosure's record needs released sooner than the disclosure
    settings.RETENTION_DAYS = {"TIPS": 30}
    # given a record whose clock started at a known moment
    record, started = make()
    model = type(record)
    at_period = started + days(category)
    # when the clocks are read a moment before its period ends, then it is not due
    assert record.pk not in due_pks(category, model, at_period - TICK)
    # when they are read exactly at its period, then it is due, with its clock's start
    assert record.pk in due_pks(category, model, at_period)
    own = next(part for part in due(category, now=at_period) if part.model is model and part.own)
    assert own.rows.get(pk=record.pk).clock_start == started


def test_a_period_set_by_the_agency_replaces_the_default(settings):
    # given a lookup that matched nothing, 40 days old
    lookup, _ = _lookup(0)()
    now = T0 + dt.timedelta(days=40)
    # when the default (90 days) applies, then it is kept
    assert lookup.pk not in due_pks(Category.LOOKUPS_WITHOUT_HITS, m.TravellerLookup, now)
    # when the agency keeps such lookups 30 days, then it is due
    settings.RETENTION_DAYS = {"LOOKUPS_WITHOUT_HITS": 30}
    assert lookup.pk in due_pks(Category.LOOKUPS_WITHOUT_HITS, m.TravellerLookup, now)


# ----------------------------------------------------------------------------------------------
# What starts and restarts a clock


def test_activity_on_a_tip_restarts_its_clock():
    # given an old tip, and a note added to it now
    tip = old_tip()
    note = NoteFactory(record=tip)
    past_old_period = T0 + days(Category.TIPS)
    # then the tip is not due at the old tip's period, but at the note's
    assert tip.pk not in tips_due(past_old_period)
    assert tip.pk in tips_due(note.created_at + days(Category.TIPS))


def test_a_lead_is_due_only_once_closed():
    # given a lead still referred to an office, untouched since T0
    lead = LeadFactory(status=m.LeadStatus.REFERRED)
    set_times(lead, updated_at=T0)
    # then it is never due
    assert lead.pk not in due_pks(Category.LEADS, m.Lead, FAR)


def test_running_import_jobs_are_never_due():
    job, _ = _import_job("intake/x.csv")()
    m.ImportJob.objects.filter(pk=job.pk).update(status=m.ImportJobStatus.RUNNING)
    assert job.pk not in due_pks(Category.IMPORT_JOBS, m.ImportJob, FAR)
    assert job.pk not in due_pks(Category.UPLOADED_FILES, m.ImportJob, FAR)


def test_an_unexpired_token_is_never_due():
    token = m.ApiToken.objects.create(
        user=UserFactory(), name="cli", key_hash="b" * 64, expires_at=FAR + dt.timedelta(days=1)
    )
    assert token.pk not in due_pks(Category.SESSIONS_AND_TOKENS, m.ApiToken, FAR)


# ----------------------------------------------------------------------------------------------
# Records shared by several tips


def test_a_shared_identifier_and_subject_are_due_only_when_every_tip_keeping_them_is():
    # given an identifier and a person in an old tip and in a tip received a year later
    old, later = old_tip(), TipFactory()
    set_times(
        later, received_at=T0 + dt.timedelta(days=365), updated_at=T0 + dt.timedelta(days=365)
    )
    email, person = old_identifier(), old_subject()
    for tip in (old, later):
        SightingFactory(tip=tip, identifier=email)
        TipSubjectFactory(tip=tip, subject=person)
    old_due = T0 + days(Category.TIPS)
    clocks = Clocks(old_due)
    # when the old tip is due
    assert set(clocks.tips.values_list("pk", flat=True)) == {old.pk}
    # then the identifier and the person it shares with the later tip are not
    assert not clocks.identifiers.filter(pk=email.pk).exists()
    assert not clocks.subjects.filter(pk=person.pk).exists()
    # but the old tip's own sightings go with it
    sightings = due_pks(Category.TIPS, m.TipIdentifier, old_due)
    assert sightings == set(old.sightings.values_list("pk", flat=True))
    # when the later tip is due too, then both are, their clock the later tip's
    later_due = Clocks(T0 + dt.timedelta(days=365) + days(Category.TIPS))
    assert later_due.identifiers.filter(pk=email.pk).exists()
    assert later_due.subjects.get(pk=person.pk).clock_start == T0 + dt.timedelta(days=365)


def test_an_identifier_of_a_person_still_kept_is_kept():
    # given an old tip naming a person whose identifier an analyst recorded on the person only
    tip, person, phone = old_tip(), old_subject(), old_identifier()
    TipSubjectFactory(tip=tip, subject=person)
    person.identifier_links.create(identifier=phone)
    later = TipFactory()  # the person is named in a new tip too
    TipSubjectFactory(tip=later, subject=person)
    # then the identifier stays while the person does
    clocks = Clocks(T0 + days(Category.TIPS))
    assert tip.pk in set(clocks.tips.values_list("pk", flat=True))
    assert not clocks.identifiers.filter(pk=phone.pk).exists()


def test_research_results_go_with_their_tip_and_keep_their_identifier():
    # given an old tip with research on an identifier seen only there, and research without a
    # tip on an identifier a live tip still holds
    tip, ip = old_tip(), old_identifier(raw_value="198.51.100.7", kind=m.IdentifierKind.IP_ADDRESS)
    SightingFactory(tip=tip, identifier=ip)
    with_tip = ResearchResultFactory(tip=tip, identifier=ip)
    shared = old_identifier()
    SightingFactory(tip=TipFactory(), identifier=shared)
    without_tip = ResearchResultFactory(identifier=shared)
    for research in (with_tip, without_tip):
        set_times(research, updated_at=T0)
    clocks = Clocks(T0 + days(Category.TIPS))
    # then the tip's research goes with it, and the identifier with both
    assert set(clocks.research_results.values_list("pk", flat=True)) == {with_tip.pk}
    assert set(clocks.identifiers.values_list("pk", flat=True)) == {ip.pk}


def test_a_lead_still_kept_keeps_its_tips_and_people():
    # given an old tip and person in a lead closed later
    tip, person = old_tip(), old_subject()
    TipSubjectFactory(tip=tip, subject=person)
    closed = T0 + dt.timedelta(days=3 * 365)
    lead = closed_lead(at=closed)
    lead.tips.add(tip)
    lead.subjects.add(person)
    # when the tip's own period has passed, then the lead keeps it and the person
    clocks = Clocks(T0 + days(Category.TIPS))
    assert not clocks.tips.filter(pk=tip.pk).exists()
    assert not clocks.subjects.filter(pk=person.pk).exists()
    # when the lead's period has passed too, then all three are due
    clocks = Clocks(closed + days(Category.LEADS))
    assert clocks.leads.filter(pk=lead.pk).exists()
    assert clocks.tips.filter(pk=tip.pk).exists()
    assert clocks.subjects.filter(pk=person.pk).exists()


def test_an_accounting_of_disclosure_lives_as_long_as_the_record_and_keeps_its_lookup():
    # given a lookup that disclosed a tip still kept, both long past their own periods
    lookup, _ = _lookup(1)()
    tip = TipFactory()
    disclosure = m.Disclosure.objects.create(
        lookup=lookup,
        user=lookup.user,
        content_type=ContentType.objects.get_for_model(m.Tip),
        object_id=tip.pk,
    )
    set_times(disclosure, created_at=T0)
    later = T0 + days(Category.DISCLOSURES) + days(Category.LOOKUPS_WITH_HITS)
    # then neither the disclosure nor the lookup is due while the tip is kept
    assert disclosure.pk not in due_pks(Category.DISCLOSURES, m.Disclosure, later)
    assert lookup.pk not in due_pks(Category.LOOKUPS_WITH_HITS, m.TravellerLookup, later)
    # when the tip is due too (its clock started at T0), then so are both
    set_times(tip, received_at=T0, updated_at=T0)
    tip_due = T0 + days(Category.TIPS)
    assert disclosure.pk in due_pks(Category.DISCLOSURES, m.Disclosure, tip_due)
    assert lookup.pk in due_pks(Category.LOOKUPS_WITH_HITS, m.TravellerLookup, tip_due)


# ----------------------------------------------------------------------------------------------
# Legal holds


@pytest.fixture
def old_matter() -> dict[str, Model]:
    """An old tip with everything a tip keeps, in a lead closed long ago, and a live tip
    linked to it."""
    tip, person, email = old_tip(), old_subject(), old_identifier()
    SightingFactory(tip=tip, identifier=email)
    TipSubjectFactory(tip=tip, subject=person)
    research = ResearchResultFactory(tip=tip, identifier=email)
    set_times(research, updated_at=T0)
    lead = closed_lead()
    lead.tips.add(tip)
    lead.subjects.add(person)
    return {"tip": tip, "subject": person, "identifier": email, "research": research, "lead": lead}


def _due_records(now: dt.datetime) -> dict[str, set[Any]]:
    clocks = Clocks(now)
    return {
        "tip": set(clocks.tips.values_list("pk", flat=True)),
        "subject": set(clocks.subjects.values_list("pk", flat=True)),
        "identifier": set(clocks.identifiers.values_list("pk", flat=True)),
        "research": set(clocks.research_results.values_list("pk", flat=True)),
        "lead": set(clocks.leads.values_list("pk", flat=True)),
    }


@pytest.mark.parametrize("held", ["tip", "subject", "lead"])
def test_a_held_record_and_everything_linked_to_it_are_never_due(old_matter, held):
    # given the whole matter past every period
    before = _due_records(FAR)
    for name, record in old_matter.items():
        assert record.pk in before[name], name
    # when a legal hold is placed on one of its tip, person or lead
    placed = hold(old_matter[held])
    # then nothing of the matter is due
    during = _due_records(FAR)
    for name, record in old_matter.items():
        assert record.pk not in during[name], (held, name)
    # when the hold is lifted, then it is all due again
    lift_hold(by=placed.placed_by, hold=placed, reason="Case closed, judgment final")
    after = _due_records(FAR)
    for name, record in old_matter.items():
        assert record.pk in after[name], name


def test_a_held_person_keeps_every_tip_naming_them_but_not_unrelated_tips():
    # given a held person named in two old tips, and an unrelated old tip
    person = old_subject()
    named = [old_tip(), old_tip()]
    for tip in named:
        TipSubjectFactory(tip=tip, subject=person)
    unrelated = old_tip()
    hold(person)
    # then the tips naming them are kept, the other is due
    assert tips_due(FAR) == {unrelated.pk}


def test_a_held_tip_keeps_the_tips_linked_to_it_but_not_their_other_links():
    # given a held tip linked to a second tip, itself linked to a third, and a link an analyst
    # removed as wrong (a link is one row, lower tip first: the held tip is the higher end of
    # its live link and the lower end of the removed one)
    linked, held, further, unlinked = old_tip(), old_tip(), old_tip(), old_tip()
    for a, b in ((linked, held), (linked, further)):
        m.TipLink.objects.create(from_tip=a, to_tip=b, kind=m.TipLinkKind.MANUAL, reason="same")
    m.TipLink.objects.create(
        from_tip=held,
        to_tip=unlinked,
        kind=m.TipLinkKind.MANUAL,
        removed_at=T0,
        removed_reason="wrong link",
    )
    for link in m.TipLink.objects.all():
        set_times(link, created_at=T0)
    hold(held)
    # then the held tip and the tip one link away are kept; the rest is due
    assert tips_due(FAR) == {further.pk, unlinked.pk}


def test_a_record_held_for_two_matters_stays_held_until_both_are_lifted():
    tip = old_tip()
    first, second = hold(tip, "CASE-1"), hold(tip, "CASE-2")
    lift_hold(by=first.placed_by, hold=first, reason="Matter 1 closed")
    assert tip.pk not in tips_due(FAR)
    lift_hold(by=second.placed_by, hold=second, reason="Matter 2 closed")
    assert tip.pk in tips_due(FAR)


# ----------------------------------------------------------------------------------------------
# The preview


def test_the_preview_counts_what_is_due_and_what_holds_keep_apart():
    # given three old tips, one of them held, one recent tip, and a lookup that matched nothing
    kept_by_hold = old_tip()
    old_tip(), old_tip()
    TipFactory()
    hold(kept_by_hold)
    lookup, _ = _lookup(0)()
    now = T0 + days(Category.TIPS)
    # when the preview is read at the tips' period
    previews = {p.category: p for p in disposal_preview(now=now)}
    tips = previews[Category.TIPS]
    # then the held tip is not counted as due, but as held
    assert (tips.due, tips.held) == (2, 1)
    assert tips.oldest_clock_start == T0
    assert tips.cutoff == now - days(Category.TIPS)
    assert {p.name: p.due for p in tips.parts}["tips"] == 2
    assert "legal hold" in tips.reason
    # and the lookup that matched nothing is due in its own category
    assert previews[Category.LOOKUPS_WITHOUT_HITS].due == 1
    assert previews[Category.LOOKUPS_WITH_HITS].due == 0
    assert lookup.pk in due_pks(Category.LOOKUPS_WITHOUT_HITS, m.TravellerLookup, now)


def test_the_preview_reads_only_the_categories_asked_for():
    previews = disposal_preview(now=T0, categories=[Category.AUDIT_LOG, Category.TIPS])
    assert [p.category for p in previews] == [Category.TIPS, Category.AUDIT_LOG]
    assert all(p.oldest_clock_start is None for p in previews if p.due == 0)
