"""The addNote mutation through /graphql: general and targeting notes on every notable record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType

from backend import models as m
from backend.models import Role
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    OfficeFactory,
    ResearchResultFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
)
from tests.schema.mutation_helpers import (
    ERRORS,
    NON_WRITER_ROLES,
    assert_forbidden,
    assert_unauthenticated,
    bad_id,
    gid,
    single_error,
)

pytestmark = pytest.mark.django_db

NOTE_FIELDS = """
id kind body createdAt carrier flightNumber travelDate port authorName recordId screeningOutcome
"""

ADD_NOTE = f"""
mutation AddNote($input: AddNoteInput!) {{
  addNote(input: $input) {{ note {{ {NOTE_FIELDS} }} {ERRORS} }}
}}"""

TIP_NOTES = """
query TipNotes($id: ID!) {
  node(id: $id) { ... on Tip { notes { edges { node { id body kind } } } } }
}"""

NOTABLE: dict[str, Callable[[], Any]] = {
    "Tip": TipFactory,
    "Subject": SubjectFactory,
    "Identifier": IdentifierFactory,
    "Lead": LeadFactory,
    "ResearchResult": ResearchResultFactory,
}

#: addNote is for analysts today; investigators are left out here because the domain grants
#: them notes on the records they found, which the later permissions work will add.
NON_NOTE_ROLES = [role for role in NON_WRITER_ROLES if role != Role.INVESTIGATOR]


def note_rows() -> list[tuple[Any, ...]]:
    return list(
        m.Note.objects.order_by("pk").values_list(
            "content_type__model",
            "object_id",
            "author__username",
            "kind",
            "body",
            "carrier",
            "flight_number",
            "travel_date",
            "port",
            "screening_outcome",
        )
    )


def test_add_general_note_to_a_tip(gql, analyst):
    # given a tip
    tip = TipFactory()
    # when an analyst notes something on it
    result = gql(
        ADD_NOTE, {"input": {"recordId": gid("Tip", tip.pk), "body": "  Called the ESP.  "}}
    )
    # then the note comes back as a GENERAL note by the analyst on that tip
    assert "errors" not in result, result
    payload = result["data"]["addNote"]
    assert payload["errors"] == []
    note = payload["note"]
    row = m.Note.objects.get()
    assert note["id"] == gid("Note", row.pk)
    assert note["createdAt"] is not None
    assert {k: v for k, v in note.items() if k not in ("id", "createdAt")} == {
        "kind": "GENERAL",
        "body": "Called the ESP.",
        "carrier": "",
        "flightNumber": "",
        "travelDate": None,
        "port": "",
        "authorName": analyst.username,
        "recordId": gid("Tip", tip.pk),
        "screeningOutcome": None,
    }
    # and it is stored on the tip and listed with it
    assert note_rows() == [
        ("tip", tip.pk, analyst.username, "GENERAL", "Called the ESP.", "", "", None, "", "")
    ]
    notes = gql(TIP_NOTES, {"id": gid("Tip", tip.pk)})["data"]["node"]["notes"]["edges"]
    assert [n["node"] for n in notes] == [
        {"id": note["id"], "body": "Called the ESP.", "kind": "GENERAL"}
    ]


def test_add_targeting_note_with_travel_data(gql, analyst):
    # given a traveller's passport number on record
    passport = IdentifierFactory(kind="PASSPORT", qualifier="GB", raw_value="123456789")
    # when a border officer's screening is noted with the flight
    result = gql(
        ADD_NOTE,
        {
            "input": {
                "recordId": gid("Identifier", passport.pk),
                "body": "Traveller referred to secondary inspection.",
                "kind": "TARGETING",
                "travel": {
                    "screeningOutcome": "REFERRED_TO_SECONDARY",
                    "carrier": " Example Air ",
                    "flightNumber": "xy 123",
                    "travelDate": "2024-06-01",
                    "port": " LHR ",
                },
            }
        },
    )
    # then the note carries the travel data, the flight number in canonical form
    payload = result["data"]["addNote"]
    assert payload["errors"] == []
    note = payload["note"]
    assert (note["kind"], note["screeningOutcome"], note["recordId"]) == (
        "TARGETING",
        "REFERRED_TO_SECONDARY",
        gid("Identifier", passport.pk),
    )
    assert (note["carrier"], note["flightNumber"], note["travelDate"], note["port"]) == (
        "Example Air",
        "XY123",
        "2024-06-01",
        "LHR",
    )
    assert note_rows() == [
        (
            "identifier",
            passport.pk,
            analyst.username,
            "TARGETING",
            "Traveller referred to secondary inspection.",
            "Example Air",
            "XY123",
            dt.date(2024, 6, 1),
            "LHR",
            "REFERRED_TO_SECONDARY",
        )
    ]


@pytest.mark.parametrize("type_name", list(NOTABLE))
def test_add_note_to_every_notable_record(gql, type_name):
    # given a record of a type that takes notes
    record = NOTABLE[type_name]()
    record_id = gid(type_name, record.pk)
    # when a note is added to it
    result = gql(ADD_NOTE, {"input": {"recordId": record_id, "body": "Seen."}})
    # then the note points back at that record
    payload = result["data"]["addNote"]
    assert payload["errors"] == []
    assert payload["note"]["recordId"] == record_id
    row = m.Note.objects.get()
    assert (row.content_type, row.object_id) == (
        ContentType.objects.get_for_model(type(record)),
        record.pk,
    )


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            {"kind": "TARGETING"},
            "travel",
            "a targeting note needs travel data with a screening outcome",
        ),
        (
            {"kind": "GENERAL", "travel": {"screeningOutcome": "NONE"}},
            "travel",
            "travel data belongs on TARGETING notes only",
        ),
        ({"body": "   "}, "body", "a note needs a body"),
        ({"body": "x" * 20_001}, "body", "a note may be at most 20000 characters"),
    ],
    ids=["targeting-without-travel", "general-with-travel", "blank-body", "too-long"],
)
def test_add_note_refuses_invalid_input(gql, extra, field, message):
    # given a tip
    tip = TipFactory()
    # when a note with one invalid part is added
    result = gql(ADD_NOTE, {"input": {"recordId": gid("Tip", tip.pk), "body": "Remark.", **extra}})
    # then that part is named and no note was written
    error = single_error(result, "addNote", "note")
    assert error == {"code": "INVALID_INPUT", "message": message, "field": field}
    assert note_rows() == []


@pytest.mark.parametrize(
    ("type_name", "factory"), [("Source", SourceFactory), ("Office", OfficeFactory)]
)
def test_add_note_to_an_unsupported_record_is_not_found(gql, type_name, factory):
    # given a record of a type that takes no notes
    record = factory()
    # when a note is added to it
    result = gql(ADD_NOTE, {"input": {"recordId": gid(type_name, record.pk), "body": "Remark."}})
    # then the record is not found, naming the types that take notes
    error = single_error(result, "addNote", "note")
    assert error == {
        "code": "NOT_FOUND",
        "message": f"notes go on Tip, Subject, Identifier, Lead, ResearchResult; got a {type_name}",
        "field": "recordId",
    }
    assert note_rows() == []


@pytest.mark.parametrize("how", ["unknown", "malformed"])
@pytest.mark.parametrize("type_name", list(NOTABLE))
def test_add_note_to_a_bad_record_id_is_not_found(gql, type_name, how):
    # given an id of a notable type that names no record
    record_id, message = bad_id(how, type_name)
    # when a note is added to it
    result = gql(ADD_NOTE, {"input": {"recordId": record_id, "body": "Remark."}})
    # then it is not found and no note was written
    error = single_error(result, "addNote", "note")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "recordId"
    assert message in error["message"]
    assert note_rows() == []


@pytest.mark.parametrize(
    ("extra", "bad_value"),
    [
        ({"kind": "WARNING"}, "WARNING"),
        ({"kind": "TARGETING", "travel": {"screeningOutcome": "DETAINED"}}, "DETAINED"),
    ],
    ids=["note-kind", "screening-outcome"],
)
def test_add_note_with_an_unknown_enum_value_is_a_validation_error(gql, extra, bad_value):
    # given a tip
    tip = TipFactory()
    # when the note kind or screening outcome is not one of the enum's values
    result = gql(ADD_NOTE, {"input": {"recordId": gid("Tip", tip.pk), "body": "x", **extra}})
    # then GraphQL refuses it, naming the value
    assert result.get("data") is None
    assert len(result["errors"]) == 1
    assert bad_value in result["errors"][0]["message"]
    assert note_rows() == []


# --- who may call ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", NON_NOTE_ROLES)
def test_other_roles_may_not_add_notes(gql_as, role):
    # given a tip and a caller whose role does not write records
    tip = TipFactory()
    # when it adds a note
    result = gql_as(role)(ADD_NOTE, {"input": {"recordId": gid("Tip", tip.pk), "body": "x"}})
    # then it is forbidden and no note is written
    assert_forbidden(result, "addNote")
    assert note_rows() == []


def test_anonymous_callers_may_not_add_notes(anonymous_gql):
    # given a tip and no session
    tip = TipFactory()
    # when a note is added
    result = anonymous_gql(ADD_NOTE, {"input": {"recordId": gid("Tip", tip.pk), "body": "x"}})
    # then authentication is required and no note is written
    assert_unauthenticated(result)
    assert note_rows() == []
