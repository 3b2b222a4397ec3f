"""Sessions end in the audit log: every signed-in session that ends leaves a LOGOUT row with
its cause (``variables.cause``), however it ends.

- ``signed out``: the user signed out (``audit.signals.on_logout``);
- ``replaced``: a sign-in in the same browser replaced the signed-in session the request came
  with, whether as another account or the same one again (``audit.signals.on_login``, from
  what ``track_session`` noted when the request arrived);
- ``expired``: the session's time ran out (``SESSION_COOKIE_AGE``). Noticed when a request
  comes back with the expired session (``track_session``, around the authentication of every
  request without a bearer token), and by ``manage.py end_expired_sessions``, which removes
  every expired session and logs each signed-in one: run it (from cron) instead of Django's
  ``clearsessions``, which removes them silently;
- ``password changed``, ``deactivated``: authentication refused the session the browser came
  back with, because the account's password changed (Django then removes the session) or the
  account was deactivated or removed (the session is removed here).

Rows name the session by ``variables.session``, the first 16 hex digits of the SHA-256 of its
key (never the key itself), as the LOGIN row that started it does, so that each LOGOUT can be
matched to its LOGIN. Expired sessions are found in the session table, so this works with the
database-backed session engines (``db``, ``cached_db``); with others only sign-outs and
replacements are logged. Rows are written through ``audit.writer`` only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from audit.models import AuditEvent
from audit.writer import write_event

__all__ = [
    "DEACTIVATED",
    "EXPIRED",
    "INVALIDATED",
    "PASSWORD_CHANGED",
    "REPLACED",
    "SIGNED_OUT",
    "end_expired_session",
    "end_expired_sessions",
    "session_ref",
    "sign_in_replaced",
    "track_session",
    "write_logout",
]

log = logging.getLogger(__name__)

#: The causes a LOGOUT row gives (``variables.cause``).
SIGNED_OUT = "signed out"
REPLACED = "replaced"
EXPIRED = "expired"
PASSWORD_CHANGED = "password changed"
DEACTIVATED = "deactivated"
#: Refused by authentication for another reason (say, its backend is no longer configured).
INVALIDATED = "invalidated"


def session_ref(key: str | None) -> str:
    """How audit rows name a session: 16 hex digits of the SHA-256 of its key ("" if none)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16] if key else ""


def _request_fields(request: Any) -> dict[str, Any]:
    if request is None:
        return {"client_address": None, "user_agent": ""}
    return {
        "client_address": request.META.get("REMOTE_ADDR") or None,
        "user_agent": request.headers.get("User-Agent", "")[:1000],
    }


def write_logout(
    *,
    cause: str,
    user_id: int | None,
    username: str,
    role: str,
    session_key: str | None,
    request: Any = None,
    **details: Any,
) -> AuditEvent:
    """Write the LOGOUT row of one session that ended, with its ``cause``."""
    return write_event(
        kind="LOGOUT",
        outcome="SUCCEEDED",
        auth_method="session",
        user_id=user_id,
        username=username,
        role=role,
        variables={"cause": cause, "session": session_ref(session_key), **details},
        **_request_fields(request),
    )


@contextmanager
def track_session(request: Any) -> Iterator[None]:
    """Wrap the authentication of a request that came without a bearer token.

    Before: read which account the session names (authentication may end it). After: note
    the signed-in session the request came with (a sign-in during the request replaces it,
    see ``sign_in_replaced``); or, if nobody is signed in, log the end of the session the
    browser came with: ``expired`` when its time ran out, ``password changed`` when Django
    refused it for a changed password, ``deactivated`` when the account was deactivated or
    removed (the session is then removed too, so that it ends once). A failure to log never
    fails the request (an expired session stays for ``end_expired_sessions``)."""
    session = getattr(request, "session", None)
    claimed = session.get(SESSION_KEY) if session is not None else None
    key = session.session_key if session is not None else None
    yield
    if session is None:
        return
    user = request.user
    if user.is_authenticated:
        request.session_at_arrival = (user, key)
        return
    try:
        if claimed is not None:
            _end_refused_session(request, claimed=str(claimed), key=key)
        else:
            end_expired_session(request)
    except Exception:
        log.exception("could not log the end of a session")


def _end_refused_session(request: Any, *, claimed: str, key: str | None) -> None:
    """A live session whose account authentication refused: log its end and remove it."""
    from backend.models import User

    session = request.session
    flushed = SESSION_KEY not in session  # Django removed it: the password changed
    account = (
        User.objects.filter(pk=int(claimed)).values("username", "role", "is_active").first()
        if claimed.isdigit()
        else None
    )
    if account is None or not account["is_active"]:
        cause = DEACTIVATED
    elif flushed:
        cause = PASSWORD_CHANGED
    else:
        cause = INVALIDATED
    model = _session_model()
    with transaction.atomic():
        removable = not flushed and model is not None and key
        if removable and not model.objects.filter(pk=key).delete()[0]:
            return  # another request ended it first
        write_logout(
            cause=cause,
            user_id=int(claimed) if claimed.isdigit() else None,
            username=account["username"] if account else "",
            role=account["role"] if account else "",
            session_key=key,
            request=request,
        )
    if not flushed:
        session.flush()


def sign_in_replaced(request: Any) -> AuditEvent | None:
    """On a sign-in: the LOGOUT row (cause ``replaced``) of the signed-in session the request
    came with, if any."""
    arrived = getattr(request, "session_at_arrival", None) if request is not None else None
    if arrived is None:
        return None
    user, key = arrived
    request.session_at_arrival = None
    return write_logout(
        cause=REPLACED,
        user_id=user.pk,
        username=user.get_username(),
        role=getattr(user, "role", ""),
        session_key=key,
        request=request,
    )


def _session_model() -> type[Model] | None:
    """The session table's model, for the database-backed engines; ``None`` otherwise."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    getter = getattr(store, "get_model_class", None)
    return getter() if getter is not None else None


def _decode(row: Any) -> dict[str, Any]:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    try:
        return store().decode(row.session_data)
    except Exception:  # a corrupt or foreign session: nobody to name
        return {}


def _end(rows: Iterable[Any], *, request: Any = None) -> int:
    """Delete the (locked) expired ``rows`` and write a LOGOUT row for each signed-in one;
    returns how many were signed in. Call inside a transaction."""
    from backend.models import User

    rows = list(rows)
    owners: dict[str, str] = {}
    for row in rows:
        user_id = _decode(row).get(SESSION_KEY)
        if user_id is not None:
            owners[row.session_key] = str(user_id)
    accounts = {
        str(pk): (username, role)
        for pk, username, role in User.objects.filter(
            pk__in={int(v) for v in owners.values() if v.isdigit()}
        ).values_list("pk", "username", "role")
    }
    for row in rows:
        if row.session_key not in owners:
            continue
        user_id = owners[row.session_key]
        username, role = accounts.get(user_id, ("", ""))
        write_logout(
            cause=EXPIRED,
            user_id=int(user_id) if user_id.isdigit() else None,
            username=username,
            role=role,
            session_key=row.session_key,
            request=request,
            expired_at=row.expire_date.isoformat(),
        )
    if rows:
        type(rows[0]).objects.filter(pk__in=[row.pk for row in rows]).delete()
    return len(owners)


def end_expired_session(request: Any, *, now: dt.datetime | None = None) -> bool:
    """If ``request`` came with the key of a session that has expired, remove that session and,
    if someone was signed in with it, write its LOGOUT row (cause ``expired``). Returns whether
    a row was written. Concurrent requests with the same cookie write it once."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    model = _session_model() if key else None
    if model is None:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        rows = model.objects.select_for_update(skip_locked=True).filter(
            session_key=key, expire_date__lte=now
        )
        return _end(rows, request=request) > 0


def end_expired_sessions(
    *, now: dt.datetime | None = None, batch_size: int = 500
) -> tuple[int, int]:
    """Remove every session expired by ``now``, writing a LOGOUT row (cause ``expired``) for
    each signed-in one, a batch per transaction. Returns (signed-in sessions logged, sessions
    removed). Sessions another process is ending at the same time are left to it."""
    model = _session_model()
    if model is None:
        return 0, 0
    now = now or timezone.now()
    logged = removed = 0
    while True:
        with transaction.atomic():
            batch = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(expire_date__lte=now)
                .order_by("expire_date", "pk")[:batch_size]
            )
            if not batch:
                return logged, removed
            logged += _end(batch)
            removed += len(batch)
