"""Tip mutations through /graphql: createTip, updateTip, changeTipStatus, addIdentifierToTip,
addSubjectToTip. Happy paths, typed errors (with nothing written), ids, enums and roles."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backend import models as m
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
)
from tests.schema.mutation_helpers import (
    ERRORS,
    NON_WRITER_ROLES,
    assert_analyst_calls_succeed,
    assert_forbidden,
    assert_unauthenticated,
    bad_id,
    gid,
    refused_without_writes,
    single_error,
)

pytestmark = pytest.mark.django_db

TIP_FIELDS = """
id sourceReference receivedAt category narrative status priority handlingCaveat
isActionable actionableReason reviewedAt allowedTransitions
source { id }
identifiers { edges { node { event capturedAt rawValue identifier { kind qualifier value } } } }
subjects { edges { node { role subject { id } } } }
links { edges { node { kind tip { id } } } }
"""

CREATE_TIP = f"""
mutation CreateTip($input: CreateTipInput!) {{
  createTip(input: $input) {{ tip {{ {TIP_FIELDS} }} {ERRORS} }}
}}"""

UPDATE_TIP = f"""
mutation UpdateTip($input: UpdateTipInput!) {{
  updateTip(input: $input) {{ tip {{ {TIP_FIELDS} }} {ERRORS} }}
}}"""

CHANGE_TIP_STATUS = f"""
mutation ChangeTipStatus($id: ID!, $status: TipStatus!, $reason: String! = "") {{
  changeTipStatus(id: $id, status: $status, reason: $reason) {{ tip {{ {TIP_FIELDS} }} {ERRORS} }}
}}"""

ADD_IDENTIFIER_TO_TIP = f"""
mutation AddIdentifierToTip($tipId: ID!, $sighting: SightingInput!) {{
  addIdentifierToTip(tipId: $tipId, sighting: $sighting) {{ tip {{ {TIP_FIELDS} }} {ERRORS} }}
}}"""

ADD_SUBJECT_TO_TIP = f"""
mutation AddSubjectToTip($tipId: ID!, $subject: TipSubjectInput!) {{
  addSubjectToTip(tipId: $tipId, subject: $subject) {{ tip {{ {TIP_FIELDS} }} {ERRORS} }}
}}"""

RECEIVED_AT = "2024-05-01T10:00:00+00:00"


def row_counts() -> dict[str, int]:
    """How many rows every table a tip mutation may write holds."""
    models = (m.Tip, m.Identifier, m.TipIdentifier, m.TipSubject, m.TipLink, m.Subject)
    return {model.__name__: model.objects.count() for model in models}


def tip_input(source: m.Source, **overrides: Any) -> dict[str, Any]:
    return {
        "sourceId": gid("Source", source.pk),
        "sourceReference": "NCMEC-2024-0001",
        "receivedAt": RECEIVED_AT,
        "category": "DISTRIBUTION",
        **overrides,
    }


# --- createTip ---------------------------------------------------------------------------------


def test_create_tip_records_the_tip_with_its_identifiers_subjects_and_links(gql, analyst):
    # given a source, a subject, and an earlier tip that saw the same e-mail address
    source = SourceFactory(name="NCMEC")
    subject = SubjectFactory()
    earlier = SightingFactory(identifier=IdentifierFactory(raw_value="person@example.com")).tip
    before = row_counts()
    # when an analyst records a tip naming that address (differently cased) and a new phone
    result = gql(
        CREATE_TIP,
        {
            "input": tip_input(
                source,
                sourceReference="  NCMEC-2024-0001 ",
                category="ENTICEMENT",
                narrative="Chat logs attached.",
                priority=1,
                handlingCaveat="LAW_ENFORCEMENT_SENSITIVE",
                identifiers=[
                    {
                        "identifier": {"kind": "EMAIL", "value": "Person@Example.COM"},
                        "event": "LOGIN",
                        "capturedAt": "2024-04-30T08:00:00+00:00",
                    },
                    {"identifier": {"kind": "PHONE", "value": "+1 (202) 555-0142"}},
                ],
                subjects=[{"subjectId": gid("Subject", subject.pk), "role": "VICTIM"}],
            )
        },
    )
    # then the payload carries the new tip and no errors
    assert "errors" not in result, result
    payload = result["data"]["createTip"]
    assert payload["errors"] == []
    tip = payload["tip"]
    row = m.Tip.objects.get(source=source, source_reference="NCMEC-2024-0001")
    assert tip["id"] == gid("Tip", row.pk)
    assert tip["sourceReference"] == "NCMEC-2024-0001"
    assert tip["receivedAt"] == RECEIVED_AT
    assert tip["category"] == "ENTICEMENT"
    assert tip["narrative"] == "Chat logs attached."
    assert tip["status"] == "RECEIVED"
    assert tip["priority"] == 1
    assert tip["handlingCaveat"] == "LAW_ENFORCEMENT_SENSITIVE"
    assert tip["isActionable"] is None
    assert tip["source"] == {"id": gid("Source", source.pk)}
    assert [e["node"] for e in tip["identifiers"]["edges"]] == [
        {
            "event": "LOGIN",
            "capturedAt": "2024-04-30T08:00:00+00:00",
            "rawValue": "Person@Example.COM",
            "identifier": {"kind": "EMAIL", "qualifier": "", "value": "person@example.com"},
        },
        {
            "event": "REPORTED",
            "capturedAt": None,
            "rawValue": "+1 (202) 555-0142",
            "identifier": {"kind": "PHONE", "qualifier": "", "value": "+12025550142"},
        },
    ]
    assert [e["node"] for e in tip["subjects"]["edges"]] == [
        {"role": "VICTIM", "subject": {"id": gid("Subject", subject.pk)}}
    ]
    assert [e["node"] for e in tip["links"]["edges"]] == [
        {"kind": "SHARED_IDENTIFIER", "tip": {"id": gid("Tip", earlier.pk)}}
    ]
    # and the database holds the tip, one new identifier (the e-mail was reused) and the link
    # (one row for the pair, lower tip first)
    assert row.created_by == analyst
    assert row.received_at == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    after = row_counts()
    assert after["Tip"] == before["Tip"] + 1
    assert after["Identifier"] == before["Identifier"] + 1
    assert after["TipIdentifier"] == before["TipIdentifier"] + 2
    assert after["TipSubject"] == before["TipSubject"] + 1
    assert after["TipLink"] == before["TipLink"] + 1
    assert set(m.TipLink.objects.values_list("from_tip_id", "to_tip_id", "kind")) == {
        (earlier.pk, row.pk, "SHARED_IDENTIFIER"),
    }
    assert m.Identifier.objects.get(kind="PHONE").value == "+12025550142"


def test_create_tip_applies_defaults(gql):
    # given a source
    source = SourceFactory()
    # when a tip is recorded with only the required fields
    result = gql(CREATE_TIP, {"input": tip_input(source)})
    # then priority, caveat, narrative and status take their defaults
    assert "errors" not in result, result
    tip = result["data"]["createTip"]["tip"]
    assert result["data"]["createTip"]["errors"] == []
    assert (tip["priority"], tip["handlingCaveat"], tip["narrative"], tip["status"]) == (
        3,
        "NONE",
        "",
        "RECEIVED",
    )
    assert tip["allowedTransitions"] == ["CLOSED", "UNDER_REVIEW"]
    row = m.Tip.objects.get()
    assert (row.priority, row.handling_caveat, row.status) == (3, "NONE", "RECEIVED")


def test_create_tip_with_one_malformed_identifier_writes_nothing(gql):
    # given a source and a subject
    source = SourceFactory()
    subject = SubjectFactory()
    before = row_counts()
    # when a tip arrives with one good and one malformed e-mail address
    result = gql(
        CREATE_TIP,
        {
            "input": tip_input(
                source,
                identifiers=[
                    {"identifier": {"kind": "EMAIL", "value": "good@example.com"}},
                    {"identifier": {"kind": "EMAIL", "value": "not-an-email"}},
                ],
                subjects=[{"subjectId": gid("Subject", subject.pk)}],
            )
        },
    )
    # then the malformed value is reported by its position
    error = single_error(result, "createTip", "tip")
    assert error["code"] == "INVALID_IDENTIFIER"
    assert error["field"] == "identifiers[1].value"
    assert "'not-an-email'" in error["message"]
    # and no tip, identifier, sighting or subject link was written
    assert row_counts() == before
    assert not m.Identifier.objects.filter(value="good@example.com").exists()


def test_create_tip_rejects_a_hash_of_the_wrong_length(gql):
    # given a source
    source = SourceFactory()
    before = row_counts()
    # when a tip names an MD5 hash that is too short
    result = gql(
        CREATE_TIP,
        {
            "input": tip_input(
                source,
                identifiers=[
                    {"identifier": {"kind": "FILE_HASH", "value": "abc123", "qualifier": "md5"}}
                ],
            )
        },
    )
    # then the identifier is refused and nothing is written
    error = single_error(result, "createTip", "tip")
    assert error["code"] == "INVALID_IDENTIFIER"
    assert error["field"] == "identifiers[0].value"
    assert "'abc123'" in error["message"]
    assert row_counts() == before


def test_create_tip_refuses_a_resent_reference_of_the_same_source(gql):
    # given a tip the source already sent
    source = SourceFactory(name="NCMEC")
    TipFactory(source=source, source_reference="NCMEC-2024-0001")
    before = row_counts()
    # when the same reference arrives again (with stray whitespace)
    result = gql(CREATE_TIP, {"input": tip_input(source, sourceReference=" NCMEC-2024-0001 ")})
    # then it is a duplicate and no second tip exists
    error = single_error(result, "createTip", "tip")
    assert error == {
        "code": "DUPLICATE",
        "message": "source 'NCMEC' already sent a tip with reference 'NCMEC-2024-0001'",
        "field": "sourceReference",
    }
    assert row_counts() == before


def test_create_tip_accepts_the_same_reference_from_another_source(gql):
    # given a tip with reference R from one source
    TipFactory(source=SourceFactory(), source_reference="R-1")
    other = SourceFactory()
    # when another source sends its own R-1
    result = gql(CREATE_TIP, {"input": tip_input(other, sourceReference="R-1")})
    # then it is recorded
    assert result["data"]["createTip"]["errors"] == []
    assert m.Tip.objects.filter(source_reference="R-1").count() == 2


def test_create_tip_needs_a_source_reference(gql):
    # given a source
    source = SourceFactory()
    before = row_counts()
    # when the reference is blank
    result = gql(CREATE_TIP, {"input": tip_input(source, sourceReference="   ")})
    # then the input is refused
    error = single_error(result, "createTip", "tip")
    assert error == {
        "code": "INVALID_INPUT",
        "message": "sourceReference must not be empty",
        "field": "sourceReference",
    }
    assert row_counts() == before


@pytest.mark.parametrize("priority", [0, 6])
def test_create_tip_refuses_a_priority_out_of_range(gql, priority):
    # given a source
    source = SourceFactory()
    before = row_counts()
    # when the priority is outside 1..5
    result = gql(CREATE_TIP, {"input": tip_input(source, priority=priority)})
    # then the priority is refused, naming the value
    error = single_error(result, "createTip", "tip")
    assert error == {
        "code": "INVALID_INPUT",
        "message": f"priority must be 1 (highest) to 5 (lowest), got {priority}",
        "field": "priority",
    }
    assert row_counts() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_create_tip_with_a_bad_source_id_is_not_found(gql, how):
    # given an id that is not a known Source
    source_id, message = bad_id(how, "Source")
    before = row_counts()
    # when a tip names it as its source
    result = gql(
        CREATE_TIP,
        {
            "input": {
                "sourceId": source_id,
                "sourceReference": "R-1",
                "receivedAt": RECEIVED_AT,
                "category": "OTHER",
            }
        },
    )
    # then the source is not found and nothing is written
    error = single_error(result, "createTip", "tip")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "sourceId"
    assert message in error["message"]
    assert row_counts() == before


def test_create_tip_with_an_unknown_subject_is_not_found(gql):
    # given a source, a real subject and an unknown subject id
    source = SourceFactory()
    known = SubjectFactory()
    unknown = gid("Subject", 999_999)
    before = row_counts()
    # when the tip names both
    result = gql(
        CREATE_TIP,
        {
            "input": tip_input(
                source,
                subjects=[{"subjectId": gid("Subject", known.pk)}, {"subjectId": unknown}],
            )
        },
    )
    # then the unknown one is reported and nothing is written
    error = single_error(result, "createTip", "tip")
    assert error == {
        "code": "NOT_FOUND",
        "message": f"no Subject with id {unknown}",
        "field": "subjects",
    }
    assert row_counts() == before


def test_create_tip_with_a_tip_id_as_subject_is_not_found(gql):
    # given a source and a tip
    source = SourceFactory()
    tip = TipFactory()
    before = row_counts()
    # when a Tip id is given where a Subject id is expected
    result = gql(
        CREATE_TIP, {"input": tip_input(source, subjects=[{"subjectId": gid("Tip", tip.pk)}])}
    )
    # then it is not found
    error = single_error(result, "createTip", "tip")
    assert error == {
        "code": "NOT_FOUND",
        "message": "subjects must hold Subject ids, got a Tip",
        "field": "subjects",
    }
    assert row_counts() == before


def test_create_tip_with_an_unknown_category_is_a_validation_error(gql):
    # given a source
    source = SourceFactory()
    # when the category is not a TipCategory
    result = gql(CREATE_TIP, {"input": tip_input(source, category="GROOMING")})
    # then GraphQL refuses the request before anything runs
    assert result.get("data") is None
    assert len(result["errors"]) == 1
    assert "GROOMING" in result["errors"][0]["message"]
    assert m.Tip.objects.count() == 0


# --- updateTip ---------------------------------------------------------------------------------


def test_update_tip_changes_the_given_fields(gql):
    # given a tip
    tip = TipFactory(narrative="old", category="POSSESSION", priority=3, handling_caveat="NONE")
    # when every editable field is changed
    result = gql(
        UPDATE_TIP,
        {
            "input": {
                "id": gid("Tip", tip.pk),
                "narrative": "new narrative",
                "category": "PRODUCTION",
                "priority": 1,
                "handlingCaveat": "OWNER_ONLY",
                "receivedAt": "2023-12-31T23:00:00+00:00",
            }
        },
    )
    # then the payload and the row show the new values
    assert "errors" not in result, result
    payload = result["data"]["updateTip"]
    assert payload["errors"] == []
    assert payload["tip"]["id"] == gid("Tip", tip.pk)
    assert payload["tip"]["narrative"] == "new narrative"
    assert payload["tip"]["category"] == "PRODUCTION"
    assert payload["tip"]["priority"] == 1
    assert payload["tip"]["handlingCaveat"] == "OWNER_ONLY"
    assert payload["tip"]["receivedAt"] == "2023-12-31T23:00:00+00:00"
    tip.refresh_from_db()
    assert (tip.narrative, tip.category, tip.priority, tip.handling_caveat) == (
        "new narrative",
        "PRODUCTION",
        1,
        "OWNER_ONLY",
    )
    assert tip.received_at == dt.datetime(2023, 12, 31, 23, tzinfo=dt.UTC)


def test_update_tip_leaves_omitted_fields_alone(gql):
    # given a tip
    tip = TipFactory(narrative="old", category="POSSESSION", priority=2)
    received_at = tip.received_at
    # when only the narrative is changed
    result = gql(UPDATE_TIP, {"input": {"id": gid("Tip", tip.pk), "narrative": "new"}})
    # then everything else is as it was
    assert result["data"]["updateTip"]["errors"] == []
    tip.refresh_from_db()
    assert (tip.narrative, tip.category, tip.priority, tip.received_at) == (
        "new",
        "POSSESSION",
        2,
        received_at,
    )


def test_update_tip_refuses_a_bad_priority_and_changes_nothing(gql):
    # given a tip
    tip = TipFactory(narrative="old", priority=2)
    # when the narrative and an out-of-range priority are sent together
    result = gql(
        UPDATE_TIP, {"input": {"id": gid("Tip", tip.pk), "narrative": "new", "priority": 9}}
    )
    # then the priority is refused and neither field changed
    error = single_error(result, "updateTip", "tip")
    assert error == {
        "code": "INVALID_INPUT",
        "message": "priority must be 1 (highest) to 5 (lowest), got 9",
        "field": "priority",
    }
    tip.refresh_from_db()
    assert (tip.narrative, tip.priority) == ("old", 2)


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_update_tip_with_a_bad_id_is_not_found(gql, how):
    # given an id that is not a known Tip
    tip_id, message = bad_id(how, "Tip")
    # when it is updated
    result = gql(UPDATE_TIP, {"input": {"id": tip_id, "narrative": "x"}})
    # then it is not found
    error = single_error(result, "updateTip", "tip")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "id"
    assert message in error["message"]
    assert not m.Tip.objects.filter(narrative="x").exists()


def test_update_tip_with_an_unknown_caveat_is_a_validation_error(gql):
    # given a tip
    tip = TipFactory(handling_caveat="NONE")
    # when the caveat is not a HandlingCaveat
    result = gql(UPDATE_TIP, {"input": {"id": gid("Tip", tip.pk), "handlingCaveat": "SECRET"}})
    # then GraphQL refuses it and the tip is unchanged
    assert result.get("data") is None
    assert "SECRET" in result["errors"][0]["message"]
    tip.refresh_from_db()
    assert tip.handling_caveat == "NONE"


# --- changeTipStatus ---------------------------------------------------------------------------


def test_change_tip_status_starts_a_review(gql):
    # given a received tip
    tip = TipFactory()
    # when it is put under review
    result = gql(CHANGE_TIP_STATUS, {"id": gid("Tip", tip.pk), "status": "UNDER_REVIEW"})
    # then the status moved and no decision is recorded yet
    payload = result["data"]["changeTipStatus"]
    assert payload["errors"] == []
    assert payload["tip"]["status"] == "UNDER_REVIEW"
    assert payload["tip"]["isActionable"] is None
    assert payload["tip"]["allowedTransitions"] == ["ACTIONABLE", "NOT_ACTIONABLE", "RECEIVED"]
    tip.refresh_from_db()
    assert (tip.status, tip.is_actionable, tip.reviewed_at) == ("UNDER_REVIEW", None, None)


@pytest.mark.parametrize(
    ("status", "actionable"), [("ACTIONABLE", True), ("NOT_ACTIONABLE", False)]
)
def test_change_tip_status_records_the_review_decision(gql, analyst, status, actionable):
    # given a tip under review
    tip = TipFactory(status="UNDER_REVIEW")
    # when the analyst decides, with a reason
    result = gql(
        CHANGE_TIP_STATUS,
        {"id": gid("Tip", tip.pk), "status": status, "reason": "  Identifiable suspect.  "},
    )
    # then the decision, its reason, reviewer and time are recorded
    payload = result["data"]["changeTipStatus"]
    assert payload["errors"] == []
    assert payload["tip"]["status"] == status
    assert payload["tip"]["isActionable"] is actionable
    assert payload["tip"]["actionableReason"] == "Identifiable suspect."
    assert payload["tip"]["reviewedAt"] is not None
    tip.refresh_from_db()
    assert tip.status == status
    assert tip.is_actionable is actionable
    assert tip.actionable_reason == "Identifiable suspect."
    assert tip.reviewed_by == analyst
    assert tip.reviewed_at is not None


def test_change_tip_status_needs_a_reason_for_a_decision(gql):
    # given a tip under review
    tip = TipFactory(status="UNDER_REVIEW")
    # when it is found actionable without a reason
    result = gql(
        CHANGE_TIP_STATUS, {"id": gid("Tip", tip.pk), "status": "ACTIONABLE", "reason": "  "}
    )
    # then the decision is refused and nothing changed
    error = single_error(result, "changeTipStatus", "tip")
    assert error == {
        "code": "INVALID_INPUT",
        "message": "a review decision needs a reason",
        "field": "reason",
    }
    tip.refresh_from_db()
    assert (tip.status, tip.is_actionable, tip.reviewed_by) == ("UNDER_REVIEW", None, None)


def test_change_tip_status_refuses_a_transition_the_machine_does_not_allow(gql):
    # given a received tip
    tip = TipFactory()
    # when it is referred straight away
    result = gql(CHANGE_TIP_STATUS, {"id": gid("Tip", tip.pk), "status": "REFERRED"})
    # then the transition is refused, naming both statuses and the allowed ones
    error = single_error(result, "changeTipStatus", "tip")
    assert error == {
        "code": "INVALID_TRANSITION",
        "message": "Tip cannot move from RECEIVED to REFERRED; allowed: CLOSED, UNDER_REVIEW",
        "field": "status",
    }
    tip.refresh_from_db()
    assert tip.status == "RECEIVED"


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_change_tip_status_with_a_bad_id_is_not_found(gql, how):
    # given an id that is not a known Tip
    tip_id, message = bad_id(how, "Tip")
    # when its status is changed
    result = gql(CHANGE_TIP_STATUS, {"id": tip_id, "status": "UNDER_REVIEW"})
    # then it is not found
    error = single_error(result, "changeTipStatus", "tip")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "id"
    assert message in error["message"]
    assert not m.Tip.objects.filter(status="UNDER_REVIEW").exists()


def test_change_tip_status_to_an_unknown_status_is_a_validation_error(gql):
    # given a tip
    tip = TipFactory()
    # when the status is not a TipStatus
    result = gql(CHANGE_TIP_STATUS, {"id": gid("Tip", tip.pk), "status": "ESCALATED"})
    # then GraphQL refuses it
    assert result.get("data") is None
    assert "ESCALATED" in result["errors"][0]["message"]
    tip.refresh_from_db()
    assert tip.status == "RECEIVED"


# --- addIdentifierToTip ------------------------------------------------------------------------


def test_add_identifier_to_tip_records_the_sighting_and_links_tips(gql):
    # given two tips, the other one already seen with a username
    tip = TipFactory()
    other = SightingFactory(
        identifier=IdentifierFactory(kind="USERNAME", qualifier="instagram", raw_value="someuser")
    ).tip
    before = row_counts()
    # when the same username (as written in this tip) is added to the first tip
    result = gql(
        ADD_IDENTIFIER_TO_TIP,
        {
            "tipId": gid("Tip", tip.pk),
            "sighting": {
                "identifier": {"kind": "USERNAME", "value": "@SomeUser", "qualifier": "Instagram"},
                "event": "UPLOAD",
                "capturedAt": "2024-04-01T12:00:00+00:00",
            },
        },
    )
    # then the tip shows the sighting and the link to the other tip
    payload = result["data"]["addIdentifierToTip"]
    assert payload["errors"] == []
    assert [e["node"] for e in payload["tip"]["identifiers"]["edges"]] == [
        {
            "event": "UPLOAD",
            "capturedAt": "2024-04-01T12:00:00+00:00",
            "rawValue": "@SomeUser",
            "identifier": {"kind": "USERNAME", "qualifier": "instagram", "value": "someuser"},
        }
    ]
    assert [e["node"] for e in payload["tip"]["links"]["edges"]] == [
        {"kind": "SHARED_IDENTIFIER", "tip": {"id": gid("Tip", other.pk)}}
    ]
    # and one sighting and one link row were written, but no new identifier
    after = row_counts()
    assert after["Identifier"] == before["Identifier"]
    assert after["TipIdentifier"] == before["TipIdentifier"] + 1
    assert after["TipLink"] == before["TipLink"] + 1
    identifier = m.Identifier.objects.get(kind="USERNAME")
    assert identifier.last_seen == dt.datetime(2024, 4, 1, 12, tzinfo=dt.UTC)


def test_add_identifier_to_tip_twice_records_one_sighting(gql):
    # given a tip
    tip = TipFactory()
    variables = {
        "tipId": gid("Tip", tip.pk),
        "sighting": {"identifier": {"kind": "IP_ADDRESS", "value": "2001:DB8::0001"}},
    }
    # when the same sighting is added twice
    first = gql(ADD_IDENTIFIER_TO_TIP, variables)
    second = gql(ADD_IDENTIFIER_TO_TIP, variables)
    # then both succeed and there is one identifier and one sighting
    assert first["data"]["addIdentifierToTip"]["errors"] == []
    assert second["data"]["addIdentifierToTip"]["errors"] == []
    assert list(m.Identifier.objects.values_list("kind", "value")) == [
        ("IP_ADDRESS", "2001:db8::1")
    ]
    assert m.TipIdentifier.objects.filter(tip=tip).count() == 1


def test_add_identifier_to_tip_refuses_a_malformed_value(gql):
    # given a tip
    tip = TipFactory()
    before = row_counts()
    # when an e-mail address with two '@' is added
    result = gql(
        ADD_IDENTIFIER_TO_TIP,
        {
            "tipId": gid("Tip", tip.pk),
            "sighting": {"identifier": {"kind": "EMAIL", "value": "two@@example.com"}},
        },
    )
    # then it is an invalid identifier and nothing was written
    error = single_error(result, "addIdentifierToTip", "tip")
    assert error["code"] == "INVALID_IDENTIFIER"
    # The service names the field after createTip's list ("identifiers"), not this mutation's
    # "sighting" argument; see the report.
    assert error["field"] == "identifiers.value"
    assert "'two@@example.com'" in error["message"]
    assert row_counts() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_add_identifier_to_a_bad_tip_id_is_not_found(gql, how):
    # given an id that is not a known Tip
    tip_id, message = bad_id(how, "Tip")
    before = row_counts()
    # when an identifier is added to it
    result = gql(
        ADD_IDENTIFIER_TO_TIP,
        {"tipId": tip_id, "sighting": {"identifier": {"kind": "EMAIL", "value": "a@example.com"}}},
    )
    # then it is not found and the identifier was not recorded either
    error = single_error(result, "addIdentifierToTip", "tip")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "tipId"
    assert message in error["message"]
    assert row_counts() == before


# --- addSubjectToTip ---------------------------------------------------------------------------


def test_add_subject_to_tip_names_the_subject_and_links_tips(gql):
    # given a subject already named in another tip
    subject = SubjectFactory(full_name="Jane Roe")
    other = TipSubjectFactory(subject=subject).tip
    tip = TipFactory()
    # when the subject is named in this tip as a witness
    result = gql(
        ADD_SUBJECT_TO_TIP,
        {
            "tipId": gid("Tip", tip.pk),
            "subject": {"subjectId": gid("Subject", subject.pk), "role": "WITNESS"},
        },
    )
    # then the tip shows the subject in that role and the link to the other tip
    payload = result["data"]["addSubjectToTip"]
    assert payload["errors"] == []
    assert [e["node"] for e in payload["tip"]["subjects"]["edges"]] == [
        {"role": "WITNESS", "subject": {"id": gid("Subject", subject.pk)}}
    ]
    assert [e["node"] for e in payload["tip"]["links"]["edges"]] == [
        {"kind": "SHARED_SUBJECT", "tip": {"id": gid("Tip", other.pk)}}
    ]
    assert list(m.TipSubject.objects.filter(tip=tip).values_list("subject_id", "role")) == [
        (subject.pk, "WITNESS")
    ]
    assert m.TipLink.objects.get(from_tip=other, to_tip=tip).reason == (
        "Both tips name subject Jane Roe"
    )


def test_add_subject_to_tip_defaults_to_suspect(gql):
    # given a tip and a subject
    tip = TipFactory()
    subject = SubjectFactory()
    # when the subject is named without a role
    result = gql(
        ADD_SUBJECT_TO_TIP,
        {"tipId": gid("Tip", tip.pk), "subject": {"subjectId": gid("Subject", subject.pk)}},
    )
    # then the role is SUSPECT
    assert result["data"]["addSubjectToTip"]["errors"] == []
    assert m.TipSubject.objects.get(tip=tip).role == "SUSPECT"


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_add_subject_to_a_bad_tip_id_is_not_found(gql, how):
    # given a subject and an id that is not a known Tip
    subject = SubjectFactory()
    tip_id, message = bad_id(how, "Tip")
    before = row_counts()
    # when the subject is named in it
    result = gql(
        ADD_SUBJECT_TO_TIP, {"tipId": tip_id, "subject": {"subjectId": gid("Subject", subject.pk)}}
    )
    # then it is not found
    error = single_error(result, "addSubjectToTip", "tip")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "tipId"
    assert message in error["message"]
    assert row_counts() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_add_a_bad_subject_id_to_a_tip_is_not_found(gql, how):
    # given a tip and an id that is not a known Subject
    tip = TipFactory()
    subject_id, message = bad_id(how, "Subject")
    before = row_counts()
    # when it is named in the tip
    result = gql(
        ADD_SUBJECT_TO_TIP, {"tipId": gid("Tip", tip.pk), "subject": {"subjectId": subject_id}}
    )
    # then it is not found, naming the nested field
    error = single_error(result, "addSubjectToTip", "tip")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "subject.subjectId"
    assert message in error["message"]
    assert row_counts() == before


def test_add_subject_to_tip_with_an_unknown_role_is_a_validation_error(gql):
    # given a tip and a subject
    tip = TipFactory()
    subject = SubjectFactory()
    # when the role is not a SubjectRole
    result = gql(
        ADD_SUBJECT_TO_TIP,
        {
            "tipId": gid("Tip", tip.pk),
            "subject": {"subjectId": gid("Subject", subject.pk), "role": "ACCOMPLICE"},
        },
    )
    # then GraphQL refuses it
    assert result.get("data") is None
    assert "ACCOMPLICE" in result["errors"][0]["message"]
    assert m.TipSubject.objects.count() == 0


# --- who may call ------------------------------------------------------------------------------


def tip_mutation_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every tip mutation with variables that would succeed for an analyst."""
    tip = TipFactory()
    subject = SubjectFactory()
    tip_id = gid("Tip", tip.pk)
    return {
        "createTip": (CREATE_TIP, {"input": tip_input(SourceFactory())}),
        "updateTip": (UPDATE_TIP, {"input": {"id": tip_id, "narrative": "changed"}}),
        "changeTipStatus": (CHANGE_TIP_STATUS, {"id": tip_id, "status": "UNDER_REVIEW"}),
        "addIdentifierToTip": (
            ADD_IDENTIFIER_TO_TIP,
            {"tipId": tip_id, "sighting": {"identifier": {"kind": "EMAIL", "value": "a@b.org"}}},
        ),
        "addSubjectToTip": (
            ADD_SUBJECT_TO_TIP,
            {"tipId": tip_id, "subject": {"subjectId": gid("Subject", subject.pk)}},
        ),
    }


def tip_state() -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    return row_counts(), list(m.Tip.objects.values_list("pk", "narrative", "status"))


MUTATIONS = ["createTip", "updateTip", "changeTipStatus", "addIdentifierToTip", "addSubjectToTip"]


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_other_roles_may_not_call_tip_mutations(gql_as, role, mutation):
    # given a caller whose role does not write records
    # when it calls the mutation: nothing is written
    result = refused_without_writes(gql_as(role), tip_mutation_calls, mutation, tip_state)
    # then it is forbidden
    assert_forbidden(result, mutation)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_anonymous_callers_may_not_call_tip_mutations(anonymous_gql, mutation):
    # given no session
    # when the mutation is called: nothing is written
    result = refused_without_writes(anonymous_gql, tip_mutation_calls, mutation, tip_state)
    # then authentication is required
    assert_unauthenticated(result)


def test_the_analyst_variables_used_above_do_succeed(gql):
    # given the calls the role tests make, when an analyst makes each of them, then every one
    # succeeds, so the refusals above are about the role alone
    assert_analyst_calls_succeed(gql, tip_mutation_calls)
