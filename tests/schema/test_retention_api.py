"""Legal holds and the disposal preview over GraphQL: placeLegalHold and liftLegalHold for
program managers, with typed errors and audit rows; legalHolds for program managers and
auditors; disposalPreview for program managers; every other role refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from strawberry.relay import GlobalID

from audit.models import AuditEvent
from backend import models as m
from tests.factories import (
    LeadFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    UserFactory,
)
from tests.schema.mutation_helpers import ERRORS, gid, single_error

pytestmark = pytest.mark.django_db

PM, AU, AN = m.Role.PROGRAM_MANAGER, m.Role.AUDITOR, m.Role.ANALYST
OTHERS_THAN_PM = [r for r in m.Role if r != PM]

HOLD_FIELDS = "id recordId reason reference active placedByName liftedAt liftedByName liftReason"
PLACE = f"""mutation PlaceHold($input: PlaceLegalHoldInput!) {{
  placeLegalHold(input: $input) {{ legalHold {{ {HOLD_FIELDS} }} {ERRORS} }} }}"""
LIFT = f"""mutation LiftHold($input: LiftLegalHoldInput!) {{
  liftLegalHold(input: $input) {{ legalHold {{ {HOLD_FIELDS} }} {ERRORS} }} }}"""
HOLDS = """query Holds($active: Boolean) {
  legalHolds(active: $active) { totalCount edges { node { id recordId reference active } } } }"""
PREVIEW = """query Preview($asOf: DateTime, $categories: [RetentionCategory!]) {
  disposalPreview(asOf: $asOf, categories: $categories) {
    asOf schedule
    categories { category periodDays cutoff due held oldestClockStart reason
                 parts { name model due } } } }"""

FAR = "2100-01-01T00:00:00Z"


def place_input(record: Any, **overrides: str) -> dict[str, Any]:
    return {
        "input": {
            "recordId": gid(type(record).__name__, record.pk),
            "reason": "Preservation letter, US Attorney's Office",
            "reference": "USAO-2025-0042",
            **overrides,
        }
    }


def existing_hold(record: Any, **fields: Any) -> m.LegalHold:
    target = type(record).__name__.lower()
    return m.LegalHold.objects.create(
        **{target: record},
        reason="Litigation hold",
        reference=fields.pop("reference", "CASE-7"),
        placed_by=UserFactory(role=PM, username="other-pm"),
        **fields,
    )


def audit_row(name: str) -> AuditEvent:
    return AuditEvent.objects.filter(operation_name=name).latest("seq")


# ----------------------------------------------------------------------------------------------
# placeLegalHold


@pytest.mark.parametrize("factory", [TipFactory, LeadFactory, SubjectFactory])
def test_a_program_manager_places_a_hold_on_a_tip_lead_or_subject(gql_as, factory):
    # given a record
    record = factory()
    # when a program manager holds it
    result = gql_as(PM)(PLACE, place_input(record))
    # then the hold is active, names its record and who placed it
    payload = result["data"]["placeLegalHold"]
    assert payload["errors"] == []
    hold = payload["legalHold"]
    assert hold["recordId"] == gid(type(record).__name__, record.pk)
    assert (hold["active"], hold["placedByName"], hold["liftedAt"]) == (
        True,
        "program_manager-user",
        None,
    )
    stored = m.LegalHold.objects.get()
    assert stored.target == record
    assert stored.reference == "USAO-2025-0042"
    # and the operation's audit row names the hold it created
    row = audit_row("PlaceHold")
    assert row.outcome == "ALLOWED"
    assert f"LegalHold:{stored.pk}" in row.records_changed


@pytest.mark.parametrize("role", OTHERS_THAN_PM)
def test_every_other_role_is_refused_placing_a_hold(gql_as, role):
    # given a tip
    tip = TipFactory()
    # when someone other than a program manager tries to hold it
    result = gql_as(role)(PLACE, place_input(tip))
    # then it is refused, nothing is held, and the refusal is audited
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert not m.LegalHold.objects.exists()
    assert audit_row("PlaceHold").outcome == "DENIED"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"reason": "   "}, "reason"), ({"reference": ""}, "reference")],
)
def test_a_hold_needs_a_reason_and_a_reference(gql_as, overrides, field):
    result = gql_as(PM)(PLACE, place_input(TipFactory(), **overrides))
    error = single_error(result, "placeLegalHold", "legalHold")
    assert (error["code"], error["field"]) == ("INVALID_INPUT", field)
    assert not m.LegalHold.objects.exists()


@pytest.mark.parametrize(
    "record_id",
    [gid("Tip", 999_999), gid("Identifier", 1), gid("Note", 1)],
    ids=["unknown tip", "identifier", "note"],
)
def test_a_hold_on_no_tip_lead_or_subject_is_not_found(gql_as, record_id):
    variables = place_input(TipFactory())
    variables["input"]["recordId"] = record_id
    error = single_error(gql_as(PM)(PLACE, variables), "placeLegalHold", "legalHold")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "recordId")


def test_holding_a_record_again_for_the_same_matter_is_refused_but_another_matter_may(gql_as):
    # given a tip held for one matter
    tip = TipFactory()
    existing_hold(tip, reference="USAO-2025-0042")
    manager = gql_as(PM)
    # when it is held again for the same matter (ignoring case)
    again = manager(PLACE, place_input(tip, reference="usao-2025-0042"))
    # then ALREADY_HELD, naming the reference
    error = single_error(again, "placeLegalHold", "legalHold")
    assert (error["code"], error["field"]) == ("ALREADY_HELD", "reference")
    # when another matter holds it, then it is held twice
    other = manager(PLACE, place_input(tip, reference="FOIA-LIT-9"))
    assert other["data"]["placeLegalHold"]["errors"] == []
    assert m.LegalHold.objects.active().filter(tip=tip).count() == 2


def test_a_removed_record_can_still_be_held(gql_as):
    tip = TipFactory(removed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), removed_reason="dup")
    assert gql_as(PM)(PLACE, place_input(tip))["data"]["placeLegalHold"]["errors"] == []


# ----------------------------------------------------------------------------------------------
# liftLegalHold


def test_a_program_manager_lifts_a_hold_with_a_reason(gql_as):
    # given an active hold
    hold = existing_hold(TipFactory())
    # when a program manager lifts it
    result = gql_as(PM)(
        LIFT, {"input": {"id": gid("LegalHold", hold.pk), "reason": "Judgment final"}}
    )
    # then it is lifted, kept, and says by whom and why
    lifted = result["data"]["liftLegalHold"]
    assert lifted["errors"] == []
    assert lifted["legalHold"]["active"] is False
    assert lifted["legalHold"]["liftedByName"] == "program_manager-user"
    assert lifted["legalHold"]["liftReason"] == "Judgment final"
    hold.refresh_from_db()
    assert hold.lifted_at is not None
    assert f"LegalHold:{hold.pk}" in audit_row("LiftHold").records_changed


def test_lifting_twice_is_not_held_and_lifting_needs_a_reason(gql_as):
    hold = existing_hold(TipFactory())
    manager = gql_as(PM)
    lift = {"input": {"id": gid("LegalHold", hold.pk), "reason": " "}}
    # when the reason is empty, then INVALID_INPUT and the hold stays
    error = single_error(manager(LIFT, lift), "liftLegalHold", "legalHold")
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "reason")
    hold.refresh_from_db()
    assert hold.lifted_at is None
    # when lifted, and lifted again, then NOT_HELD and the first lifting stands
    lift["input"]["reason"] = "Matter closed"
    assert manager(LIFT, lift)["data"]["liftLegalHold"]["errors"] == []
    lift["input"]["reason"] = "Again"
    error = single_error(manager(LIFT, lift), "liftLegalHold", "legalHold")
    assert (error["code"], error["field"]) == ("NOT_HELD", "id")
    hold.refresh_from_db()
    assert hold.lift_reason == "Matter closed"


def test_lifting_an_unknown_hold_is_not_found(gql_as):
    lift = {"input": {"id": gid("LegalHold", 999_999), "reason": "x"}}
    error = single_error(gql_as(PM)(LIFT, lift), "liftLegalHold", "legalHold")
    assert (error["code"], error["field"]) == ("NOT_FOUND", "id")


@pytest.mark.parametrize("role", OTHERS_THAN_PM)
def test_every_other_role_is_refused_lifting_a_hold(gql_as, role):
    hold = existing_hold(TipFactory())
    result = gql_as(role)(LIFT, {"input": {"id": gid("LegalHold", hold.pk), "reason": "x"}})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    hold.refresh_from_db()
    assert hold.lifted_at is None


# ----------------------------------------------------------------------------------------------
# legalHolds


@pytest.fixture
def holds() -> dict[str, m.LegalHold]:
    active = existing_hold(TipFactory(), reference="ACTIVE-1")
    lifted = existing_hold(
        SubjectFactory(),
        reference="LIFTED-1",
        lifted_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
        lift_reason="Closed",
        lifted_by=UserFactory(role=PM, username="lifting-pm"),
    )
    return {"active": active, "lifted": lifted}


@pytest.mark.parametrize("role", [PM, AU])
def test_program_managers_and_auditors_list_holds_active_or_lifted(gql_as, holds, role):
    gql = gql_as(role)
    every = gql(HOLDS)["data"]["legalHolds"]
    assert every["totalCount"] == 2
    active = gql(HOLDS, {"active": True})["data"]["legalHolds"]["edges"]
    assert [e["node"]["reference"] for e in active] == ["ACTIVE-1"]
    lifted = gql(HOLDS, {"active": False})["data"]["legalHolds"]["edges"]
    assert [(e["node"]["reference"], e["node"]["active"]) for e in lifted] == [("LIFTED-1", False)]
    # and the audit row names the holds the (last) answer returned
    assert audit_row("Holds").records_returned == [f"LegalHold:{holds['lifted'].pk}"]


@pytest.mark.parametrize("role", [r for r in m.Role if r not in (PM, AU)])
def test_other_roles_may_not_list_holds(gql_as, holds, role):
    result = gql_as(role)(HOLDS)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]


def test_an_analyst_cannot_reach_a_hold_by_its_id(gql_as, holds):
    # given the id of a hold; when an analyst fetches it as a node, then it is not there
    node = "query($id: ID!) { node(id: $id) { ... on LegalHold { reason } } }"
    hold_id = str(GlobalID("LegalHold", str(holds["active"].pk)))
    assert gql_as(AN)(node, {"id": hold_id})["data"]["node"] is None
    # while a program manager sees it
    assert gql_as(PM)(node, {"id": hold_id})["data"]["node"] == {"reason": "Litigation hold"}


# ----------------------------------------------------------------------------------------------
# disposalPreview


def test_the_preview_lists_every_category_and_never_counts_held_records(gql_as):
    # given two tips, one of them held
    held = TipFactory()
    TipFactory()
    existing_hold(held)
    # when a program manager previews disposal far ahead
    result = gql_as(PM)(PREVIEW, {"asOf": FAR})
    preview = result["data"]["disposalPreview"]
    # then every category is listed, with the schedule
    assert preview["schedule"] == "N1-567-10-014"
    by_category = {c["category"]: c for c in preview["categories"]}
    assert set(by_category) == {
        "TIPS",
        "LEADS",
        "LOOKUPS_WITH_HITS",
        "LOOKUPS_WITHOUT_HITS",
        "DISCLOSURES",
        "IMPORT_JOBS",
        "UPLOADED_FILES",
        "SESSIONS_AND_TOKENS",
        "AUDIT_LOG",
    }
    # and the free tip is due, the held one counted only as held
    tips = by_category["TIPS"]
    assert (tips["due"], tips["held"], tips["periodDays"]) == (1, 1, 7300)
    assert {p["name"]: p["due"] for p in tips["parts"]}["tips"] == 1
    assert tips["oldestClockStart"] is not None


def test_the_preview_reads_now_by_default_and_only_the_categories_asked(gql_as):
    TipFactory()
    result = gql_as(PM)(PREVIEW, {"categories": ["TIPS", "LOOKUPS_WITHOUT_HITS"]})
    preview = result["data"]["disposalPreview"]
    assert [c["category"] for c in preview["categories"]] == ["TIPS", "LOOKUPS_WITHOUT_HITS"]
    assert [c["due"] for c in preview["categories"]] == [0, 0]
    assert audit_row("Preview").outcome == "ALLOWED"


@pytest.mark.parametrize("role", OTHERS_THAN_PM)
def test_every_other_role_is_refused_the_preview(gql_as, role):
    result = gql_as(role)(PREVIEW, {"asOf": FAR})
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert audit_row("Preview").outcome == "DENIED"


def test_an_unknown_category_is_refused_before_anything_runs(gql_as):
    result = gql_as(PM)(PREVIEW, {"categories": ["EVERYTHING"]})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


# ----------------------------------------------------------------------------------------------
# Query counts


def _queries(gql: Any, query: str, variables: dict[str, Any] | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = gql(query, variables)
    assert "errors" not in result, result
    return len(queries)


def test_listing_holds_runs_a_constant_number_of_queries(gql_as):
    # given a program manager, and two holds (one lifted), then twelve
    gql = gql_as(PM)
    listing = f"{{ legalHolds(first: 50) {{ totalCount edges {{ node {{ {HOLD_FIELDS} }} }} }} }}"
    lifter = UserFactory(role=PM, username="lifter")
    lifted_at = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

    def grow(rows: int) -> None:
        for n in range(rows):
            existing_hold(TipFactory(), reference=f"CASE-{rows}-{n}")
        existing_hold(
            LeadFactory(),
            reference=f"LIFTED-{rows}",
            lifted_at=lifted_at,
            lift_reason="done",
            lifted_by=lifter,
        )

    grow(1)
    gql(listing)  # the session, the account, read once
    few = _queries(gql, listing)
    grow(11)
    # when listed again, then the same number of queries runs
    assert _queries(gql, listing) == few


def test_the_preview_runs_a_constant_number_of_queries(gql_as):
    # given a program manager, and a few records, then many more
    gql = gql_as(PM)
    TipFactory()
    existing_hold(TipFactory())
    gql(PREVIEW, {"asOf": FAR})  # the session, the account and content types, read once
    few = _queries(gql, PREVIEW, {"asOf": FAR})
    for _ in range(10):
        SightingFactory(tip=TipFactory())
    # then the preview counts in the database: as many queries however many rows
    assert _queries(gql, PREVIEW, {"asOf": FAR}) == few


def test_a_moment_too_early_for_the_periods_is_invalid_input(gql_as):
    # given a moment no period can reach back from
    result = gql_as(PM)(PREVIEW, {"asOf": "0001-06-01T00:00:00Z"})
    # then the preview is refused as the caller's mistake, naming asOf
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["INVALID_INPUT"]
    assert "asOf 0001-06-01 is too early" in result["errors"][0]["message"]
