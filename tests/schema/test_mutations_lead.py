"""Lead mutations through /graphql: createLead, updateLead, changeLeadStatus, and the flow from
two tips to a closed lead."""

from __future__ import annotations

from typing import Any

import pytest

from backend import models as m
from tests.factories import LeadFactory, OfficeFactory, SourceFactory, SubjectFactory, TipFactory
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

LEAD_FIELDS = """
id title summary status referredAt closedAt outcome outcomeNotes allowedTransitions
office { id }
tips { edges { node { id status } } }
subjects { edges { node { id } } }
"""

CREATE_LEAD = f"""
mutation CreateLead($input: CreateLeadInput!) {{
  createLead(input: $input) {{ lead {{ {LEAD_FIELDS} }} {ERRORS} }}
}}"""

UPDATE_LEAD = f"""
mutation UpdateLead($input: UpdateLeadInput!) {{
  updateLead(input: $input) {{ lead {{ {LEAD_FIELDS} }} {ERRORS} }}
}}"""

CHANGE_LEAD_STATUS = f"""
mutation ChangeLeadStatus(
  $id: ID!, $status: LeadStatus!, $outcome: LeadOutcome, $outcomeNotes: String
) {{
  changeLeadStatus(id: $id, status: $status, outcome: $outcome, outcomeNotes: $outcomeNotes) {{
    lead {{ {LEAD_FIELDS} }} {ERRORS}
  }}
}}"""

CREATE_TIP = f"""
mutation CreateTip($input: CreateTipInput!) {{
  createTip(input: $input) {{ tip {{ id status }} {ERRORS} }}
}}"""

CHANGE_TIP_STATUS = f"""
mutation ChangeTipStatus($id: ID!, $status: TipStatus!, $reason: String! = "") {{
  changeTipStatus(id: $id, status: $status, reason: $reason) {{
    tip {{ id status isActionable }} {ERRORS}
  }}
}}"""


def lead_state() -> tuple[list[tuple[Any, ...]], list[tuple[int, int]], list[tuple[int, int]]]:
    """Every lead row with its tips and subjects."""
    leads = list(
        m.Lead.objects.order_by("pk").values_list(
            "pk", "title", "summary", "office_id", "status", "outcome", "outcome_notes"
        )
    )
    tips = list(m.Lead.tips.through.objects.order_by("pk").values_list("lead_id", "tip_id"))
    subjects = list(
        m.Lead.subjects.through.objects.order_by("pk").values_list("lead_id", "subject_id")
    )
    return leads, tips, subjects


def edge_ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def tip_statuses(*tips: m.Tip) -> list[str]:
    return [m.Tip.objects.get(pk=tip.pk).status for tip in tips]


# --- the flow, end to end ----------------------------------------------------------------------


def ok(result: dict[str, Any], mutation: str, key: str) -> dict[str, Any]:
    """The object of a successful mutation payload."""
    assert "errors" not in result, result
    payload = result["data"][mutation]
    assert payload["errors"] == [], payload["errors"]
    return payload[key]


def test_two_tips_become_a_referred_accepted_and_closed_lead(gql):
    # given a source and an office
    source = SourceFactory()
    office = OfficeFactory()
    # when two tips are recorded, reviewed and found actionable
    tip_ids = []
    for reference in ("CT-1", "CT-2"):
        tip = ok(
            gql(
                CREATE_TIP,
                {
                    "input": {
                        "sourceId": gid("Source", source.pk),
                        "sourceReference": reference,
                        "receivedAt": "2024-05-01T10:00:00+00:00",
                        "category": "CHILD_SEX_TOURISM",
                    }
                },
            ),
            "createTip",
            "tip",
        )
        assert tip["status"] == "RECEIVED"
        review = ok(
            gql(CHANGE_TIP_STATUS, {"id": tip["id"], "status": "UNDER_REVIEW"}),
            "changeTipStatus",
            "tip",
        )
        assert review["status"] == "UNDER_REVIEW"
        decided = ok(
            gql(
                CHANGE_TIP_STATUS,
                {"id": tip["id"], "status": "ACTIONABLE", "reason": "Travel booked."},
            ),
            "changeTipStatus",
            "tip",
        )
        assert (decided["status"], decided["isActionable"]) == ("ACTIONABLE", True)
        tip_ids.append(tip["id"])
    # and a draft lead is built from them for the office
    lead = ok(
        gql(
            CREATE_LEAD,
            {
                "input": {
                    "title": "Travelling offender",
                    "officeId": gid("Office", office.pk),
                    "tipIds": tip_ids,
                }
            },
        ),
        "createLead",
        "lead",
    )
    assert (lead["status"], lead["referredAt"], lead["office"]) == (
        "DRAFT",
        None,
        {"id": gid("Office", office.pk)},
    )
    assert lead["allowedTransitions"] == ["CANCELLED", "REFERRED"]
    # and the lead is referred
    referred = ok(
        gql(CHANGE_LEAD_STATUS, {"id": lead["id"], "status": "REFERRED"}),
        "changeLeadStatus",
        "lead",
    )
    # then the lead is referred with a time, and both tips are referred with it
    assert referred["status"] == "REFERRED"
    assert referred["referredAt"] is not None
    assert sorted(e["node"]["id"] for e in referred["tips"]["edges"]) == sorted(tip_ids)
    assert {e["node"]["status"] for e in referred["tips"]["edges"]} == {"REFERRED"}
    assert sorted(m.Tip.objects.values_list("source_reference", "status")) == [
        ("CT-1", "REFERRED"),
        ("CT-2", "REFERRED"),
    ]
    # when the office accepts it
    accepted = ok(
        gql(CHANGE_LEAD_STATUS, {"id": lead["id"], "status": "ACCEPTED"}),
        "changeLeadStatus",
        "lead",
    )
    assert accepted["status"] == "ACCEPTED"
    assert accepted["allowedTransitions"] == ["CLOSED"]
    # and it is closed without an outcome
    refused = gql(CHANGE_LEAD_STATUS, {"id": lead["id"], "status": "CLOSED"})
    # then closing is refused until an outcome is given
    assert single_error(refused, "changeLeadStatus", "lead") == {
        "code": "INVALID_INPUT",
        "message": "closing a lead needs an outcome",
        "field": "outcome",
    }
    assert m.Lead.objects.get().status == "ACCEPTED"
    # when it is closed with an outcome
    closed = ok(
        gql(
            CHANGE_LEAD_STATUS,
            {
                "id": lead["id"],
                "status": "CLOSED",
                "outcome": "ARREST",
                "outcomeNotes": "Arrested at the airport.",
            },
        ),
        "changeLeadStatus",
        "lead",
    )
    # then the lead is closed with its outcome and a closing time
    assert (closed["status"], closed["outcome"], closed["outcomeNotes"]) == (
        "CLOSED",
        "ARREST",
        "Arrested at the airport.",
    )
    assert closed["closedAt"] is not None
    assert closed["allowedTransitions"] == []
    row = m.Lead.objects.get()
    assert (row.status, row.outcome, row.outcome_notes, row.office_id) == (
        "CLOSED",
        "ARREST",
        "Arrested at the airport.",
        office.pk,
    )
    assert row.referred_at is not None
    assert row.closed_at is not None


# --- createLead --------------------------------------------------------------------------------


def test_create_lead_builds_a_draft_from_tips_and_subjects(gql, analyst):
    # given an office, two tips and a subject
    office = OfficeFactory()
    tips = [TipFactory(), TipFactory()]
    subject = SubjectFactory()
    # when a lead is started from them
    result = gql(
        CREATE_LEAD,
        {
            "input": {
                "title": "  Operation   Tide ",
                "summary": "Two tips, one suspect.",
                "officeId": gid("Office", office.pk),
                "tipIds": [gid("Tip", t.pk) for t in tips],
                "subjectIds": [gid("Subject", subject.pk)],
            }
        },
    )
    # then a draft lead comes back with all of them
    lead = ok(result, "createLead", "lead")
    row = m.Lead.objects.get()
    assert lead["id"] == gid("Lead", row.pk)
    assert (lead["title"], lead["summary"], lead["status"], lead["outcome"]) == (
        "Operation Tide",
        "Two tips, one suspect.",
        "DRAFT",
        "NONE",
    )
    assert lead["office"] == {"id": gid("Office", office.pk)}
    assert sorted(edge_ids(lead["tips"])) == sorted(gid("Tip", t.pk) for t in tips)
    assert edge_ids(lead["subjects"]) == [gid("Subject", subject.pk)]
    # and the database holds the same
    assert (row.title, row.office_id, row.status, row.created_by) == (
        "Operation Tide",
        office.pk,
        "DRAFT",
        analyst,
    )
    assert sorted(row.tips.values_list("pk", flat=True)) == sorted(t.pk for t in tips)
    assert list(row.subjects.values_list("pk", flat=True)) == [subject.pk]


def test_create_lead_with_a_title_only(gql):
    # given nothing
    # when a lead is started with just a title
    lead = ok(gql(CREATE_LEAD, {"input": {"title": "Early idea"}}), "createLead", "lead")
    # then it has no office, tips or subjects
    assert (lead["office"], lead["tips"]["edges"], lead["subjects"]["edges"]) == (None, [], [])
    assert lead_state() == (
        [(m.Lead.objects.get().pk, "Early idea", "", None, "DRAFT", "", "")],
        [],
        [],
    )


def test_create_lead_needs_a_title(gql):
    # given a tip
    tip = TipFactory()
    # when a lead is started with a blank title
    result = gql(CREATE_LEAD, {"input": {"title": "   ", "tipIds": [gid("Tip", tip.pk)]}})
    # then it is refused and nothing was written
    assert single_error(result, "createLead", "lead") == {
        "code": "INVALID_INPUT",
        "message": "title must not be empty",
        "field": "title",
    }
    assert lead_state() == ([], [], [])


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_create_lead_with_a_bad_office_id_is_not_found(gql, how):
    # given an id that is not a known Office
    office_id, message = bad_id(how, "Office")
    # when a lead is started for it
    result = gql(CREATE_LEAD, {"input": {"title": "Lead", "officeId": office_id}})
    # then it is not found and nothing was written
    error = single_error(result, "createLead", "lead")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "officeId")
    assert message in error["message"]
    assert lead_state() == ([], [], [])


def test_create_lead_with_one_unknown_tip_writes_nothing(gql):
    # given one real tip and one unknown tip id
    tip = TipFactory()
    unknown = gid("Tip", 999_999)
    # when a lead is started from both
    result = gql(CREATE_LEAD, {"input": {"title": "Lead", "tipIds": [gid("Tip", tip.pk), unknown]}})
    # then the unknown tip is named and nothing was written
    assert single_error(result, "createLead", "lead") == {
        "code": "NOT_FOUND",
        "message": f"no Tip with id {unknown}",
        "field": "tipIds",
    }
    assert lead_state() == ([], [], [])


@pytest.mark.parametrize(
    ("field", "ids", "message"),
    [
        ("tipIds", lambda: [gid("Subject", SubjectFactory().pk)], "tipIds must hold Tip ids"),
        ("tipIds", lambda: [gid("Tip", "x")], "tipIds holds an invalid Tip id"),
        ("subjectIds", lambda: [gid("Subject", 999_999)], "no Subject with id"),
        ("subjectIds", lambda: [gid("Tip", TipFactory().pk)], "subjectIds must hold Subject ids"),
    ],
    ids=["tip-of-wrong-type", "malformed-tip", "unknown-subject", "subject-of-wrong-type"],
)
def test_create_lead_with_bad_list_ids_is_not_found(gql, field, ids, message):
    # given ids that name no record of the expected type
    bad = ids()
    before = lead_state()
    # when a lead is started from them
    result = gql(CREATE_LEAD, {"input": {"title": "Lead", field: bad}})
    # then the list is named and nothing was written
    error = single_error(result, "createLead", "lead")
    assert (error["code"], error["field"]) == ("NOT_FOUND", field)
    assert message in error["message"]
    assert lead_state() == before


def test_create_lead_refuses_too_many_tip_ids(gql):
    # given more tip ids than one call may carry
    tip_ids = [gid("Tip", n) for n in range(1, 202)]
    # when a lead is started from them
    result = gql(CREATE_LEAD, {"input": {"title": "Lead", "tipIds": tip_ids}})
    # then the list is refused and nothing was written
    assert single_error(result, "createLead", "lead") == {
        "code": "INVALID_INPUT",
        "message": "at most 200 ids in tipIds",
        "field": "tipIds",
    }
    assert lead_state() == ([], [], [])


# --- updateLead --------------------------------------------------------------------------------


def test_update_lead_edits_a_draft(gql):
    # given a draft lead with two tips and a subject, and another office, tip and subject
    lead = LeadFactory(title="Old", summary="old")
    kept_tip, dropped_tip, new_tip = TipFactory(), TipFactory(), TipFactory()
    dropped_subject, new_subject = SubjectFactory(), SubjectFactory()
    lead.tips.set([kept_tip, dropped_tip])
    lead.subjects.set([dropped_subject])
    office = OfficeFactory()
    # when everything is changed at once
    result = gql(
        UPDATE_LEAD,
        {
            "input": {
                "id": gid("Lead", lead.pk),
                "title": " New  title ",
                "summary": "new",
                "officeId": gid("Office", office.pk),
                "addTipIds": [gid("Tip", new_tip.pk)],
                "removeTipIds": [gid("Tip", dropped_tip.pk)],
                "addSubjectIds": [gid("Subject", new_subject.pk)],
                "removeSubjectIds": [gid("Subject", dropped_subject.pk)],
            }
        },
    )
    # then the lead shows the changes
    payload = ok(result, "updateLead", "lead")
    assert (payload["title"], payload["summary"], payload["office"]) == (
        "New title",
        "new",
        {"id": gid("Office", office.pk)},
    )
    assert sorted(edge_ids(payload["tips"])) == sorted(
        [gid("Tip", kept_tip.pk), gid("Tip", new_tip.pk)]
    )
    assert edge_ids(payload["subjects"]) == [gid("Subject", new_subject.pk)]
    lead.refresh_from_db()
    assert (lead.title, lead.summary, lead.office_id) == ("New title", "new", office.pk)
    assert sorted(lead.tips.values_list("pk", flat=True)) == sorted([kept_tip.pk, new_tip.pk])
    assert list(lead.subjects.values_list("pk", flat=True)) == [new_subject.pk]


def test_update_lead_may_retitle_a_referred_lead(gql):
    # given a referred lead
    lead = LeadFactory(title="Old", status="REFERRED")
    # when its title and summary change
    result = gql(
        UPDATE_LEAD,
        {"input": {"id": gid("Lead", lead.pk), "title": "New", "summary": "More detail."}},
    )
    # then they are saved
    assert ok(result, "updateLead", "lead")["title"] == "New"
    lead.refresh_from_db()
    assert (lead.title, lead.summary, lead.status) == ("New", "More detail.", "REFERRED")


def test_update_lead_refuses_structural_changes_after_draft(gql):
    # given a referred lead
    lead = LeadFactory(title="Old", status="REFERRED")
    tip = TipFactory()
    before = lead_state()
    # when a tip is added to it (and its title changed in the same call)
    result = gql(
        UPDATE_LEAD,
        {"input": {"id": gid("Lead", lead.pk), "title": "New", "addTipIds": [gid("Tip", tip.pk)]}},
    )
    # then the change is refused, naming the status, and nothing changed
    assert single_error(result, "updateLead", "lead") == {
        "code": "INVALID_INPUT",
        "message": (
            "office, tips and subjects of a REFERRED lead cannot change; only a DRAFT's can"
        ),
        "field": "status",
    }
    assert lead_state() == before


def test_update_lead_refuses_a_blank_title(gql):
    # given a draft lead
    lead = LeadFactory(title="Old")
    before = lead_state()
    # when its title is blanked
    result = gql(UPDATE_LEAD, {"input": {"id": gid("Lead", lead.pk), "title": " "}})
    # then it is refused and nothing changed
    assert single_error(result, "updateLead", "lead") == {
        "code": "INVALID_INPUT",
        "message": "title must not be empty",
        "field": "title",
    }
    assert lead_state() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_update_lead_with_a_bad_id_is_not_found(gql, how):
    # given a lead and an id that is not a known Lead
    LeadFactory(title="Old")
    lead_id, message = bad_id(how, "Lead")
    before = lead_state()
    # when it is updated
    result = gql(UPDATE_LEAD, {"input": {"id": lead_id, "title": "New"}})
    # then it is not found and nothing changed
    error = single_error(result, "updateLead", "lead")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "id")
    assert message in error["message"]
    assert lead_state() == before


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("officeId", lambda: gid("Source", SourceFactory().pk), "must be the id of a Office"),
        ("addTipIds", lambda: [gid("Tip", 999_999)], "no Tip with id"),
        ("removeTipIds", lambda: [gid("Tip", "x")], "removeTipIds holds an invalid Tip id"),
        ("addSubjectIds", lambda: [gid("Tip", TipFactory().pk)], "must hold Subject ids"),
        ("removeSubjectIds", lambda: [gid("Subject", 999_999)], "no Subject with id"),
    ],
    ids=["officeId", "addTipIds", "removeTipIds", "addSubjectIds", "removeSubjectIds"],
)
def test_update_lead_with_bad_related_ids_is_not_found(gql, field, bad, message):
    # given a draft lead and an id that names no record of the expected type
    lead = LeadFactory(title="Old")
    value = bad()
    before = lead_state()
    # when the lead is updated with it (and retitled)
    result = gql(UPDATE_LEAD, {"input": {"id": gid("Lead", lead.pk), "title": "New", field: value}})
    # then the field is named and nothing changed
    error = single_error(result, "updateLead", "lead")
    assert (error["code"], error["field"]) == ("NOT_FOUND", field)
    assert message in error["message"]
    assert lead_state() == before


# --- changeLeadStatus --------------------------------------------------------------------------


def test_change_lead_status_refuses_referral_without_office(gql):
    # given a draft lead without an office but with an actionable tip
    lead = LeadFactory(office=None)
    tip = TipFactory(status="ACTIONABLE")
    lead.tips.set([tip])
    # when it is referred
    result = gql(CHANGE_LEAD_STATUS, {"id": gid("Lead", lead.pk), "status": "REFERRED"})
    # then the office is asked for and nothing changed
    assert single_error(result, "changeLeadStatus", "lead") == {
        "code": "INVALID_INPUT",
        "message": "a lead needs an office before it can be referred",
        "field": "office",
    }
    lead.refresh_from_db()
    assert (lead.status, lead.referred_at) == ("DRAFT", None)
    assert tip_statuses(tip) == ["ACTIONABLE"]


def test_change_lead_status_refuses_referral_without_tips(gql):
    # given a draft lead with an office and no tips
    lead = LeadFactory()
    # when it is referred
    result = gql(CHANGE_LEAD_STATUS, {"id": gid("Lead", lead.pk), "status": "REFERRED"})
    # then tips are asked for
    assert single_error(result, "changeLeadStatus", "lead") == {
        "code": "INVALID_INPUT",
        "message": "a lead needs at least one tip before it can be referred",
        "field": "tips",
    }
    lead.refresh_from_db()
    assert lead.status == "DRAFT"


def test_change_lead_status_refuses_referral_of_tips_not_found_actionable(gql):
    # given a draft lead with one actionable tip and two that are not
    lead = LeadFactory()
    ready = TipFactory(status="ACTIONABLE", source_reference="A-0")
    received = TipFactory(status="RECEIVED", source_reference="B-2")
    reviewing = TipFactory(status="UNDER_REVIEW", source_reference="A-1")
    lead.tips.set([ready, received, reviewing])
    # when it is referred
    result = gql(CHANGE_LEAD_STATUS, {"id": gid("Lead", lead.pk), "status": "REFERRED"})
    # then the tips not ready are named and no tip or lead changed
    assert single_error(result, "changeLeadStatus", "lead") == {
        "code": "INVALID_INPUT",
        "message": "only tips found actionable can be referred; not actionable yet: A-1, B-2",
        "field": "tips",
    }
    lead.refresh_from_db()
    assert (lead.status, lead.referred_at) == ("DRAFT", None)
    assert tip_statuses(ready, received, reviewing) == ["ACTIONABLE", "RECEIVED", "UNDER_REVIEW"]


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("DRAFT", "ACCEPTED", "CANCELLED, REFERRED"),
        ("REFERRED", "CLOSED", "ACCEPTED, DECLINED"),
        ("CLOSED", "DRAFT", "none (final status)"),
        ("CANCELLED", "REFERRED", "none (final status)"),
    ],
)
def test_change_lead_status_refuses_transitions_the_machine_does_not_allow(
    gql, current, target, allowed
):
    # given a lead in some status
    lead = LeadFactory(status=current)
    # when it is moved where it may not go
    result = gql(
        CHANGE_LEAD_STATUS,
        {"id": gid("Lead", lead.pk), "status": target, "outcome": "ARREST"},
    )
    # then the transition is refused, naming both statuses, and nothing changed
    assert single_error(result, "changeLeadStatus", "lead") == {
        "code": "INVALID_TRANSITION",
        "message": f"Lead cannot move from {current} to {target}; allowed: {allowed}",
        "field": "status",
    }
    lead.refresh_from_db()
    assert (lead.status, lead.outcome) == (current, "")


def test_change_lead_status_cancels_a_draft(gql):
    # given a draft lead
    lead = LeadFactory()
    # when it is cancelled
    result = gql(CHANGE_LEAD_STATUS, {"id": gid("Lead", lead.pk), "status": "CANCELLED"})
    # then it is cancelled and final
    payload = ok(result, "changeLeadStatus", "lead")
    assert (payload["status"], payload["allowedTransitions"]) == ("CANCELLED", [])
    lead.refresh_from_db()
    assert lead.status == "CANCELLED"


def test_change_lead_status_closes_a_declined_lead_with_its_outcome(gql):
    # given a declined lead
    lead = LeadFactory(status="DECLINED")
    # when it is closed with no action possible
    result = gql(
        CHANGE_LEAD_STATUS,
        {"id": gid("Lead", lead.pk), "status": "CLOSED", "outcome": "NO_ACTION"},
    )
    # then it is closed with that outcome
    payload = ok(result, "changeLeadStatus", "lead")
    assert (payload["status"], payload["outcome"]) == ("CLOSED", "NO_ACTION")
    lead.refresh_from_db()
    assert (lead.status, lead.outcome) == ("CLOSED", "NO_ACTION")
    assert lead.closed_at is not None


def test_change_lead_status_does_not_close_with_outcome_none(gql):
    # given an accepted lead
    lead = LeadFactory(status="ACCEPTED")
    # when it is closed with the NONE outcome and some notes
    result = gql(
        CHANGE_LEAD_STATUS,
        {
            "id": gid("Lead", lead.pk),
            "status": "CLOSED",
            "outcome": "NONE",
            "outcomeNotes": "Nothing yet.",
        },
    )
    # then an outcome is still asked for and the notes were not kept
    assert single_error(result, "changeLeadStatus", "lead") == {
        "code": "INVALID_INPUT",
        "message": "closing a lead needs an outcome",
        "field": "outcome",
    }
    lead.refresh_from_db()
    assert (lead.status, lead.outcome, lead.outcome_notes, lead.closed_at) == (
        "ACCEPTED",
        "",
        "",
        None,
    )


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_change_lead_status_with_a_bad_id_is_not_found(gql, how):
    # given a draft lead and an id that is not a known Lead
    LeadFactory()
    lead_id, message = bad_id(how, "Lead")
    before = lead_state()
    # when its status is changed
    result = gql(CHANGE_LEAD_STATUS, {"id": lead_id, "status": "CANCELLED"})
    # then it is not found and nothing changed
    error = single_error(result, "changeLeadStatus", "lead")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "id")
    assert message in error["message"]
    assert lead_state() == before


@pytest.mark.parametrize(
    ("variables", "bad_value"),
    [
        ({"status": "ARCHIVED"}, "ARCHIVED"),
        ({"status": "CLOSED", "outcome": "CONVICTION"}, "CONVICTION"),
    ],
    ids=["status", "outcome"],
)
def test_change_lead_status_with_an_unknown_enum_value_is_a_validation_error(
    gql, variables, bad_value
):
    # given an accepted lead
    lead = LeadFactory(status="ACCEPTED")
    # when the status or outcome is not one of the enum's values
    result = gql(CHANGE_LEAD_STATUS, {"id": gid("Lead", lead.pk), **variables})
    # then GraphQL refuses it, naming the value
    assert result.get("data") is None
    assert len(result["errors"]) == 1
    assert bad_value in result["errors"][0]["message"]
    lead.refresh_from_db()
    assert lead.status == "ACCEPTED"


# --- who may call ------------------------------------------------------------------------------

MUTATIONS = ["createLead", "updateLead", "changeLeadStatus"]


def lead_mutation_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every lead mutation with variables that would succeed for an analyst."""
    lead_id = gid("Lead", LeadFactory(title="Unchanged").pk)
    return {
        "createLead": (CREATE_LEAD, {"input": {"title": "New lead"}}),
        "updateLead": (UPDATE_LEAD, {"input": {"id": lead_id, "title": "Changed"}}),
        "changeLeadStatus": (CHANGE_LEAD_STATUS, {"id": lead_id, "status": "CANCELLED"}),
    }


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_other_roles_may_not_call_lead_mutations(gql_as, role, mutation):
    # given a caller whose role does not write records
    # when it calls the mutation: nothing is written
    result = refused_without_writes(gql_as(role), lead_mutation_calls, mutation, lead_state)
    # then it is forbidden
    assert_forbidden(result, mutation)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_anonymous_callers_may_not_call_lead_mutations(anonymous_gql, mutation):
    # given no session
    # when the mutation is called: nothing is written
    result = refused_without_writes(anonymous_gql, lead_mutation_calls, mutation, lead_state)
    # then authentication is required
    assert_unauthenticated(result)


def test_the_analyst_variables_used_above_do_succeed(gql):
    # given the calls the role tests make, when an analyst makes each of them, then every one
    # succeeds, so the refusals above are about the role alone
    assert_analyst_calls_succeed(gql, lead_mutation_calls)
