"""backend.services.notes and the database trigger that keeps notes append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.utils import DatabaseError, ProgrammingError

from backend.errors import InvalidInput
from backend.models import Note, NoteKind, Tip
from backend.services.notes import TravelSpec, add_note
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    NoteFactory,
    OfficeFactory,
    ResearchResultFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TRAVEL_DATE = dt.date(2024, 7, 14)


# ----------------------------------------------------------------------------------------------
# add_note


@pytest.mark.parametrize(
    "factory",
    [TipFactory, SubjectFactory, IdentifierFactory, LeadFactory, ResearchResultFactory],
    ids=lambda f: f._meta.model.__name__,
)
def test_general_note_on_every_notable_record(factory):
    # given a record of each supported type and an author
    record, author = factory(), UserFactory()
    # when a note is added
    note = add_note(by=author, record=record, body="  Checked against the registry.  ")
    # then it is stored against that record, trimmed, as a GENERAL note without travel data
    note.refresh_from_db()
    assert note.content_type == ContentType.objects.get_for_model(type(record))
    assert note.object_id == record.pk
    assert note.record == record
    assert note.author == author
    assert note.body == "Checked against the registry."
    assert note.kind == "GENERAL"
    assert (note.carrier, note.flight_number, note.travel_date, note.port) == ("", "", None, "")
    assert note.screening_outcome == ""
    assert list(record.notes.all()) == [note]


@pytest.mark.parametrize("outcome", ["NONE", "ADDITIONAL_SCREENING", "REFERRED_TO_SECONDARY"])
def test_targeting_note_stores_travel_data(outcome: str):
    # given an investigator who found a subject at the border
    subject, officer = SubjectFactory(), UserFactory(role="INVESTIGATOR")
    # when a targeting note with travel data is added
    note = add_note(
        by=officer,
        record=subject,
        body="Traveller matched on passport.",
        kind=NoteKind.TARGETING,
        travel=TravelSpec(
            screening_outcome=outcome,
            carrier="  Example Air ",
            flight_number=" ex 123 ",
            travel_date=TRAVEL_DATE,
            port=" JFK ",
        ),
    )
    # then the travel data is stored tidied
    note.refresh_from_db()
    assert note.kind == "TARGETING"
    assert (note.screening_outcome, note.carrier, note.flight_number) == (
        outcome,
        "Example Air",
        "EX123",
    )
    assert (note.travel_date, note.port) == (TRAVEL_DATE, "JFK")


@pytest.mark.parametrize("body", ["", "   ", "\n\t "])
def test_empty_body_refused(body: str):
    with pytest.raises(InvalidInput) as info:
        add_note(by=UserFactory(), record=TipFactory(), body=body)
    assert info.value.field == "body"
    assert info.value.message == "a note needs a body"
    assert Note.objects.count() == 0


def test_too_long_body_refused_and_limit_accepted():
    tip, author = TipFactory(), UserFactory()
    with pytest.raises(InvalidInput) as info:
        add_note(by=author, record=tip, body="x" * 20_001)
    assert info.value.field == "body"
    assert Note.objects.count() == 0
    assert len(add_note(by=author, record=tip, body="x" * 20_000).body) == 20_000


@pytest.mark.parametrize("kind", ["", "general", "SECRET"])
def test_unknown_kind_refused(kind: str):
    with pytest.raises(InvalidInput) as info:
        add_note(by=UserFactory(), record=TipFactory(), body="hello", kind=kind)
    assert info.value.field == "kind"
    assert info.value.message == f"kind {kind!r} is not one of GENERAL, TARGETING"
    assert Note.objects.count() == 0


def test_targeting_note_needs_travel():
    with pytest.raises(InvalidInput) as info:
        add_note(by=UserFactory(), record=SubjectFactory(), body="seen", kind="TARGETING")
    assert info.value.field == "travel"
    assert Note.objects.count() == 0


@pytest.mark.parametrize("outcome", ["", "none", "ARRESTED"])
def test_targeting_note_needs_a_valid_screening_outcome(outcome: str):
    with pytest.raises(InvalidInput) as info:
        add_note(
            by=UserFactory(),
            record=SubjectFactory(),
            body="seen",
            kind="TARGETING",
            travel=TravelSpec(screening_outcome=outcome),
        )
    assert info.value.field == "travel.screeningOutcome"
    assert info.value.message.startswith(f"screeningOutcome {outcome!r} is not one of ")
    assert Note.objects.count() == 0


def test_travel_only_on_targeting_notes():
    with pytest.raises(InvalidInput) as info:
        add_note(
            by=UserFactory(),
            record=TipFactory(),
            body="general remark",
            kind=NoteKind.GENERAL,
            travel=TravelSpec(screening_outcome="NONE"),
        )
    assert info.value.field == "travel"
    assert info.value.message == "travel data belongs on TARGETING notes only"
    assert Note.objects.count() == 0


@pytest.mark.parametrize(
    "factory",
    [SourceFactory, OfficeFactory, UserFactory, NoteFactory],
    ids=lambda f: f._meta.model.__name__,
)
def test_unsupported_record_type_refused(factory):
    record = factory()
    notes_before = Note.objects.count()
    with pytest.raises(InvalidInput) as info:
        add_note(by=UserFactory(), record=record, body="hello")
    assert info.value.field == "recordId"
    assert info.value.message == f"notes cannot be added to a {type(record).__name__}"
    assert Note.objects.count() == notes_before


# ----------------------------------------------------------------------------------------------
# the append-only trigger


def _refused(op: str):
    """Expect the trigger's refusal for ``op``; callers nest a savepoint (``atomic``) inside."""
    return pytest.raises(ProgrammingError, match=f"notes are append-only: {op} refused")


@pytest.fixture
def note() -> Note:
    return add_note(by=UserFactory(), record=TipFactory(), body="original body")


def _assert_intact(note: Note) -> None:
    # the connection is still usable and the row is unchanged
    stored = Note.objects.get(pk=note.pk)
    assert (stored.body, stored.kind, stored.author_id) == (
        "original body",
        "GENERAL",
        note.author_id,
    )
    assert Note.objects.count() == 1


def test_orm_save_of_a_note_is_refused(note: Note):
    # when a note is edited and saved through the ORM
    note.body = "rewritten"
    with _refused("UPDATE") as info, transaction.atomic():
        note.save()
    # then the database refuses it with insufficient_privilege
    assert isinstance(info.value, DatabaseError)
    assert info.value.__cause__.sqlstate == "42501"
    _assert_intact(note)


def test_orm_queryset_update_of_notes_is_refused(note: Note):
    with _refused("UPDATE"), transaction.atomic():
        Note.objects.filter(pk=note.pk).update(body="rewritten")
    _assert_intact(note)


def test_orm_delete_of_a_note_is_refused(note: Note):
    with _refused("DELETE"), transaction.atomic():
        note.delete()
    _assert_intact(note)


def test_orm_queryset_delete_of_notes_is_refused(note: Note):
    with _refused("DELETE"), transaction.atomic():
        Note.objects.all().delete()
    _assert_intact(note)


def test_raw_sql_update_of_a_note_is_refused(note: Note):
    with _refused("UPDATE"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE backend_note SET body = %s WHERE id = %s", ["rewritten", note.pk])
    _assert_intact(note)


def test_raw_sql_delete_of_a_note_is_refused(note: Note):
    with _refused("DELETE"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM backend_note WHERE id = %s", [note.pk])
    _assert_intact(note)


def test_deleting_a_noted_record_through_the_orm_is_refused(note: Note):
    # given a tip with a note: deleting the tip would cascade to the note (GenericRelation)
    tip = note.record
    with _refused("DELETE"), transaction.atomic():
        tip.delete()
    # then the tip is still there, as is its note
    assert Tip.objects.filter(pk=tip.pk).exists()
    _assert_intact(note)


def test_appending_more_notes_is_allowed(note: Note):
    # given a note that cannot change, when another is appended to the same record
    second = add_note(by=UserFactory(), record=note.record, body="correction: see above")
    # then both exist, oldest first
    assert list(note.record.notes.values_list("body", flat=True)) == [
        "original body",
        "correction: see above",
    ]
    assert second.pk != note.pk
