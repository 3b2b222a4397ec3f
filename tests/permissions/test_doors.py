"""One gate, every door: GraphQL, the statistics CSV, the audit CSV export, the dashboard,
GraphiQL, the Django admin and the commands that act for an account all ask
``permissions.gate.check_access``. Each door is tested with an account whose training lapsed,
one without final approval and one locked out by django-axes: it is refused and says why
(status, codes and reasons); where the door audits, the refusal leaves its row. An account
that may act gets through (allowed), and one account's problem refuses no other (scoped)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from backend import models as m
from backend.intake.jobs import enqueue_job
from backend.models import ApiToken, Role
from permissions.matrix import OPERATIONS
from tests.audit.helpers import operation
from tests.conftest import make_gql
from tests.factories import SourceFactory, UserFactory
from tests.permissions.refusals import PROBLEMS, refused_account, signed_in

pytestmark = pytest.mark.django_db

ALL_PROBLEMS = sorted(PROBLEMS)
SA, PM = Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER
HTML = {"Accept": "text/html"}
PASSWORD = "correct horse battery staple"


# GraphQL


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_graphql_refuses_with_every_reason_and_audits_it(problem):
    # given an analyst that may not act (its session still open) and one that may
    user, spec, browser = refused_account(problem, Role.ANALYST)
    other = make_gql(signed_in(UserFactory(username="fine-analyst", role=Role.ANALYST)))
    # when the first asks anything
    result = make_gql(browser)("query Who { viewer { username } }")
    # then nothing ran, and the error gives the code, every problem and the reason
    assert result["data"] is None
    [error] = result["errors"]
    assert error["extensions"] == {"code": spec.code, "problems": [spec.code]}
    assert spec.reason in error["message"]
    # and its audit row is a denial with that code
    row = AuditEvent.objects.get(kind="OPERATION", operation_name="Who")
    assert (row.username, row.outcome, row.error_codes) == (user.username, "DENIED", [spec.code])
    # while the other analyst is answered
    assert other("{ viewer { username } }") == {"data": {"viewer": {"username": "fine-analyst"}}}


def test_graphql_fields_take_the_role_rule_from_the_gate(gql_as):
    # an auditor that may act passes the gate, then the matrix refuses it a graph field
    result = gql_as(Role.AUDITOR)("{ tips { totalCount } }")
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# The statistics CSV (through GraphQL)


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_statistics_csv_refuses_with_every_reason_and_audits_it(problem):
    # given an analyst (who may read statistics) that may not act
    user, spec, browser = refused_account(problem, Role.ANALYST)
    # when it downloads a statistic
    response = browser.get("/statistics/tipStatistics.csv", {"by": "CATEGORY"})
    # then it is refused with 403 and the reasons, as JSON
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": spec.code, "problems": [spec.code]}
    assert spec.reason in error["message"]
    # and the download's audit row is a denial
    row = AuditEvent.objects.get(operation_name="tipStatisticsCsv")
    assert (row.username, row.outcome, row.error_codes) == (user.username, "DENIED", [spec.code])
    # while another analyst downloads it
    fine = signed_in(UserFactory(username="fine", role=Role.ANALYST))
    assert fine.get("/statistics/tipStatistics.csv", {"by": "CATEGORY"}).status_code == 200


def test_statistics_csv_is_allowed_to_an_analyst_that_may_act():
    response = signed_in(UserFactory(role=Role.ANALYST)).get("/statistics/clusterSizes.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


# The audit CSV export


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_audit_export_refuses_with_every_reason_and_audits_it(problem):
    # given an auditor that may not act
    user, spec, browser = refused_account(problem, Role.AUDITOR)
    # when it exports the log
    response = browser.get("/audit/export.csv", {"kind": "LOGIN"})
    # then it is refused with 403, the code, every problem and the reason
    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["problems"]) == (spec.code, [spec.code])
    assert spec.reason in body["reasons"][0]
    assert spec.reason in body["error"]
    # and the refusal is audited with the same code
    row = AuditEvent.objects.get(operation_name="auditExportCsv")
    assert (row.username, row.outcome, row.error_codes) == (user.username, "DENIED", [spec.code])
    assert row.variables == {"kind": "LOGIN"}
    # while another auditor exports it
    fine = signed_in(UserFactory(username="fine", role=Role.AUDITOR))
    assert fine.get("/audit/export.csv", {"kind": "LOGIN"}).status_code == 200


@pytest.mark.parametrize("role", list(Role))
def test_audit_export_takes_its_roles_from_the_matrix(role):
    # given an account of the role that may act
    browser = signed_in(UserFactory(username=f"export-{role.lower()}", role=role))
    # when it exports the log
    response = browser.get("/audit/export.csv")
    # then the roles of the auditEvents query may, the others are refused by role
    if role in OPERATIONS["Query.auditEvents"]:
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv"
    else:
        assert response.status_code == 403
        assert response.json()["problems"] == ["FORBIDDEN"]


def test_audit_export_is_refused_to_anonymous_with_401():
    response = Client().get("/audit/export.csv")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    row = AuditEvent.objects.get(operation_name="auditExportCsv")
    assert (row.outcome, row.error_codes) == ("DENIED", ["UNAUTHENTICATED"])


# The dashboard


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_dashboard_refuses_with_every_reason(problem):
    # given an analyst (who may browse the graph) that may not act
    _, spec, browser = refused_account(problem, Role.ANALYST)
    # when it opens the dashboard
    response = browser.get("/dashboard/")
    # then the page refuses, with the reason and its code, and nothing of the graph
    assert response.status_code == 403
    page = response.content.decode()
    assert spec.reason in page
    assert f'data-code="{spec.code}"' in page
    assert "tip_graph.graphql" not in page
    # while another analyst gets the dashboard
    assert (
        signed_in(UserFactory(username="fine", role=Role.ANALYST)).get("/dashboard/").status_code
        == 200
    )


# GraphiQL


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_graphiql_refuses_with_every_reason(problem, settings):
    # given development mode and an analyst that may not act
    settings.DEBUG = True
    _, spec, browser = refused_account(problem, Role.ANALYST)
    # when it opens GraphiQL
    response = browser.get("/graphql", headers=HTML)
    # then the page refuses, with the reason and its code, and loads no GraphiQL
    assert response.status_code == 403
    page = response.content.decode()
    assert spec.reason in page
    assert f'data-code="{spec.code}"' in page
    assert "vendor/graphiql" not in page
    # while another analyst gets GraphiQL
    fine = signed_in(UserFactory(username="fine", role=Role.ANALYST)).get("/graphql", headers=HTML)
    assert fine.status_code == 200
    assert "vendor/graphiql" in fine.content.decode()


# The Django admin


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
@pytest.mark.parametrize(
    ("role", "path"),
    [
        (SA, "/admin/"),
        (SA, "/admin/audit/auditevent/"),
        (SA, "/admin/backend/user/"),
        (PM, "/admin/backend/user/"),
    ],
)
def test_admin_refuses_an_administrator_that_may_not_act(problem, role, path):
    # given an audit row, and an administrator that may not act
    operation("SecretOperation")
    _, spec, browser = refused_account(problem, role)
    # when it opens an admin page
    response = browser.get(path)
    # then the page refuses, says why, and shows nothing of the admin
    assert response.status_code == 403
    page = response.content.decode()
    assert spec.reason in page
    assert f'data-code="{spec.code}"' in page
    assert "SecretOperation" not in page
    assert "/admin/backend/user/" not in page
    # while an administrator of the same role that may act opens it
    assert signed_in(UserFactory(username="fine", role=role)).get(path).status_code == 200


def test_a_refused_admin_action_changes_nothing_and_is_audited():
    # given an account due for review, and a system administrator without final approval
    target = UserFactory(username="target", privileges_reviewed_at=None)
    user, _, browser = refused_account("unapproved", SA)
    # when it records a privilege review in the admin
    response = browser.post(
        "/admin/backend/user/",
        {"action": "record_privilege_review", "_selected_action": [target.pk]},
    )
    # then it is refused, nothing changed, and the admin request's audit row is a denial
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.privileges_reviewed_at is None
    row = AuditEvent.objects.get(kind="ADMIN")
    assert (row.username, row.outcome, row.records_changed) == (user.username, "DENIED", [])


@pytest.mark.parametrize("problem", ["lapsed", "unapproved"])
def test_the_admin_sign_in_tells_an_administrator_why_not(problem):
    # given a system administrator that may not act
    user, spec, _ = refused_account(problem, SA, browser=False)
    # when it signs in on the admin's form with the right password
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD}
    )
    # then it is not signed in, and the form says why
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    page = response.content.decode()
    assert spec.reason in page
    assert spec.code in page


def test_other_roles_are_still_sent_to_the_admin_sign_in():
    # an analyst that may act is refused by role: the sign-in form, as before
    response = signed_in(UserFactory(role=Role.ANALYST, is_staff=True)).get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


# Commands acting for an account


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_issue_token_refuses_an_account_that_may_not_act(problem):
    # given an account that may not act
    user, spec, _ = refused_account(problem, Role.ANALYST, browser=False)
    # when a token is issued for it
    with pytest.raises(CommandError) as refused:
        call_command("issue_token", user.username, stdout=StringIO())
    # then the command fails with the code and the reason, and no token exists
    assert spec.code in str(refused.value)
    assert spec.reason in str(refused.value)
    assert not ApiToken.objects.filter(user=user).exists()


def test_issue_token_refuses_a_deactivated_account():
    user = UserFactory(username="leaver", is_active=False)
    with pytest.raises(CommandError, match="ACCOUNT_DEACTIVATED"):
        call_command("issue_token", "leaver", stdout=StringIO())
    assert not ApiToken.objects.filter(user=user).exists()


def test_issue_token_for_an_account_that_may_act():
    # given an account that may act
    user = UserFactory(username="tool-owner")
    out = StringIO()
    # when a token is issued, then it exists and its secret works
    call_command("issue_token", "tool-owner", "--days", "5", stdout=out)
    raw = out.getvalue().splitlines()[-1]
    assert ApiToken.objects.filter(user=user).count() == 1
    result = make_gql(Client(), Authorization=f"Bearer {raw}")("{ viewer { username } }")
    assert result == {"data": {"viewer": {"username": "tool-owner"}}}


CSV = (
    "source_reference,received_at,category,narrative,email\n"
    "GATE-1,2024-05-01T09:00:00Z,DISTRIBUTION,first,gate@example.com\n"
)


def queue(by: m.User) -> m.ImportJob:
    return enqueue_job(
        file=ContentFile(CSV.encode(), name="tips.csv"),
        filename="tips.csv",
        format="csv",
        mode="ACCEPT_VALID",
        source=SourceFactory(),
        by=by,
    )


# The worker is procrastinate's, on connections of its own: it sees committed rows only.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_the_import_worker_fails_a_job_whose_uploader_may_no_longer_act(
    problem, settings, tmp_path
):
    # given a job queued by an analyst that may no longer act
    settings.MEDIA_ROOT = tmp_path
    user, spec, _ = refused_account(problem, Role.ANALYST, browser=False)
    job = queue(user)
    # when the worker runs
    out = StringIO()
    call_command("run_import_worker", "--once", stdout=out)
    # then the job failed with the code and the reason, and nothing was imported
    job.refresh_from_db()
    assert (job.status, job.error_code) == ("FAILED", spec.code)
    assert spec.reason in job.error_message
    assert f"{spec.code}: " in out.getvalue()
    assert not m.Tip.objects.exists()


# The worker is procrastinate's, on connections of its own: it sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_the_import_worker_runs_a_job_whose_uploader_may_act(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    job = queue(UserFactory(username="uploader", role=Role.ANALYST))
    call_command("run_import_worker", "--once", stdout=StringIO())
    job.refresh_from_db()
    assert (job.status, job.new_count) == ("SUCCEEDED", 1)
    assert m.Tip.objects.get().source_reference == "GATE-1"


def test_every_refusal_is_json_with_the_same_fields():
    # the JSON doors share one body: error, code, problems, reasons
    _, spec, browser = refused_account("lapsed", Role.AUDITOR)
    body = json.loads(browser.get("/audit/export.csv").content)
    assert sorted(body) == ["code", "error", "problems", "reasons"]
    assert body["error"] == f"Your account cannot act: {spec.reason}."
