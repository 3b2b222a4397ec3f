"""The one gate, ``permissions.gate.check_access``: signed in, active, not locked out, approved,
trained, and of a role the door admits; every reason at once, most fundamental first."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory

from audit.models import AuditEvent
from audit.operations import DENIED_CODES
from backend.models import Role
from permissions.authentication import AuthenticationFailed
from permissions.gate import (
    ADMIN_SITE,
    AUDIT_EXPORT,
    DASHBOARD,
    GRAPHQL,
    REFUSAL_CODES,
    AccessRefused,
    Door,
    check_access,
    check_request,
    require_access,
    role_allows,
)
from permissions.matrix import OPERATIONS
from tests.conftest import make_gql
from tests.factories import UserFactory
from tests.permissions.refusals import lock_out

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def trained(**fields):
    return UserFactory(**{"annual_training_at": NOW - dt.timedelta(days=100), **fields})


def test_an_account_that_may_act_is_allowed_at_its_doors():
    analyst = trained(role=Role.ANALYST)
    for door in (GRAPHQL, DASHBOARD):
        decision = check_access(analyst, door, now=NOW)
        assert (decision.allowed, decision.problems, decision.status) == (True, (), 200)


def test_nobody_signed_in_is_unauthenticated_and_nothing_else():
    decision = check_access(AnonymousUser(), AUDIT_EXPORT, now=NOW)
    assert decision.codes == ["UNAUTHENTICATED"]
    assert (decision.status, decision.account) == (401, False)
    assert decision.extensions == {"code": "UNAUTHENTICATED"}


def test_every_reason_at_once_most_fundamental_first():
    # given a deactivated, locked-out auditor without final approval whose training lapsed
    user = trained(
        role=Role.AUDITOR,
        is_active=False,
        approved_at=None,
        annual_training_at=NOW - dt.timedelta(days=400),
    )
    lock_out(user.username)
    # when it asks for the dashboard (not an auditor's door)
    decision = check_access(user, DASHBOARD, now=NOW)
    # then every problem is listed, in order, and the first is the code
    assert decision.codes == [
        "ACCOUNT_DEACTIVATED",
        "LOCKED_OUT",
        "ACCESS_NOT_APPROVED",
        "TRAINING_LAPSED",
        "FORBIDDEN",
    ]
    assert (decision.code, decision.status) == ("ACCOUNT_DEACTIVATED", 403)
    assert decision.reasons[-1] == "your role (Auditor) does not give access to the tip graph"
    assert decision.message.startswith("Your account cannot act: the account has been deactivated;")
    assert decision.extensions == {"code": "ACCOUNT_DEACTIVATED", "problems": decision.codes}


def test_the_role_alone_refuses_with_forbidden():
    decision = check_access(trained(role=Role.ANALYST), AUDIT_EXPORT, now=NOW)
    assert decision.codes == ["FORBIDDEN"]
    assert decision.message == (
        "Refused: your role (Analyst) does not give access to the audit log export."
    )


def test_a_lockout_refuses_only_the_locked_username():
    # given alice locked out and bob not
    alice, bob = trained(username="alice"), trained(username="bob")
    lock_out("alice")
    # then only alice is refused
    assert check_access(alice, GRAPHQL, now=NOW).codes == ["LOCKED_OUT"]
    assert check_access(bob, GRAPHQL, now=NOW).allowed


def test_door_roles_come_from_the_matrix():
    assert AUDIT_EXPORT.roles == OPERATIONS["Query.auditEvents"]
    assert DASHBOARD.roles == OPERATIONS["Query.tips"]
    assert ADMIN_SITE.roles == {Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER}


@pytest.mark.parametrize("role", list(Role))
def test_role_allows_follows_the_door(role):
    door = Door("test", "the test door", frozenset({Role.AUDITOR}))
    user = trained(role=role)
    assert role_allows(user, door.roles) is (role == Role.AUDITOR)
    assert check_access(user, door, now=NOW).allowed is (role == Role.AUDITOR)


def test_a_refused_bearer_token_is_the_refusal():
    # given a request whose bearer token expired (the authentication middleware's verdict)
    request = RequestFactory().get("/audit/export.csv")
    request.user = AnonymousUser()
    request.auth_error = AuthenticationFailed("API token has expired", code="TOKEN_EXPIRED")
    # then the gate refuses with the token's own code and message
    decision = check_request(request, AUDIT_EXPORT)
    assert (decision.codes, decision.message, decision.status) == (
        ["TOKEN_EXPIRED"],
        "API token has expired",
        401,
    )


def test_require_access_raises_with_every_reason():
    user = trained(approved_at=None)
    with pytest.raises(AccessRefused) as refused:
        require_access(user, GRAPHQL, now=NOW)
    assert refused.value.decision.codes == ["ACCESS_NOT_APPROVED"]
    assert "ACCESS_NOT_APPROVED" in str(refused.value)
    require_access(trained(username="fine"), GRAPHQL, now=NOW)  # no exception


def test_every_refusal_of_the_gate_is_audited_as_a_denial():
    assert REFUSAL_CODES <= DENIED_CODES


def test_a_session_of_a_locked_out_username_is_refused_in_graphql():
    # given alice signed in, then locked out by someone guessing her password elsewhere
    alice = UserFactory(username="alice")
    browser = Client()
    browser.force_login(alice)
    lock_out("alice")
    # when her open session asks anything
    result = make_gql(browser)("query Mine { viewer { username } }")
    # then it is refused with LOCKED_OUT, and audited as a denial
    assert result["errors"][0]["extensions"] == {"code": "LOCKED_OUT", "problems": ["LOCKED_OUT"]}
    row = AuditEvent.objects.get(operation_name="Mine")
    assert (row.outcome, row.error_codes) == ("DENIED", ["LOCKED_OUT"])
