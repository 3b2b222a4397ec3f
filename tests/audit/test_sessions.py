"""Sessions end in the log: every signed-in session that ends leaves a LOGOUT row with its cause
(signed out, replaced, expired, deactivated, password changed) and the session it ends, the one
its LOGIN row named; expired sessions are logged when a browser comes back with one, and by
``end_expired_sessions``."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from audit.sessions import session_ref
from audit.verify import verify_chain
from backend.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def sign_in(client: Client, username: str) -> None:
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def sessions_log() -> list[tuple[str, str, str | None]]:
    """(kind, username, cause) of every LOGIN and LOGOUT row, in order."""
    rows = AuditEvent.objects.filter(kind__in=["LOGIN", "LOGOUT"]).order_by("seq")
    return [(row.kind, row.username, row.variables.get("cause")) for row in rows]


def session_of(kind: str, username: str) -> str:
    row = AuditEvent.objects.filter(kind=kind, username=username).latest("seq")
    return row.variables["session"]


def expire(client: Client) -> str:
    """Make the browser's session expire a minute ago; returns its key."""
    key = client.cookies["sessionid"].value
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(minutes=1))
    return key


def viewer(client: Client) -> dict:
    response = client.post(
        "/graphql", json.dumps({"query": "{ viewer { username } }"}), "application/json"
    )
    return response.json()


def test_signing_out_ends_the_session_it_started():
    # given carol signed in through the form
    UserFactory(username="carol")
    browser = Client()
    sign_in(browser, "carol")
    key = browser.cookies["sessionid"].value
    # when she signs out
    browser.post("/accounts/logout/")
    # then the LOGOUT row says so, and names the session the LOGIN row named
    assert sessions_log() == [("LOGIN", "carol", None), ("LOGOUT", "carol", "signed out")]
    assert session_of("LOGIN", "carol") == session_of("LOGOUT", "carol") == session_ref(key)
    assert len(session_ref(key)) == 16 and key not in json.dumps(
        list(AuditEvent.objects.values_list("variables", flat=True))
    )


def test_a_sign_in_as_another_account_replaces_the_session():
    # given carol signed in
    UserFactory(username="carol")
    UserFactory(username="dave", role=Role.PROGRAM_MANAGER)
    browser = Client()
    sign_in(browser, "carol")
    carol_session = browser.cookies["sessionid"].value
    # when dave signs in in the same browser
    sign_in(browser, "dave")
    # then carol's session ended, replaced, before dave's began
    assert sessions_log() == [
        ("LOGIN", "carol", None),
        ("LOGOUT", "carol", "replaced"),
        ("LOGIN", "dave", None),
    ]
    assert session_of("LOGOUT", "carol") == session_ref(carol_session)
    assert not Session.objects.filter(pk=carol_session).exists()
    assert viewer(browser) == {"data": {"viewer": {"username": "dave"}}}


def test_signing_in_again_replaces_ones_own_session():
    UserFactory(username="carol")
    browser = Client()
    sign_in(browser, "carol")
    sign_in(browser, "carol")
    assert sessions_log() == [
        ("LOGIN", "carol", None),
        ("LOGOUT", "carol", "replaced"),
        ("LOGIN", "carol", None),
    ]


def test_a_sign_in_from_a_fresh_browser_replaces_nothing():
    # given carol signed in in one browser (sessions elsewhere are not ended)
    UserFactory(username="carol")
    first, second = Client(), Client()
    sign_in(first, "carol")
    # when she signs in in another
    sign_in(second, "carol")
    # then no session ended, and both answer
    assert sessions_log() == [("LOGIN", "carol", None), ("LOGIN", "carol", None)]
    assert viewer(first) == viewer(second) == {"data": {"viewer": {"username": "carol"}}}


def test_a_browser_coming_back_with_an_expired_session_logs_its_end_once():
    # given carol's session expired a minute ago
    UserFactory(username="carol", role=Role.ANALYST)
    browser = Client(REMOTE_ADDR="192.0.2.44")
    sign_in(browser, "carol")
    key = expire(browser)
    # when her browser asks something with it
    answer = viewer(browser)
    # then she is not signed in, and the session's end is logged as expired
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert sessions_log() == [("LOGIN", "carol", None), ("LOGOUT", "carol", "expired")]
    row = AuditEvent.objects.get(kind="LOGOUT")
    assert (row.user_id, row.role, row.client_address) == (
        AuditEvent.objects.get(kind="LOGIN").user_id,
        "ANALYST",
        "192.0.2.44",
    )
    assert row.variables["session"] == session_ref(key)
    assert row.variables["expired_at"]
    # and the expired session is gone, so a second request logs nothing more
    assert not Session.objects.filter(pk=key).exists()
    viewer(browser)
    assert AuditEvent.objects.filter(kind="LOGOUT").count() == 1


def test_a_session_of_a_deactivated_account_ends_on_its_next_request():
    # given carol signed in, then deactivated by an administrator
    carol = UserFactory(username="carol", role=Role.ANALYST)
    browser = Client()
    sign_in(browser, "carol")
    key = browser.cookies["sessionid"].value
    type(carol).objects.filter(pk=carol.pk).update(is_active=False)
    # when her browser asks something
    answer = viewer(browser)
    # then she is refused, her session ends as deactivated, and is gone
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert sessions_log() == [("LOGIN", "carol", None), ("LOGOUT", "carol", "deactivated")]
    assert session_of("LOGOUT", "carol") == session_ref(key)
    assert not Session.objects.filter(pk=key).exists()
    viewer(browser)
    assert AuditEvent.objects.filter(kind="LOGOUT").count() == 1


def test_a_session_refused_after_a_password_change_ends_with_that_cause():
    # given carol signed in, then her password changed (elsewhere)
    carol = UserFactory(username="carol", role=Role.ANALYST)
    browser = Client()
    sign_in(browser, "carol")
    carol.set_password("a brand new passphrase 2")
    carol.save()
    # when her old session asks something, then it ends as "password changed"
    assert viewer(browser)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert sessions_log() == [
        ("LOGIN", "carol", None),
        ("LOGOUT", "carol", "password changed"),
    ]
    viewer(browser)
    assert AuditEvent.objects.filter(kind="LOGOUT").count() == 1


def test_a_live_session_is_left_alone():
    UserFactory(username="carol")
    browser = Client()
    sign_in(browser, "carol")
    assert viewer(browser) == {"data": {"viewer": {"username": "carol"}}}
    assert not AuditEvent.objects.filter(kind="LOGOUT").exists()


def test_an_expired_session_nobody_signed_in_with_leaves_no_row():
    # given an anonymous session (the sign-in page after a failure keeps none, so make one)
    browser = Client()
    session = browser.session
    session["note"] = "anonymous"
    session.save()
    browser.cookies["sessionid"] = session.session_key
    expire(browser)
    # when the browser comes back
    browser.get("/accounts/login/")
    # then no session end is logged
    assert not AuditEvent.objects.filter(kind="LOGOUT").exists()


def test_end_expired_sessions_logs_every_signed_in_session_it_removes():
    # given two expired signed-in sessions, one live one, and one expired anonymous one
    for name in ("erin", "frank", "grace"):
        UserFactory(username=name)
    expired = []
    for name in ("erin", "frank"):
        browser = Client()
        browser.force_login(UserFactory(username=name))
        expired.append(expire(browser))
    live = Client()
    live.force_login(UserFactory(username="grace"))
    anonymous = Client()
    session = anonymous.session
    session["note"] = "anonymous"
    session.save()
    anonymous.cookies["sessionid"] = session.session_key
    expire(anonymous)
    # when the cleanup runs
    out = StringIO()
    call_command("end_expired_sessions", stdout=out)
    # then each signed-in expired session has its LOGOUT row, and every expired one is gone
    rows = AuditEvent.objects.filter(kind="LOGOUT").order_by("username")
    assert [(r.username, r.variables["cause"], r.variables["session"]) for r in rows] == [
        ("erin", "expired", session_ref(expired[0])),
        ("frank", "expired", session_ref(expired[1])),
    ]
    assert "Removed 3 expired session(s); logged the end of 2 signed-in one(s)." in out.getvalue()
    assert Session.objects.count() == 1
    assert Session.objects.get().get_decoded()["_auth_user_id"] == str(
        UserFactory(username="grace").pk
    )
    # and a second run finds nothing, and the audit chain still verifies
    call_command("end_expired_sessions", stdout=StringIO())
    assert AuditEvent.objects.filter(kind="LOGOUT").count() == 2
    assert verify_chain().ok


def test_the_admin_event_list_shows_why_a_session_ended():
    # given a signed-out session
    UserFactory(username="carol")
    browser = Client()
    sign_in(browser, "carol")
    browser.post("/accounts/logout/")
    # when a system administrator lists LOGOUT events
    admin = Client()
    admin.force_login(UserFactory(username="sysadmin", role=Role.SYSTEM_ADMINISTRATOR))
    response = admin.get("/admin/audit/auditevent/", {"kind__exact": "LOGOUT"})
    # then the cause is shown
    assert response.status_code == 200
    assert "signed out" in response.content.decode()
