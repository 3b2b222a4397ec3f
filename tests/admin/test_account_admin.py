"""Account management in the Django admin: open to system administrators and program
managers by role; lifecycle columns; the compliance review (system administrators), final
approval (program managers, after the compliance review), privilege review and deactivation
actions, never on one's own account."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from backend import models as m
from backend.models import Role
from tests.conftest import make_gql
from tests.factories import TipFactory, UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/backend/user/"
PASSWORD = "correct horse battery staple"
SA, PM = Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER


def admin_as(role: str, **fields) -> tuple[Client, m.User]:
    user = UserFactory(username=f"admin-{role.lower()}", role=role, **fields)
    client = Client()
    client.force_login(user)
    return client, user


def act(client: Client, action: str, *users: m.User) -> list[str]:
    """Run an admin action on ``users``; the messages shown afterwards."""
    response = client.post(
        USERS, {"action": action, "_selected_action": [u.pk for u in users]}, follow=True
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def pending(username: str, **fields) -> m.User:
    """An account nominated and certified, waiting for compliance review and approval."""
    return UserFactory(
        **{
            "username": username,
            "compliance_reviewed_at": None,
            "approved_at": None,
            **fields,
        }
    )


# Who may open the admin


@pytest.mark.parametrize("role", [SA, PM])
def test_administrators_and_program_managers_open_the_account_list(role):
    client, _ = admin_as(role)
    assert client.get("/admin/").status_code == 200
    assert client.get(USERS).status_code == 200


@pytest.mark.parametrize(
    "role", [Role.ANALYST, Role.INVESTIGATOR, Role.AUDITOR, Role.REPORTING_CLIENT]
)
def test_other_roles_are_refused_even_as_staff_or_superuser(role):
    client, _ = admin_as(role, is_staff=True, is_superuser=True)
    response = client.get(USERS)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={USERS}"


def test_a_deactivated_administrator_is_refused():
    client, user = admin_as(SA)
    m.User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(USERS).status_code == 302


@pytest.mark.parametrize(
    ("role", "is_staff", "signed_in"),
    [(SA, False, True), (PM, False, True), (Role.ANALYST, True, False)],
)
def test_the_admin_sign_in_form_goes_by_role(role, is_staff, signed_in):
    # given an account of that role, staff or not
    UserFactory(username="someone", role=role, is_staff=is_staff)
    client = Client()
    # when it signs in on the admin's form
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "someone", "password": PASSWORD}
    )
    # then the role decides
    assert ("_auth_user_id" in client.session) is signed_in
    assert response.status_code == (302 if signed_in else 200)


def test_the_graph_admin_is_for_superusers_only():
    TipFactory()
    client, _ = admin_as(SA)
    assert client.get("/admin/backend/tip/").status_code == 403
    superuser, _ = admin_as(PM, is_superuser=True)
    assert superuser.get("/admin/backend/tip/").status_code == 200


# What the list shows


def test_the_account_list_shows_the_lifecycle_state():
    # given an account that may act and one waiting for compliance review
    ready = UserFactory(username="ready", annual_training_at=timezone.now())
    pending("waiting")
    client, _ = admin_as(SA)
    # when the account list is shown
    response = client.get(USERS)
    admin = response.context["cl"].model_admin
    # then each row says whether the account can act, and if not, why
    rows = {u.username: admin.access(u) for u in response.context["cl"].result_list}
    assert rows["ready"] == "Can act"
    assert rows["waiting"] == (
        "Cannot act: a system administrator has not reviewed compliance; "
        "the program manager has not given final approval"
    )
    # and when the training runs out
    expected = (ready.annual_training_at + timezone.timedelta(days=365)).date().isoformat()
    assert admin.training_until(ready) == expected
    content = response.content.decode()
    for heading in ("Access", "Training until", "Privileges reviewed at", "Last activity at"):
        assert heading in content


def test_the_lifecycle_filter_finds_accounts_awaiting_approval():
    pending("needs-review")
    pending("needs-approval", compliance_reviewed_at=timezone.now())
    client, _ = admin_as(PM)
    response = client.get(USERS, {"lifecycle": "approval"})
    assert [u.username for u in response.context["cl"].result_list] == ["needs-approval"]


# Record compliance review


def test_a_system_administrator_records_the_compliance_review():
    # given two accounts waiting for compliance review
    first, second = pending("first"), pending("second")
    client, sysadmin = admin_as(SA)
    # when the system administrator records their review
    messages = act(client, "record_compliance_review", first, second)
    # then both carry the date and the reviewer, and the admin history says so
    assert messages == ["Recorded the compliance review of: first, second."]
    for user in (first, second):
        user.refresh_from_db()
        assert user.compliance_reviewed_by == sysadmin
        assert user.compliance_reviewed_at is not None
        assert LogEntry.objects.get(object_id=str(user.pk)).get_change_message() == (
            "Recorded the compliance review of this account."
        )


def test_a_program_manager_cannot_record_the_compliance_review():
    user = pending("waiting")
    client, _ = admin_as(PM)
    assert act(client, "record_compliance_review", user) == ["No action selected."]
    user.refresh_from_db()
    assert user.compliance_reviewed_at is None


def test_no_one_reviews_their_own_compliance():
    # given a system administrator (one whose own compliance review is missing cannot open
    # the admin at all: tests/permissions/test_doors.py)
    client, sysadmin = admin_as(SA, compliance_reviewed_by=None)
    before = sysadmin.compliance_reviewed_at
    # when it records the compliance review of its own account
    messages = act(client, "record_compliance_review", sysadmin)
    # then it is refused, and nothing changed
    assert messages == ["Not done for: admin-system_administrator (it is your own account)."]
    sysadmin.refresh_from_db()
    assert (sysadmin.compliance_reviewed_at, sysadmin.compliance_reviewed_by) == (before, None)


# Give final approval


def test_a_program_manager_approves_only_after_the_compliance_review():
    # given one account whose compliance was reviewed and one whose was not
    reviewed = pending("reviewed", compliance_reviewed_at=timezone.now())
    unreviewed = pending("unreviewed")
    client, manager = admin_as(PM)
    # when the program manager approves both
    messages = act(client, "give_final_approval", reviewed, unreviewed)
    # then only the reviewed one is approved, and the caller is told why not the other
    assert messages == [
        "Gave final approval to: reviewed.",
        "Not done for: unreviewed (its compliance has not been reviewed yet).",
    ]
    reviewed.refresh_from_db()
    unreviewed.refresh_from_db()
    assert reviewed.approved_by == manager
    assert reviewed.approved_at is not None
    assert (unreviewed.approved_at, unreviewed.approved_by) == (None, None)


def test_a_system_administrator_cannot_give_final_approval():
    user = pending("reviewed", compliance_reviewed_at=timezone.now())
    client, _ = admin_as(SA)
    assert act(client, "give_final_approval", user) == ["No action selected."]
    user.refresh_from_db()
    assert user.approved_at is None


def test_the_approved_account_may_act():
    # given an account reviewed by a system administrator and approved by the program manager
    user = pending("newcomer")
    act(admin_as(SA)[0], "record_compliance_review", user)
    act(admin_as(PM)[0], "give_final_approval", user)
    # when it signs in and asks something
    client = Client()
    client.force_login(user)
    result = make_gql(client)("{ viewer { username } }")
    # then it is answered
    assert result == {"data": {"viewer": {"username": "newcomer"}}}


# Record privilege review and deactivate


@pytest.mark.parametrize("role", [SA, PM])
def test_reviewers_record_a_privilege_review(role):
    user = UserFactory(username="reviewed", privileges_reviewed_at=None)
    client, _ = admin_as(role)
    before = timezone.now()
    assert act(client, "record_privilege_review", user) == [
        "Recorded the privilege review of: reviewed."
    ]
    user.refresh_from_db()
    assert before <= user.privileges_reviewed_at <= timezone.now()


@pytest.mark.parametrize("role", [SA, PM])
def test_reviewers_deactivate_an_account_which_then_cannot_act(role):
    # given an analyst signed in
    user = UserFactory(username="leaver")
    analyst = Client()
    analyst.force_login(user)
    client, _ = admin_as(role)
    # when a reviewer deactivates the account
    assert act(client, "deactivate", user) == ["Deactivated: leaver."]
    # then it is inactive and its session no longer answers
    user.refresh_from_db()
    assert user.is_active is False
    result = make_gql(analyst)("{ viewer { username } }")
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_no_one_deactivates_their_own_account():
    client, manager = admin_as(PM)
    inactive = UserFactory(username="inactive", is_active=False)
    assert act(client, "deactivate", manager, inactive) == [
        "Not done for: admin-program_manager (it is your own account); "
        "inactive (it is already inactive)."
    ]
    manager.refresh_from_db()
    assert manager.is_active is True


# Editing accounts


def test_a_system_administrator_edits_accounts_but_not_privileges_or_own_role():
    other = UserFactory(username="other")
    client, sysadmin = admin_as(SA)
    other_page = client.get(f"{USERS}{other.pk}/change/").content.decode()
    own_page = client.get(f"{USERS}{sysadmin.pk}/change/").content.decode()
    # the role of another account is editable; superuser status and approvals are not
    assert 'name="role"' in other_page
    assert 'name="is_superuser"' not in other_page
    assert 'name="approved_at"' not in other_page
    assert 'name="compliance_reviewed_at_0"' not in other_page
    # and the own role is not
    assert 'name="role"' not in own_page


def test_a_program_manager_views_accounts_but_does_not_edit_them():
    other = UserFactory(username="other", agency="CBP")
    client, _ = admin_as(PM)
    assert client.get(f"{USERS}{other.pk}/change/").status_code == 200
    response = client.post(f"{USERS}{other.pk}/change/", {"agency": "changed"})
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.agency == "CBP"


def test_a_system_administrator_adds_an_account_that_cannot_act_until_approved():
    # when a system administrator adds an investigator account
    client, _ = admin_as(SA)
    response = client.post(
        f"{USERS}add/",
        {
            "username": "newbie",
            "usable_password": "true",
            "password1": "a long enough passphrase 1",
            "password2": "a long enough passphrase 1",
            "role": "INVESTIGATOR",
            "agency": "CBP",
            "office": "",
        },
    )
    # then the account exists with that role, and may not act until every step is done
    assert response.status_code == 302
    user = m.User.objects.get(username="newbie")
    assert (user.role, user.agency) == ("INVESTIGATOR", "CBP")
    signed_in = Client()
    signed_in.force_login(user)
    result = make_gql(signed_in)("{ viewer { username } }")
    assert result["errors"][0]["extensions"]["code"] == "ACCESS_NOT_APPROVED"


def test_a_program_manager_cannot_add_accounts():
    client, _ = admin_as(PM)
    assert client.get(f"{USERS}add/").status_code == 403
