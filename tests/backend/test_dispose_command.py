"""``manage.py dispose --dry-run``: the disposal preview on the command line, for program
managers the one gate lets act, every run audited."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from backend import models as m
from backend.management.commands.dispose import OPERATION, Command
from backend.retention import Category
from tests.factories import TipFactory, UserFactory
from tests.permissions.refusals import PROBLEMS, refused_account

pytestmark = pytest.mark.django_db

FAR = "2100-01-01"


def dispose(*args: str) -> str:
    out = StringIO()
    call_command("dispose", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def manager() -> m.User:
    return UserFactory(username="pm.jones", role=m.Role.PROGRAM_MANAGER)


def audit_rows() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(operation_name=OPERATION).order_by("seq"))


def test_help_names_every_category_and_gives_examples():
    text = Command().create_parser("manage.py", "dispose").format_help()
    for category in Category:
        assert category.value in text
    assert "--dry-run" in text and "--as-of" in text and "manage.py dispose --dry-run" in text


def test_a_program_manager_gets_a_table_by_category(manager):
    # given a held tip and a tip due, far ahead
    held = TipFactory()
    m.LegalHold.objects.create(tip=held, reason="r", reference="CASE-1", placed_by=manager)
    TipFactory()
    # when the preview runs for a program manager
    out = dispose("--dry-run", "--user", "pm.jones", "--as-of", FAR)
    # then one line per category: period, due, held, oldest clock start
    lines = out.splitlines()
    assert lines[0].startswith("Disposal preview as of 2100-01-01 00:00 UTC")
    assert lines[1].split() == ["category", "period", "due", "held", "oldest", "clock", "start"]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert set(rows) == {c.value for c in Category}
    assert rows["TIPS"][1:4] == ["7300d", "1", "1"]
    assert rows["LEADS"][1:5] == ["9125d", "0", "0", "-"]
    # and the run is audited as the program manager's
    (row,) = audit_rows()
    assert (row.username, row.role, row.outcome, row.kind) == (
        "pm.jones",
        "PROGRAM_MANAGER",
        "ALLOWED",
        "ADMIN",
    )
    assert row.variables["asOf"].startswith("2100-01-01T00:00:00")


def test_a_category_filter_and_the_details(manager):
    out = dispose(
        "--dry-run", "--user", "pm.jones", "--category", "LOOKUPS_WITHOUT_HITS", "-v", "2"
    )
    table = [line.split()[0] for line in out.splitlines()[3:] if line and not line[0].isspace()]
    assert table[0] == "LOOKUPS_WITHOUT_HITS"
    assert "TIPS" not in table
    assert "Due 90 days after the lookup" in out
    assert "traveller lookups (backend.TravellerLookup)" in out
    assert audit_rows()[0].variables["categories"] == ["LOOKUPS_WITHOUT_HITS"]


@pytest.mark.parametrize(
    "role", [m.Role.ANALYST, m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR, m.Role.INVESTIGATOR]
)
def test_other_roles_are_refused_and_the_refusal_audited(role):
    # given an account of another role
    UserFactory(username="someone", role=role)
    # when it asks for the preview, then it is refused with the gate's code
    with pytest.raises(CommandError, match=r"refused for someone: .*\(FORBIDDEN\)"):
        dispose("--dry-run", "--user", "someone")
    # and the refusal is audited
    (row,) = audit_rows()
    assert (row.outcome, row.error_codes) == ("DENIED", ["FORBIDDEN"])


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_a_program_manager_who_may_not_act_is_refused_with_the_reason(problem):
    # given a program manager whose training lapsed, not approved, or locked out
    user, spec, _ = refused_account(problem, m.Role.PROGRAM_MANAGER, browser=False)
    # when the preview runs for them, then the one gate refuses with its code and reason
    with pytest.raises(CommandError) as refused:
        dispose("--dry-run", "--user", user.username)
    assert spec.code in str(refused.value)
    assert spec.reason in str(refused.value)
    # and the refusal is audited
    (row,) = audit_rows()
    assert (row.outcome, row.error_codes[0]) == ("DENIED", spec.code)


def test_a_deactivated_program_manager_is_refused():
    UserFactory(username="left", role=m.Role.PROGRAM_MANAGER, is_active=False)
    with pytest.raises(CommandError, match="ACCOUNT_DEACTIVATED"):
        dispose("--dry-run", "--user", "left")


def test_without_a_mode_nothing_runs(manager):
    with pytest.raises(CommandError, match="say what to do: one of --dry-run, --request"):
        dispose("--user", "pm.jones")
    with pytest.raises(CommandError, match="say what to do"):
        dispose("--user", "pm.jones", "--dry-run", "--request")
    assert audit_rows() == []


def test_an_unknown_user_and_a_bad_date_are_refused(manager):
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        dispose("--dry-run", "--user", "nobody")
    with pytest.raises(CommandError, match="expected an ISO 8601 date"):
        dispose("--dry-run", "--user", "pm.jones", "--as-of", "next year")


def test_a_moment_too_early_for_the_periods_is_refused(manager):
    with pytest.raises(CommandError, match="INVALID_INPUT: asOf 0001-01-02 is too early"):
        dispose("--dry-run", "--user", "pm.jones", "--as-of", "0001-01-02")
    assert [(r.outcome, r.error_codes) for r in audit_rows()] == [("INVALID", ["INVALID_INPUT"])]
