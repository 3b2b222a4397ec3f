"""The audit admin only lists and shows rows."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory

from audit.models import AuditEvent, RecordChange
from audit.writer import new_context, set_context
from backend.models import Role
from tests.audit.helpers import operation
from tests.factories import OfficeFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_admin() -> Client:
    """A system administrator who is also a Django superuser: every model permission."""
    client = Client()
    client.force_login(
        UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    )
    return client


@pytest.mark.parametrize("model", [AuditEvent, RecordChange], ids=lambda m: m.__name__)
def test_nobody_may_add_change_or_delete(model):
    # given the model's admin and a request of a superuser
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_superuser=True)
    # when its permissions are asked, then only viewing is allowed
    assert model_admin.has_view_permission(request) is True
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is False
    assert "delete_selected" not in model_admin.get_actions(request)


def test_event_list_and_detail_are_shown(superuser_admin):
    # given an audit row
    event = operation("FindTraveller", records_returned=["Subject:9"])
    # when the list, a search for a record and the detail page are opened
    listing = superuser_admin.get("/admin/audit/auditevent/")
    searched = superuser_admin.get("/admin/audit/auditevent/", {"q": "Subject:9"})
    missed = superuser_admin.get("/admin/audit/auditevent/", {"q": "Subject:10"})
    detail = superuser_admin.get(f"/admin/audit/auditevent/{event.pk}/change/")
    # then they show it, read-only
    assert listing.status_code == searched.status_code == detail.status_code == 200
    assert "FindTraveller" in listing.text
    assert "FindTraveller" in searched.text
    assert "FindTraveller" not in missed.text
    assert event.row_hash in detail.text
    assert 'name="_save"' not in detail.text


def test_record_change_search_by_context(superuser_admin):
    # given a record change under a context
    context_id = new_context()
    set_context(context_id)
    office = OfficeFactory(name="Harbour Office")
    set_context(None)
    OfficeFactory(name="Other Office")
    # when the record changes are searched by the context id
    found = superuser_admin.get("/admin/audit/recordchange/", {"q": str(context_id)})
    # then only that change is listed
    assert found.status_code == 200
    assert found.context["cl"].result_count == 1
    assert found.context["cl"].result_list[0].row_id == str(office.pk)


def test_add_and_delete_pages_are_refused(superuser_admin):
    # given an audit row and a record change
    event = operation()
    OfficeFactory()
    change = RecordChange.objects.get(table_name="backend_office")
    # when the add pages and the delete pages are opened, then all are forbidden
    for path in (
        "/admin/audit/auditevent/add/",
        "/admin/audit/recordchange/add/",
        f"/admin/audit/auditevent/{event.pk}/delete/",
        f"/admin/audit/recordchange/{change.pk}/delete/",
    ):
        assert superuser_admin.post(path).status_code == 403, path
