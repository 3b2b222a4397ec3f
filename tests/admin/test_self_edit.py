"""Nobody grants themselves anything: on one's own account the role, the access-lifecycle dates
and approvals, the training and the access flags are read-only in the admin, and a save that
changes them anyway is refused; on another's account a system administrator records them,
the training with who recorded it, and the change is audited (the admin request's row, the
record's before and after, the admin history)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.forms import MultiWidget
from django.test import Client, RequestFactory
from django.utils import timezone

from audit.models import AuditEvent, RecordChange
from backend import models as m
from backend.models import Role
from permissions.admin_access import SELF_PROTECTED_FIELDS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/backend/user/"
SA = Role.SYSTEM_ADMINISTRATOR
#: The lifecycle fields a system administrator records by hand on another account.
RECORDED_BY_HAND = ("nominated_by", "nominated_at", "certified_at", "rules_accepted_at")


def sysadmin(**fields: Any) -> tuple[Client, m.User]:
    user = UserFactory(username="sysadmin", role=SA, **fields)
    client = Client()
    client.force_login(user)
    return client, user


def inputs(page: str, name: str) -> bool:
    """Whether the page has a form input for field ``name`` (date-times are split in two)."""
    return f'name="{name}"' in page or f'name="{name}_0"' in page


def form_data(client: Client, user: m.User) -> dict[str, Any]:
    """What the change form of ``user`` posts when submitted unchanged."""
    form = client.get(f"{USERS}{user.pk}/change/").context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or value is None:
            continue
        if isinstance(field.widget, MultiWidget):
            for n, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{n}"] = "" if part is None else part
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    return data


def test_own_account_shows_every_protected_field_read_only():
    # given a system administrator who is also a superuser, and another account
    client, me = sysadmin(is_superuser=True, is_staff=True)
    other = UserFactory(username="other")
    # when it opens its own change page and the other's
    own = client.get(f"{USERS}{me.pk}/change/").content.decode()
    others = client.get(f"{USERS}{other.pk}/change/").content.decode()
    # then none of its own protected fields can be edited
    assert [name for name in SELF_PROTECTED_FIELDS if inputs(own, name)] == []
    # while the other's role, lifecycle dates and training can
    for name in ("role", "agency", "is_active", "annual_training_at", *RECORDED_BY_HAND):
        assert inputs(others, name), name
    # and its own name and e-mail stay editable
    assert inputs(own, "email")


def test_own_training_is_not_changed_by_a_post():
    # given a system administrator whose training is on record
    client, me = sysadmin()
    trained_at = me.annual_training_at
    # when it submits its own change form with a new training date and a new first name
    data = form_data(client, me)
    data.update(
        {
            "first_name": "Changed",
            "annual_training_at_0": timezone.now().date().isoformat(),
            "annual_training_at_1": "09:00:00",
            "role": Role.PROGRAM_MANAGER,
        }
    )
    response = client.post(f"{USERS}{me.pk}/change/", data)
    # then the name is saved, the training date and role are not
    assert response.status_code == 302, response.content[:3000]
    me.refresh_from_db()
    assert me.first_name == "Changed"
    assert (me.annual_training_at, me.role, me.annual_training_recorded_by) == (
        trained_at,
        SA,
        None,
    )


@pytest.mark.parametrize("field", ["annual_training_at", "role", "approved_by", "certified_at"])
def test_a_forged_save_of_own_protected_fields_is_refused(field):
    # given the account admin and a system administrator's request about its own account
    model_admin = admin.site._registry[m.User]
    me = UserFactory(username="sysadmin", role=SA)
    request = RequestFactory().post(f"{USERS}{me.pk}/change/")
    request.user = me
    me.annual_training_at = timezone.now()
    # when a form claiming to change a protected field is saved
    form = SimpleNamespace(changed_data=[field, "first_name"])
    with pytest.raises(PermissionDenied, match=field):
        model_admin.save_model(request, me, form, change=True)
    # then nothing was written
    assert m.User.objects.get(pk=me.pk).annual_training_at != me.annual_training_at


def test_the_same_save_of_another_account_goes_through():
    # given a system administrator's request about another account
    model_admin = admin.site._registry[m.User]
    me, other = UserFactory(username="sysadmin", role=SA), UserFactory(username="other")
    request = RequestFactory().post(f"{USERS}{other.pk}/change/")
    request.user = me
    other.annual_training_at = timezone.now()
    # when its training is saved
    model_admin.save_model(
        request, other, SimpleNamespace(changed_data=["annual_training_at"]), True
    )
    # then it is written, with who recorded it
    stored = m.User.objects.get(pk=other.pk)
    assert (stored.annual_training_at, stored.annual_training_recorded_by) == (
        other.annual_training_at,
        me,
    )


def test_a_system_administrator_records_another_accounts_training_and_it_is_audited():
    # given another account whose training lapsed
    client, me = sysadmin()
    other = UserFactory(
        username="other", annual_training_at=timezone.now() - dt.timedelta(days=400)
    )
    before = other.annual_training_at
    # when the system administrator records today's training on the change form
    today = timezone.now().replace(microsecond=0)
    data = form_data(client, other)
    data.update(
        {
            "annual_training_at_0": today.date().isoformat(),
            "annual_training_at_1": today.time().isoformat(),
        }
    )
    response = client.post(f"{USERS}{other.pk}/change/", data)
    # then the training is saved with who recorded it
    assert response.status_code == 302, response.content[:3000]
    other.refresh_from_db()
    assert (other.annual_training_at, other.annual_training_recorded_by) == (today, me)
    # and the admin request's audit row names the account
    [row] = AuditEvent.objects.filter(kind="ADMIN")
    assert (row.username, row.outcome) == ("sysadmin", "ALLOWED")
    assert f"backend_user:{other.pk}" in row.records_changed
    # with the account's before and after tied to it
    [change] = RecordChange.objects.filter(
        table_name="backend_user", row_id=str(other.pk), operation="UPDATE"
    )
    assert change.context_id == row.context_id
    assert change.before["annual_training_recorded_by_id"] is None
    assert change.after["annual_training_recorded_by_id"] == me.pk
    assert change.before["annual_training_at"] != change.after["annual_training_at"]
    assert before.date().isoformat() in change.before["annual_training_at"]
    # and in the admin history
    entry = LogEntry.objects.get(object_id=str(other.pk))
    assert "Annual training at" in entry.get_change_message()


def test_who_recorded_the_training_is_never_edited_by_hand():
    client, _ = sysadmin()
    other = UserFactory(username="other")
    page = client.get(f"{USERS}{other.pk}/change/").content.decode()
    assert not inputs(page, "annual_training_recorded_by")
    assert "Annual training recorded by" in page


# API tokens


def test_a_token_can_be_revoked_but_not_extended():
    # given a system administrator's own token
    client, me = sysadmin()
    token, _ = m.ApiToken.issue(user=me, name="mine", days=5)
    page = client.get(f"/admin/backend/apitoken/{token.pk}/change/").content.decode()
    # then its expiry and account cannot be edited, its revocation can
    assert not inputs(page, "expires_at")
    assert not inputs(page, "user")
    assert inputs(page, "revoked_at")
    # when it is revoked
    now = timezone.now().replace(microsecond=0)
    response = client.post(
        f"/admin/backend/apitoken/{token.pk}/change/",
        {"revoked_at_0": now.date().isoformat(), "revoked_at_1": now.time().isoformat()},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at == now
    # then the revocation is final
    page = client.get(f"/admin/backend/apitoken/{token.pk}/change/").content.decode()
    assert not inputs(page, "revoked_at")
