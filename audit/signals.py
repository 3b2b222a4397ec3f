"""Logins, logouts, failed logins and lockouts are audit rows too.

A LOGIN row names its session (``variables.session``, see ``audit.sessions.session_ref``);
every LOGOUT row gives its cause (``variables.cause``): ``signed out`` here, ``replaced``
when a sign-in replaces the signed-in session the request came with (its LOGOUT row comes
just before the new LOGIN row), and ``expired``, ``password changed`` or ``deactivated``
from ``audit.sessions``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.operations import client_address
from audit.sessions import SIGNED_OUT, session_ref, sign_in_replaced, write_logout
from audit.writer import write_event

__all__ = ["connect"]


def _request_fields(request: Any) -> dict[str, Any]:
    if request is None:
        return {"client_address": None, "user_agent": ""}
    return {
        "client_address": client_address(request),
        "user_agent": request.headers.get("User-Agent", "")[:1000],
    }


def _user_fields(user: Any) -> dict[str, Any]:
    if user is None:
        return {"user_id": None, "username": "", "role": ""}
    return {"user_id": user.pk, "username": user.get_username(), "role": getattr(user, "role", "")}


def _session_key(request: Any) -> str | None:
    session = getattr(request, "session", None)
    if session is None:
        return None
    if session.session_key is None:  # a sign-in into a flushed session: give it its key now
        session.save()
    return session.session_key


@receiver(user_logged_in, dispatch_uid="audit-login")
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    sign_in_replaced(request)
    write_event(
        kind="LOGIN",
        outcome="SUCCEEDED",
        auth_method="session",
        variables={"session": session_ref(_session_key(request))},
        **_user_fields(user),
        **_request_fields(request),
    )


@receiver(user_logged_out, dispatch_uid="audit-logout")
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    write_logout(
        cause=SIGNED_OUT,
        session_key=session.session_key if session is not None else None,
        request=request,
        **_user_fields(user),
    )
    if request is not None:
        request.session_at_arrival = None  # its end is this row


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    write_event(
        kind="LOGIN_FAILED",
        outcome="DENIED",
        auth_method="session",
        user_id=None,
        username=str(credentials.get("username", ""))[:150],
        role="",
        **_request_fields(request),
    )


def on_lockout(
    sender: Any, request: Any = None, username: str = "", ip_address: str = "", **kwargs: Any
) -> None:
    write_event(
        kind="LOCKOUT",
        outcome="DENIED",
        auth_method="session",
        user_id=None,
        username=str(username or "")[:150],
        role="",
        client_address=ip_address or (client_address(request) if request else None),
        user_agent=request.headers.get("User-Agent", "")[:1000] if request is not None else "",
    )


def connect() -> None:
    """Connect the lockout handler (django-axes' signal) when axes is installed."""
    try:
        from axes.signals import user_locked_out
    except ImportError:  # pragma: no cover - axes is a dependency
        return
    user_locked_out.connect(on_lockout, dispatch_uid="audit-lockout")
