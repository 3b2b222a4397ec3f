"""Disposal runs before anything is disposed of: the request fixes the work list, a second
program manager approves it (which queues the worker's task), a run can be cancelled; over
GraphQL and ``manage.py dispose`` for program managers only, every step audited."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditEvent
from backend import models as m
from backend.retention import Category
from backend.services import disposal
from backend.services.retention import due
from tests.factories import UserFactory
from tests.retention.helpers import program_managers, tip_family
from tests.schema.mutation_helpers import ERRORS, gid

pytestmark = pytest.mark.django_db

PM = m.Role.PROGRAM_MANAGER
OTHERS_THAN_PM = [r for r in m.Role if r != PM]

RUN_FIELDS = """id status asOf categories itemsTotal requestedByName approvedByName
  cancelledByName cancelReason counts { category due held }
  progress { pending done held kept gone }"""
REQUEST = f"""mutation Request($input: RequestDisposalInput!) {{
  requestDisposal(input: $input) {{ disposalRun {{ {RUN_FIELDS} }} {ERRORS} }} }}"""
APPROVE = f"""mutation Approve($input: ApproveDisposalInput!) {{
  approveDisposal(input: $input) {{ disposalRun {{ {RUN_FIELDS} }} {ERRORS} }} }}"""
CANCEL = f"""mutation Cancel($input: CancelDisposalInput!) {{
  cancelDisposal(input: $input) {{ disposalRun {{ {RUN_FIELDS} }} {ERRORS} }} }}"""
RUNS = """query Runs($status: DisposalStatus) {
  disposalRuns(status: $status) { totalCount edges { node { id status itemsTotal } } } }"""


def audit_row(operation: str) -> AuditEvent:
    return AuditEvent.objects.filter(operation_name=operation).latest("seq")


def test_every_model_a_clock_names_has_a_disposal_phase():
    for category in Category:
        for part in due(category, now=timezone.now()):
            assert part.model._meta.label in disposal.PHASES, part.model


def test_children_go_before_the_records_they_name():
    phases = disposal.PHASES
    for child, parent in [
        ("backend.Note", "backend.Tip"),
        ("backend.TipIdentifier", "backend.Tip"),
        ("backend.TipIdentifier", "backend.Identifier"),
        ("backend.TipSubject", "backend.Subject"),
        ("backend.SubjectIdentifier", "backend.Identifier"),
        ("backend.ResearchResult", "backend.Tip"),
        ("backend.Lead_tips", "backend.Lead"),
        ("backend.DeconflictionNotice", "backend.Lead"),
        ("backend.NoticeRecipient", "backend.DeconflictionNotice"),
        ("backend.Disclosure", "backend.TravellerLookup"),
        ("backend.Tip", "backend.Cluster"),
        ("axes.AccessAttemptExpiration", "axes.AccessAttempt"),
        ("audit.AuditEvent", "audit.AuditQueryText"),
    ]:
        assert phases[child] < phases[parent], (child, parent)


def test_a_request_fixes_the_work_list_from_the_clocks(clock):
    # given a tip with its note, person and identifier, past its period
    family = tip_family("ALPHA")
    clock.forward(days=7301)
    jones, _ = program_managers()
    # when a program manager requests a run of the tips category
    run = disposal.request_disposal(by=jones, categories=[Category.TIPS], reason="yearly")
    # then the run waits for approval with one item per row, each with its phase
    assert (run.status, run.categories, run.reason) == ("REQUESTED", ["TIPS"], "yearly")
    items = {
        (item.model, item.row_id): item.phase for item in m.DisposalItem.objects.filter(run=run)
    }
    expected = {
        ("backend.Tip", family["tip"].pk),
        ("backend.Subject", family["subject"].pk),
        ("backend.Identifier", family["identifier"].pk),
        ("backend.TipIdentifier", family["sighting"].pk),
        ("backend.TipSubject", family["tip_subject"].pk),
        ("backend.Note", family["note"].pk),
    }
    assert {(label, int(row)) for label, row in items} >= expected
    assert run.items_total == len(items)
    assert (
        items[("backend.Note", str(family["note"].pk))]
        < items[("backend.Tip", str(family["tip"].pk))]
    )
    assert run.counts["TIPS"]["due"] == 1
    # and nothing is disposed of yet
    assert m.Tip.objects.filter(pk=family["tip"].pk).exists()


def test_a_run_never_reads_the_clocks_ahead_and_one_run_at_a_time():
    jones, _ = program_managers()
    with pytest.raises(disposal.InvalidInput, match="never ahead"):
        disposal.request_disposal(by=jones, as_of=timezone.now() + timezone.timedelta(days=1))
    first = disposal.request_disposal(by=jones)
    with pytest.raises(disposal.InvalidTransition, match=f"run {first.pk} is still requested"):
        disposal.request_disposal(by=jones)


def test_another_program_manager_approves_and_the_worker_task_is_queued():
    jones, smith = program_managers()
    run = disposal.request_disposal(by=jones)
    # the requester may not approve their own request
    with pytest.raises(disposal.InvalidTransition, match="another program manager approves"):
        disposal.approve_disposal(by=jones, run=run)
    run = disposal.approve_disposal(by=smith, run=run)
    assert (run.status, run.approved_by) == ("APPROVED", smith)
    # and the first batch is queued for the disposal worker, under the run's lock
    (job,) = ProcrastinateJob.objects.filter(task_name="tipgraph.dispose_batch")
    assert (job.queue_name, job.args, job.lock, job.status) == (
        "disposal",
        {"run_id": run.pk},
        f"disposal-run-{run.pk}",
        "todo",
    )
    # and approving twice is refused
    with pytest.raises(disposal.InvalidTransition, match="not waiting for approval"):
        disposal.approve_disposal(by=smith, run=run)


def test_an_agency_with_one_program_manager_may_let_the_requester_approve(settings):
    settings.DISPOSAL_SECOND_APPROVER = False
    jones, _ = program_managers()
    run = disposal.request_disposal(by=jones)
    assert disposal.approve_disposal(by=jones, run=run).status == "APPROVED"


def test_a_run_is_cancelled_with_a_reason_until_it_is_done():
    jones, smith = program_managers()
    run = disposal.request_disposal(by=jones)
    with pytest.raises(disposal.InvalidInput, match="reason"):
        disposal.cancel_disposal(by=smith, run=run, reason="  ")
    run = disposal.cancel_disposal(by=smith, run=run, reason="wrong categories")
    assert (run.status, run.cancel_reason) == ("CANCELLED", "wrong categories")
    with pytest.raises(disposal.InvalidTransition):
        disposal.cancel_disposal(by=smith, run=run, reason="again")
    # and a new run may be requested
    assert disposal.request_disposal(by=jones).status == "REQUESTED"


# -- GraphQL ---------------------------------------------------------------------------------


def test_program_managers_request_approve_and_cancel_over_graphql(gql_as, clock):
    tip_family("BRAVO")
    clock.forward(days=7301)
    jones = gql_as(PM)
    smith_user = UserFactory(username="pm.smith", role=PM)
    from django.test import Client

    from tests.conftest import make_gql

    client = Client()
    client.force_login(smith_user)
    smith = make_gql(client)
    # when one program manager requests a run of the tips
    answer = jones(REQUEST, {"input": {"categories": ["TIPS"], "reason": "yearly"}})
    run = answer["data"]["requestDisposal"]["disposalRun"]
    assert answer["data"]["requestDisposal"]["errors"] == []
    assert (run["status"], run["categories"], run["requestedByName"]) == (
        "REQUESTED",
        ["TIPS"],
        "program_manager-user",
    )
    assert run["counts"] == [{"category": "TIPS", "due": 1, "held": 0}]
    assert run["progress"]["pending"] == run["itemsTotal"] > 0
    row = audit_row("Request")
    assert (row.outcome, row.records_changed) == (
        "ALLOWED",
        [f"DisposalRun:{m.DisposalRun.objects.get().pk}"],
    )
    # then the same program manager may not approve it, another may
    refused = jones(APPROVE, {"input": {"id": run["id"]}})["data"]["approveDisposal"]
    assert [e["code"] for e in refused["errors"]] == ["INVALID_TRANSITION"]
    approved = smith(APPROVE, {"input": {"id": run["id"]}})["data"]["approveDisposal"]
    assert approved["disposalRun"]["status"] == "APPROVED"
    assert approved["disposalRun"]["approvedByName"] == "pm.smith"
    assert audit_row("Approve").outcome == "ALLOWED"
    # and either may cancel it before it runs
    cancelled = jones(CANCEL, {"input": {"id": run["id"], "reason": "not now"}})
    assert cancelled["data"]["cancelDisposal"]["disposalRun"]["status"] == "CANCELLED"
    # and program managers list the runs
    listed = jones(RUNS, {"status": "CANCELLED"})["data"]["disposalRuns"]
    assert listed["totalCount"] == 1


@pytest.mark.parametrize("role", OTHERS_THAN_PM)
def test_every_other_role_is_refused_every_step_and_the_refusal_audited(gql_as, role):
    jones, _ = program_managers()
    run = disposal.request_disposal(by=jones)
    run_id = gid("DisposalRun", run.pk)
    caller = gql_as(role)
    for document, variables, name in [
        (REQUEST, {"input": {}}, "Request"),
        (APPROVE, {"input": {"id": run_id}}, "Approve"),
        (CANCEL, {"input": {"id": run_id, "reason": "no"}}, "Cancel"),
    ]:
        answer = caller(document, variables)
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"], name
        assert audit_row(name).outcome == "DENIED"
    run.refresh_from_db()
    assert run.status == "REQUESTED"
    assert m.DisposalRun.objects.count() == 1


@pytest.mark.parametrize("role", [PM, m.Role.AUDITOR])
def test_program_managers_and_auditors_read_the_runs(gql_as, role):
    jones, _ = program_managers()
    disposal.request_disposal(by=jones)
    assert gql_as(role)(RUNS)["data"]["disposalRuns"]["totalCount"] == 1


@pytest.mark.parametrize("role", [m.Role.ANALYST, m.Role.SYSTEM_ADMINISTRATOR])
def test_other_roles_may_not_read_the_runs(gql_as, role):
    answer = gql_as(role)(RUNS)
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- manage.py dispose -----------------------------------------------------------------------


def dispose(*args: str) -> str:
    out = StringIO()
    call_command("dispose", *args, stdout=out)
    return out.getvalue()


def test_the_command_requests_approves_lists_and_cancels(clock):
    tip_family("CHARLIE")
    clock.forward(days=7301)
    program_managers()
    out = dispose("--request", "--user", "pm.jones", "--category", "TIPS", "--reason", "yearly")
    run = m.DisposalRun.objects.get()
    assert f"disposal run {run.pk} requested: {run.items_total} rows due" in out
    assert f"manage.py dispose --approve {run.pk}" in out
    with pytest.raises(CommandError, match=r"INVALID_TRANSITION: .*another program manager"):
        dispose("--approve", str(run.pk), "--user", "pm.jones")
    assert f"disposal run {run.pk} approved" in dispose(
        "--approve", str(run.pk), "--user", "pm.smith"
    )
    assert f"{run.pk} APPROVED" in dispose("--list", "--user", "pm.jones")
    with pytest.raises(CommandError, match="INVALID_INPUT: the reason"):
        dispose("--cancel", str(run.pk), "--user", "pm.jones")
    assert "cancelled" in dispose("--cancel", str(run.pk), "--user", "pm.jones", "--reason", "no")
    # every step is audited as the program manager's
    steps = [
        (e.operation_name, e.outcome, e.username)
        for e in AuditEvent.objects.filter(operation_name__startswith="dispose --").order_by("seq")
    ]
    assert steps == [
        ("dispose --request", "ALLOWED", "pm.jones"),
        ("dispose --approve", "INVALID", "pm.jones"),
        ("dispose --approve", "ALLOWED", "pm.smith"),
        ("dispose --list", "ALLOWED", "pm.jones"),
        ("dispose --cancel", "INVALID", "pm.jones"),
        ("dispose --cancel", "ALLOWED", "pm.jones"),
    ]


@pytest.mark.parametrize("role", OTHERS_THAN_PM)
def test_the_command_refuses_every_other_role(role):
    UserFactory(username="someone", role=role)
    for args in (["--request"], ["--approve", "1"], ["--run", "1"], ["--cancel", "1"]):
        with pytest.raises(CommandError, match=r"refused for someone: .*\(FORBIDDEN\)"):
            dispose(*args, "--user", "someone", "--reason", "r")
    assert not m.DisposalRun.objects.exists()
    outcomes = {
        e.outcome for e in AuditEvent.objects.filter(operation_name__startswith="dispose --")
    }
    assert outcomes == {"DENIED"}


def test_the_help_explains_every_step():
    from backend.management.commands.dispose import Command

    text = Command().create_parser("manage.py", "dispose").format_help()
    for option in ("--dry-run", "--request", "--approve", "--run", "--cancel", "--list"):
        assert option in text
    assert "manage.py dispose --approve 12 --user pm.smith" in text
