"""backend.services.tips: intake, edits and status changes of tips."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.errors import DuplicateRecord, InvalidIdentifierValue, InvalidInput, InvalidTransition
from backend.models import (
    HandlingCaveat,
    Identifier,
    SightingEvent,
    SubjectRole,
    Tip,
    TipCategory,
    TipIdentifier,
    TipLink,
    TipStatus,
    TipSubject,
)
from backend.services.tips import (
    SightingSpec,
    add_identifier_to_tip,
    add_subject_to_tip,
    change_tip_status,
    create_tip,
    update_tip,
)
from tests.factories import SourceFactory, SubjectFactory, TipFactory, UserFactory

pytestmark = pytest.mark.django_db

RECEIVED = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def _counts() -> dict[str, int]:
    return {
        "tips": Tip.objects.count(),
        "identifiers": Identifier.objects.count(),
        "sightings": TipIdentifier.objects.count(),
        "tip_subjects": TipSubject.objects.count(),
        "links": TipLink.objects.count(),
    }


def _tip(source=None, reference="REF-1", **kwargs) -> Tip:
    return create_tip(
        by=kwargs.pop("by", None),
        source=source or SourceFactory(),
        source_reference=reference,
        received_at=kwargs.pop("received_at", RECEIVED),
        category=kwargs.pop("category", TipCategory.DISTRIBUTION),
        **kwargs,
    )


def _set_status(tip: Tip, status: str) -> Tip:
    """Put a tip straight into a status (bypassing the machine) to set up a scenario."""
    Tip.objects.filter(pk=tip.pk).update(status=status)
    tip.refresh_from_db()
    return tip


# ----------------------------------------------------------------------------------------------
# create_tip


def test_create_tip_records_fields_identifiers_and_subjects():
    # given an analyst, a source and two subjects
    analyst = UserFactory()
    source = SourceFactory()
    suspect, victim = SubjectFactory(), SubjectFactory()
    captured = dt.datetime(2024, 2, 20, 8, 30, tzinfo=dt.UTC)

    # when a tip is created with identifiers and subjects
    tip = create_tip(
        by=analyst,
        source=source,
        source_reference="  CT-2024-0001  ",
        received_at=RECEIVED,
        category=TipCategory.ENTICEMENT,
        narrative="Chat logs attached.",
        priority=2,
        handling_caveat=HandlingCaveat.OWNER_ONLY,
        identifiers=[
            SightingSpec(kind="EMAIL", value=" Alice@Example.COM "),
            SightingSpec(
                kind="USERNAME",
                value="Bad_Actor",
                qualifier="instagram",
                event=SightingEvent.LOGIN,
                captured_at=captured,
            ),
        ],
        subjects=[(suspect, SubjectRole.SUSPECT), (victim, SubjectRole.VICTIM)],
    )

    # then the tip is stored as given, with a trimmed reference and default status
    tip.refresh_from_db()
    assert tip.source == source
    assert tip.source_reference == "CT-2024-0001"
    assert tip.received_at == RECEIVED
    assert tip.category == "ENTICEMENT"
    assert tip.narrative == "Chat logs attached."
    assert tip.priority == 2
    assert tip.handling_caveat == "OWNER_ONLY"
    assert tip.status == "RECEIVED"
    assert tip.created_by == analyst
    assert tip.is_actionable is None
    assert tip.reviewed_by is None
    assert tip.reviewed_at is None

    # and the identifiers are normalised, with sightings keeping the raw value and event
    sightings = list(tip.sightings.select_related("identifier").order_by("id"))
    assert [(s.identifier.kind, s.identifier.value, s.event) for s in sightings] == [
        ("EMAIL", "alice@example.com", "REPORTED"),
        ("USERNAME", "bad_actor", "LOGIN"),
    ]
    assert [s.raw_value for s in sightings] == ["Alice@Example.COM", "Bad_Actor"]
    assert sightings[0].captured_at is None
    assert sightings[1].captured_at == captured
    assert sightings[1].identifier.qualifier == "instagram"
    # first/last seen: the capture time when given, otherwise the time the tip was received
    assert (sightings[0].identifier.first_seen, sightings[0].identifier.last_seen) == (
        RECEIVED,
        RECEIVED,
    )
    assert (sightings[1].identifier.first_seen, sightings[1].identifier.last_seen) == (
        captured,
        captured,
    )

    # and the subjects are named in their roles
    assert sorted(tip.subject_links.values_list("subject_id", "role")) == sorted(
        [(suspect.pk, "SUSPECT"), (victim.pk, "VICTIM")]
    )


def test_create_tip_defaults():
    # given only the required arguments
    tip = _tip()
    # then priority, caveat, narrative and status take their defaults
    tip.refresh_from_db()
    assert (tip.priority, tip.handling_caveat, tip.narrative, tip.status) == (
        3,
        "NONE",
        "",
        "RECEIVED",
    )
    assert tip.created_by is None
    assert tip.sightings.count() == 0
    assert tip.subject_links.count() == 0


def test_same_email_in_different_case_resolves_to_one_identifier_row():
    # given the same e-mail address written in three different cases in one tip
    tip = _tip(
        identifiers=[
            SightingSpec(kind="EMAIL", value="Bob.Smith@Example.org"),
            SightingSpec(kind="EMAIL", value="bob.smith@example.org"),
            SightingSpec(kind="EMAIL", value="BOB.SMITH@EXAMPLE.ORG"),
        ]
    )
    # then there is exactly one identifier row, and one REPORTED sighting of it
    assert Identifier.objects.count() == 1
    identifier = Identifier.objects.get()
    assert identifier.value == "bob.smith@example.org"
    assert identifier.raw_value == "Bob.Smith@Example.org"  # as first received
    assert TipIdentifier.objects.filter(tip=tip).count() == 1

    # when another tip brings the address in yet another case
    other = _tip(
        reference="REF-2", identifiers=[SightingSpec(kind="EMAIL", value="bob.SMITH@example.ORG")]
    )
    # then it reuses the same row
    assert Identifier.objects.count() == 1
    assert other.sightings.get().identifier_id == identifier.pk


def test_same_identifier_with_different_events_gives_one_row_two_sightings():
    # given one identifier seen at login and at upload
    tip = _tip(
        identifiers=[
            SightingSpec(kind="IP_ADDRESS", value="203.0.113.7", event=SightingEvent.LOGIN),
            SightingSpec(kind="IP_ADDRESS", value="203.0.113.7", event=SightingEvent.UPLOAD),
        ]
    )
    # then one identifier, two sightings
    assert Identifier.objects.count() == 1
    assert sorted(tip.sightings.values_list("event", flat=True)) == ["LOGIN", "UPLOAD"]


@pytest.mark.parametrize(
    ("identifiers", "bad_index"),
    [
        (
            [
                SightingSpec(kind="EMAIL", value="good@example.com"),
                SightingSpec(kind="EMAIL", value="not-an-email"),
            ],
            1,
        ),
        (
            [
                SightingSpec(kind="EMAIL", value="first@example.com"),
                SightingSpec(kind="PHONE", value="+1 202 555 0143"),
                SightingSpec(kind="FILE_HASH", value="xyz", qualifier="md5"),
            ],
            2,
        ),
        ([SightingSpec(kind="EMAIL", value="   ")], 0),
    ],
)
def test_malformed_identifier_names_its_index_and_writes_nothing(identifiers, bad_index):
    # given an existing unrelated tip with a subject (so link rows could be produced)
    subject = SubjectFactory()
    _tip(reference="EXISTING", subjects=[(subject, SubjectRole.SUSPECT)])
    before = _counts()

    # when a tip is created whose identifier at bad_index is malformed
    with pytest.raises(InvalidIdentifierValue) as info, transaction.atomic():
        _tip(
            reference="NEW",
            identifiers=identifiers,
            subjects=[(subject, SubjectRole.SUSPECT)],
        )

    # then the error is an identifier error naming the index of the offending value
    exc = info.value
    assert exc.code == "INVALID_IDENTIFIER"
    assert exc.field == f"identifiers[{bad_index}].value"
    assert exc.message.startswith("Invalid ")
    assert repr(identifiers[bad_index].value) in exc.message
    # and nothing of the tip was written: no tip, no identifier, no sighting, no subject, no link
    assert _counts() == before
    assert not Tip.objects.filter(source_reference="NEW").exists()
    assert not Identifier.objects.filter(value="good@example.com").exists()


def test_unknown_sighting_event_names_its_index_and_writes_nothing():
    # given a tip whose second identifier has an unknown event
    before = _counts()
    with pytest.raises(InvalidInput) as info, transaction.atomic():
        _tip(
            identifiers=[
                SightingSpec(kind="EMAIL", value="one@example.com"),
                SightingSpec(kind="EMAIL", value="two@example.com", event="SNEEZE"),
            ]
        )
    # then the field names the index and the event, and nothing was written
    assert info.value.field == "identifiers[1].event"
    assert "'SNEEZE'" in info.value.message
    assert _counts() == before


def test_unknown_identifier_kind_names_its_index_and_writes_nothing():
    # given a tip whose second identifier has a kind that does not exist
    before = _counts()
    with pytest.raises(InvalidIdentifierValue) as info, transaction.atomic():
        _tip(
            identifiers=[
                SightingSpec(kind="EMAIL", value="one@example.com"),
                SightingSpec(kind="TELEPATHY", value="x"),
            ]
        )
    # then the error points at that identifier's kind, and nothing was written
    assert info.value.field == "identifiers[1].kind"
    assert "TELEPATHY" in info.value.message
    assert _counts() == before


def test_unknown_subject_role_writes_nothing():
    # given a valid identifier but a subject in an unknown role
    before = _counts()
    with pytest.raises(InvalidInput) as info, transaction.atomic():
        _tip(
            identifiers=[SightingSpec(kind="EMAIL", value="one@example.com")],
            subjects=[(SubjectFactory(), "MASTERMIND")],
        )
    assert info.value.field == "role"
    assert _counts() == before


def test_source_reference_is_unique_per_source():
    # given a tip from a source
    source = SourceFactory()
    first = _tip(source=source, reference="NCMEC-42")

    # when the source re-sends the same reference (even padded with spaces)
    with pytest.raises(DuplicateRecord) as info, transaction.atomic():
        _tip(source=source, reference="  NCMEC-42 ")

    # then the service refuses it as a duplicate and still only one tip exists
    assert info.value.code == "DUPLICATE"
    assert info.value.field == "sourceReference"
    assert info.value.message == (
        f"source {source.name!r} already sent a tip with reference 'NCMEC-42'"
    )
    assert list(Tip.objects.values_list("pk", flat=True)) == [first.pk]


def test_two_sources_may_reuse_the_same_reference():
    # given two sources
    a, b = SourceFactory(), SourceFactory()
    # when both send a tip with the same reference
    tip_a = _tip(source=a, reference="2024-001")
    tip_b = _tip(source=b, reference="2024-001")
    # then both are stored
    assert tip_a.pk != tip_b.pk
    assert Tip.objects.filter(source_reference="2024-001").count() == 2
    # and the database allows the same when bypassing the service
    TipFactory(source=SourceFactory(), source_reference="2024-001")
    assert Tip.objects.filter(source_reference="2024-001").count() == 3


def test_database_refuses_duplicate_reference_when_bypassing_the_service():
    # given a tip stored directly
    source = SourceFactory()
    Tip.objects.create(
        source=source, source_reference="DUP", received_at=RECEIVED, category="OTHER"
    )
    # when the same (source, reference) is inserted directly, skipping the service
    with pytest.raises(IntegrityError, match="tip_source_reference_unique"), transaction.atomic():
        Tip.objects.create(
            source=source, source_reference="DUP", received_at=RECEIVED, category="OTHER"
        )
    # then the unique constraint refuses it and the connection stays usable
    assert Tip.objects.filter(source=source).count() == 1


@pytest.mark.parametrize("reference", ["", "   ", "\t\n"])
def test_empty_source_reference_refused(reference: str):
    with pytest.raises(InvalidInput) as info:
        _tip(reference=reference)
    assert info.value.field == "sourceReference"
    assert Tip.objects.count() == 0


@pytest.mark.parametrize("priority", [0, 6, -1, 100])
def test_priority_out_of_range_refused(priority: int):
    with pytest.raises(InvalidInput) as info:
        _tip(priority=priority)
    assert info.value.field == "priority"
    assert info.value.message == (f"priority must be 1 (highest) to 5 (lowest), got {priority}")
    assert Tip.objects.count() == 0


@pytest.mark.parametrize("priority", [1, 2, 3, 4, 5])
def test_priority_in_range_accepted(priority: int):
    tip = _tip(priority=priority)
    tip.refresh_from_db()
    assert tip.priority == priority


@pytest.mark.parametrize("category", ["", "possession", "TERRORISM"])
def test_unknown_category_refused(category: str):
    with pytest.raises(InvalidInput) as info:
        _tip(category=category)
    assert info.value.field == "category"
    assert info.value.message.startswith(f"category {category!r} is not one of: ")
    assert Tip.objects.count() == 0


@pytest.mark.parametrize("category", TipCategory.values)
def test_every_known_category_accepted(category: str):
    assert _tip(category=category).category == category


@pytest.mark.parametrize("caveat", ["", "SECRET", "owner_only"])
def test_unknown_handling_caveat_refused(caveat: str):
    with pytest.raises(InvalidInput) as info:
        _tip(handling_caveat=caveat)
    assert info.value.field == "handlingCaveat"
    assert Tip.objects.count() == 0


def test_too_many_identifiers_refused():
    specs = [SightingSpec(kind="EMAIL", value=f"p{i}@example.com") for i in range(201)]
    with pytest.raises(InvalidInput) as info:
        _tip(identifiers=specs)
    assert info.value.field == "identifiers"
    assert _counts()["identifiers"] == 0


# ----------------------------------------------------------------------------------------------
# add_identifier_to_tip / add_subject_to_tip


def test_add_identifier_to_tip_links_and_is_idempotent():
    # given two tips, one with an identifier
    first = _tip(reference="A", identifiers=[SightingSpec(kind="EMAIL", value="x@example.com")])
    second = _tip(reference="B")
    assert TipLink.objects.count() == 0

    # when the same identifier (different case) is added to the second tip, twice
    s1 = add_identifier_to_tip(
        tip=second, sighting=SightingSpec(kind="EMAIL", value="X@Example.com")
    )
    s2 = add_identifier_to_tip(
        tip=second, sighting=SightingSpec(kind="EMAIL", value="x@example.com")
    )

    # then there is one sighting and the two tips are linked (one row, lower tip first)
    assert s1.pk == s2.pk
    assert second.sightings.count() == 1
    assert set(TipLink.objects.values_list("from_tip_id", "to_tip_id")) == {
        (first.pk, second.pk),
    }


def test_add_identifier_to_tip_error_field_has_no_index():
    tip = _tip()
    with pytest.raises(InvalidIdentifierValue) as info:
        add_identifier_to_tip(tip=tip, sighting=SightingSpec(kind="PHONE", value="call me"))
    assert info.value.field == "identifiers.value"
    assert tip.sightings.count() == 0


def test_add_subject_to_tip_links_tips_naming_the_subject():
    subject = SubjectFactory(full_name="Jane Roe")
    first = _tip(reference="A", subjects=[(subject, SubjectRole.SUSPECT)])
    second = _tip(reference="B")

    link = add_subject_to_tip(tip=second, subject=subject)

    assert (link.tip_id, link.subject_id, link.role) == (second.pk, subject.pk, "SUSPECT")
    assert set(TipLink.objects.values_list("from_tip_id", "to_tip_id", "kind")) == {
        (first.pk, second.pk, "SHARED_SUBJECT"),
    }
    with pytest.raises(InvalidInput) as info:
        add_subject_to_tip(tip=second, subject=subject, role="BYSTANDER")
    assert info.value.field == "role"


# ----------------------------------------------------------------------------------------------
# update_tip


def test_update_tip_changes_only_given_fields():
    # given a tip
    tip = _tip(narrative="old", priority=3)
    new_received = RECEIVED - dt.timedelta(days=2)
    # when some fields are updated
    update_tip(
        tip=tip,
        narrative="new narrative",
        category=TipCategory.PRODUCTION,
        priority=1,
        handling_caveat=HandlingCaveat.LAW_ENFORCEMENT_SENSITIVE,
        received_at=new_received,
    )
    # then they are stored
    tip.refresh_from_db()
    assert (tip.narrative, tip.category, tip.priority, tip.handling_caveat, tip.received_at) == (
        "new narrative",
        "PRODUCTION",
        1,
        "LAW_ENFORCEMENT_SENSITIVE",
        new_received,
    )
    # when nothing is given, then nothing changes (and status is never touched)
    update_tip(tip=tip)
    tip.refresh_from_db()
    assert (tip.narrative, tip.priority, tip.status) == ("new narrative", 1, "RECEIVED")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": 0}, "priority"),
        ({"priority": 9}, "priority"),
        ({"category": "NOPE"}, "category"),
        ({"handling_caveat": "NOPE"}, "handlingCaveat"),
    ],
)
def test_update_tip_validation_leaves_tip_unchanged(kwargs, field):
    tip = _tip(narrative="keep", priority=4)
    with pytest.raises(InvalidInput) as info:
        update_tip(tip=Tip.objects.get(pk=tip.pk), narrative="changed", **kwargs)
    assert info.value.field == field
    tip.refresh_from_db()
    assert (tip.narrative, tip.priority, tip.category, tip.handling_caveat) == (
        "keep",
        4,
        "DISTRIBUTION",
        "NONE",
    )


# ----------------------------------------------------------------------------------------------
# change_tip_status


@pytest.mark.parametrize("decision", ["ACTIONABLE", "NOT_ACTIONABLE"])
def test_review_decision_records_reviewer_reason_and_time(decision: str):
    # given a tip under review
    reviewer = UserFactory()
    tip = _set_status(_tip(), TipStatus.UNDER_REVIEW)
    before = timezone.now()

    # when a reviewer decides
    result = change_tip_status(tip=tip, by=reviewer, status=decision, reason="  Clear upload logs ")
    after = timezone.now()

    # then the decision, reason, reviewer and time are recorded
    result.refresh_from_db()
    assert result.status == decision
    assert result.is_actionable is (decision == "ACTIONABLE")
    assert result.actionable_reason == "Clear upload logs"
    assert result.reviewed_by == reviewer
    assert before <= result.reviewed_at <= after


@pytest.mark.parametrize("decision", ["ACTIONABLE", "NOT_ACTIONABLE"])
@pytest.mark.parametrize("reason", ["", "   "])
def test_review_decision_requires_a_reason(decision: str, reason: str):
    tip = _set_status(_tip(), TipStatus.UNDER_REVIEW)
    with pytest.raises(InvalidInput) as info:
        change_tip_status(tip=tip, by=UserFactory(), status=decision, reason=reason)
    assert info.value.field == "reason"
    tip.refresh_from_db()
    assert (tip.status, tip.is_actionable, tip.reviewed_by, tip.reviewed_at) == (
        "UNDER_REVIEW",
        None,
        None,
        None,
    )


def test_non_review_moves_do_not_record_a_review():
    # given a received tip
    tip = _tip()
    # when it moves into review, no reason is needed and no review is recorded
    tip = change_tip_status(tip=tip, by=UserFactory(), status=TipStatus.UNDER_REVIEW)
    tip.refresh_from_db()
    assert tip.status == "UNDER_REVIEW"
    assert (tip.is_actionable, tip.reviewed_by, tip.reviewed_at, tip.actionable_reason) == (
        None,
        None,
        None,
        "",
    )


def test_return_from_referred_to_actionable_keeps_original_review():
    # given a tip reviewed actionable by one analyst, then referred
    first_reviewer, second = UserFactory(), UserFactory()
    tip = _set_status(_tip(), TipStatus.UNDER_REVIEW)
    tip = change_tip_status(tip=tip, by=first_reviewer, status="ACTIONABLE", reason="first")
    reviewed_at = tip.reviewed_at
    tip = _set_status(tip, TipStatus.REFERRED)
    # when someone moves it back to ACTIONABLE (a reason is still needed)
    with pytest.raises(InvalidInput):
        change_tip_status(tip=tip, by=second, status="ACTIONABLE")
    tip = change_tip_status(tip=tip, by=second, status="ACTIONABLE", reason="lead cancelled")
    # then the status changes but the original review decision stands
    tip.refresh_from_db()
    assert tip.status == "ACTIONABLE"
    assert (tip.reviewed_by, tip.reviewed_at, tip.actionable_reason) == (
        first_reviewer,
        reviewed_at,
        "first",
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("RECEIVED", "ACTIONABLE"),
        ("RECEIVED", "REFERRED"),
        ("UNDER_REVIEW", "REFERRED"),
        ("NOT_ACTIONABLE", "ACTIONABLE"),
        ("CLOSED", "RECEIVED"),
        ("REFERRED", "UNDER_REVIEW"),
    ],
)
def test_illegal_tip_moves_refused(current: str, target: str):
    # given a tip in ``current``
    tip = _set_status(_tip(), current)
    # when moved illegally (with a reason, so only the machine can refuse)
    with pytest.raises(InvalidTransition) as info:
        change_tip_status(tip=tip, by=UserFactory(), status=target, reason="because")
    # then it is refused naming both states and the tip is unchanged
    assert f"cannot move from {current} to {target}" in info.value.message
    tip.refresh_from_db()
    assert tip.status == current
    assert tip.reviewed_by is None


def test_unknown_status_refused():
    tip = _tip()
    with pytest.raises(InvalidTransition) as info:
        change_tip_status(tip=tip, by=None, status="ARCHIVED")
    assert info.value.message == "Tip status 'ARCHIVED' does not exist"


def test_status_check_uses_the_stored_status_not_a_stale_object():
    # given a stale in-memory tip that still says RECEIVED while the row is UNDER_REVIEW
    tip = _tip()
    Tip.objects.filter(pk=tip.pk).update(status=TipStatus.UNDER_REVIEW)
    assert tip.status == "RECEIVED"
    # when a review decision is made with the stale object
    result = change_tip_status(tip=tip, by=UserFactory(), status="ACTIONABLE", reason="ok")
    # then it is judged against the stored status and succeeds
    assert result.status == "ACTIONABLE"
    assert Tip.objects.get(pk=tip.pk).status == "ACTIONABLE"


def test_full_tip_walk():
    # given a new tip, when walked through a full life, every step is accepted
    reviewer = UserFactory()
    tip = _tip()
    for status, reason in [
        ("UNDER_REVIEW", ""),
        ("NOT_ACTIONABLE", "no identifiers"),
        ("UNDER_REVIEW", ""),
        ("ACTIONABLE", "new evidence"),
        ("REFERRED", ""),
        ("CLOSED", ""),
        ("UNDER_REVIEW", ""),
    ]:
        tip = change_tip_status(tip=tip, by=reviewer, status=status, reason=reason)
        assert Tip.objects.get(pk=tip.pk).status == status
    tip.refresh_from_db()
    assert (tip.is_actionable, tip.actionable_reason) == (True, "new evidence")


def test_update_tip_with_a_stale_object_does_not_revert_the_status():
    # given a tip object read before its status was changed elsewhere
    stale = _tip()
    change_tip_status(tip=stale, by=UserFactory(), status=TipStatus.UNDER_REVIEW)
    assert stale.status == "RECEIVED"
    # when its descriptive fields are edited through that stale object
    update_tip(tip=stale, priority=1)
    # then the edit is stored and the status is not silently moved back past the machine
    stored = Tip.objects.get(pk=stale.pk)
    assert (stored.priority, stored.status) == (1, "UNDER_REVIEW")
