"""Authentication: Django sessions for browsers, hashed bearer tokens for tools.

A request with ``Authorization: Bearer <token>`` is authenticated by the token alone (a
session cookie on the same request is ignored) and is exempt from CSRF, since a browser
never sends that header by itself. ``request.auth_method`` says which way the user came
in: ``"session"``, ``"token:<id>"`` or ``"anonymous"``.

Failed sign-ins are counted by django-axes (see settings). A username that axes has locked out
cannot use its bearer tokens either until the lock lifts: a token must not be a way around
the lockout. A successful sign-in clears only the failures that the sign-in proves were the
user's own (``SignInLockoutHandler``), never the address's failures for other usernames.
(Whether an authenticated account may act, here or at any other door, is the
one gate's question, ``permissions.gate``; it asks ``username_locked_out`` too, so a locked
username's sessions are refused as well.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import (
    get_client_username,
    get_cool_off,
    get_failure_limit,
    get_lockout_parameters,
)
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import DateTimeField, ExpressionWrapper, Q, QuerySet, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from backend.models import ApiToken
from backend.models.accounts import hash_token
from backend.prepared import fetch_prepared
from permissions.lifecycle import ACTIVITY_WRITE_INTERVAL

__all__ = [
    "AuthenticationFailed",
    "BearerTokenMiddleware",
    "SignInLockoutHandler",
    "account_locked_out",
    "authenticate_bearer",
    "username_locked_out",
]

#: A token's ``last_used_at`` is written at most this often (the interval of an account's
#: ``last_activity_at``): reading it is what it is for, and a write on every request cost a
#: statement and a row version each time.
TOKEN_USE_WRITE_INTERVAL = ACTIVITY_WRITE_INTERVAL


class AuthenticationFailed(Exception):
    """A bearer token was sent but is unknown, revoked or expired."""

    def __init__(self, message: str, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(message)
        self.code = code


def authenticate_bearer(header: str) -> ApiToken:
    """The token row for an ``Authorization`` header, or raise ``AuthenticationFailed``.

    One statement reads the token, its account and the account's lockout count together
    (the count is remembered on the account for the gate, ``account_locked_out``);
    ``last_used_at`` is written only when it is older than ``TOKEN_USE_WRITE_INTERVAL``."""
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise AuthenticationFailed("Authorization header must be 'Bearer <token>'")
    sql, params, counted = _token_statement(_lockout_settings())
    rows = fetch_prepared(sql, [*params, hash_token(raw.strip())])
    token = _token_from_row(rows[0]) if rows else None
    if token is None or token.revoked_at is not None:
        raise AuthenticationFailed("API token is unknown or revoked")
    if token.is_expired:
        raise AuthenticationFailed("API token has expired", code="TOKEN_EXPIRED")
    if not token.user.is_active:
        raise AuthenticationFailed("the account of this API token is disabled")
    if counted:
        username = token.user.get_username()
        limit = get_failure_limit(None, {"username": username})  # type: ignore[arg-type]
        token.user._tipgraph_locked_out = rows[0][-1] >= limit
    if account_locked_out(token.user):
        raise AuthenticationFailed(
            "the account of this API token is locked after repeated failed sign-ins",
            code="LOCKED_OUT",
        )
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_WRITE_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def _lockout_settings() -> tuple[Any, ...]:
    """What the lockout count of a token's account depends on in the settings (a key for
    ``_token_statement``, so that a changed setting, as tests change them, compiles anew)."""
    return (
        settings.AXES_ENABLED,
        settings.AXES_LOCK_OUT_AT_FAILURE,
        repr(get_lockout_parameters(None, {"username": ""})),  # type: ignore[arg-type]
        get_cool_off(),
        settings.AXES_USE_ATTEMPT_EXPIRATION,
    )


@functools.lru_cache(maxsize=8)
def _token_statement(lockout: tuple[Any, ...]) -> tuple[str, tuple[Any, ...], bool]:
    """The statement reading a token by its hash (the last parameter) with its account and,
    when the settings (``lockout``) count failed sign-ins by username, the account's count
    (``_failures_of``) as the last column; its leading parameters; whether it counts.

    Compiled once per process and settings: building it through the ORM (a join, a
    correlated subquery, the lockout filters) cost about as much CPU as the rest of a
    lookup's authentication; it runs prepared."""
    quote = connection.ops.quote_name
    user_model = ApiToken._meta.get_field("user").related_model
    columns = [f"t.{quote(f.column)}" for f in ApiToken._meta.concrete_fields]
    columns += [f"u.{quote(f.column)}" for f in user_model._meta.concrete_fields]
    params: tuple[Any, ...] = ()
    failures = _failures_of(RawSQL(f"u.{quote(user_model.USERNAME_FIELD)}", []))
    if failures is not None:
        sql, failure_params = failures.query.sql_with_params()
        columns.append(f"COALESCE(({sql}), 0)")
        params = tuple(failure_params)
    statement = (
        f"SELECT {', '.join(columns)} FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(user_model._meta.db_table)} u ON u.{quote(user_model._meta.pk.column)} "
        f"= t.{quote(ApiToken._meta.get_field('user').column)} WHERE t.{quote('key_hash')} = %s"
    )
    return statement, params, failures is not None


def _token_from_row(row: tuple[Any, ...]) -> ApiToken:
    """The token, with its account, of a row of ``_token_statement``."""
    user_model = ApiToken._meta.get_field("user").related_model
    token_fields = [f.attname for f in ApiToken._meta.concrete_fields]
    user_fields = [f.attname for f in user_model._meta.concrete_fields]
    split = len(token_fields)
    token = ApiToken.from_db(connection.alias, token_fields, row[:split])
    token.user = user_model.from_db(
        connection.alias, user_fields, row[split : split + len(user_fields)]
    )
    return token


def account_locked_out(user: Any) -> bool:
    """``username_locked_out`` for an account, counted once per loaded user object: a bearer
    token's check and the gate's (once per operation of a batch) share one query per request.
    A new request, job or command loads the account afresh and counts again."""
    locked = getattr(user, "_tipgraph_locked_out", None)
    if locked is None:
        locked = username_locked_out(user.get_username())
        user._tipgraph_locked_out = locked
    return locked


def username_locked_out(username: str) -> bool:
    """Whether django-axes has locked ``username`` out of signing in.

    The same count axes keeps for the "username" lockout parameter: the failures recorded for
    the username from any address, within the cool-off time and not expired, against
    ``AXES_FAILURE_LIMIT``. (A lockout of the client *address* does not stop tokens.)
    """
    failures = _failures_of(username)
    if failures is None:
        return False
    total = next(iter(failures.values_list("total", flat=True)), None) or 0
    return total >= get_failure_limit(None, {"username": username})  # type: ignore[arg-type]


def _failures_of(username: Any) -> QuerySet[AccessAttempt] | None:
    """The failed sign-ins that count towards locking ``username`` (a value or an expression
    naming the account's username) out, summed in one row of one column; None when no
    username lockout is configured (axes off, or not locking by username). The time is the
    database's (the statement's start): the same for every use of the compiled statement."""
    if not (settings.AXES_ENABLED and settings.AXES_LOCK_OUT_AT_FAILURE):
        return None
    if "username" not in get_lockout_parameters(None, {"username": ""}):  # type: ignore[arg-type]
        return None
    now = Now()
    attempts = AccessAttempt.objects.filter(username=username)
    if (cool_off := get_cool_off()) is not None:
        attempts = attempts.filter(
            attempt_time__gte=ExpressionWrapper(now - Value(cool_off), output_field=DateTimeField())
        )
    if settings.AXES_USE_ATTEMPT_EXPIRATION:
        attempts = attempts.filter(Q(expiration__isnull=True) | Q(expiration__expires_at__gt=now))
    return attempts.values("username").annotate(total=Sum("failures_since_start")).values("total")


class SignInLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, with a narrower reset on a successful sign-in.

    axes' own reset (``AXES_RESET_ON_SUCCESS``) deletes every access attempt that matches any
    lockout parameter of the sign-in: with ``["username", "ip_address"]`` that is all of the
    address's failures, whatever usernames they were for. Spraying guesses over many usernames
    and signing in once, between rounds, with an account of one's own would then reset the
    address lock for ever. Here a successful sign-in deletes only the attempts for the signed-in
    username *from the signing-in address*: the failures the user may have made themselves.
    The address's failures for other usernames stay and still count towards the address lock,
    and the username's failures from other addresses (perhaps a guesser's elsewhere) still
    count towards the username lock until the cool-off lifts them."""

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, object] | None = None
    ) -> int:
        """Delete the signed-in username's attempts from this address; how many went."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(
            username=username,
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        ).delete()
        return count


class BearerTokenMiddleware:
    """Sets ``request.user`` from a bearer token, after the session middleware.

    Requests without a token have their session tracked for the audit log
    (``audit.sessions.track_session``): a signed-in session is noted, so that a sign-in
    replacing it logs its end; a session that ended since the browser's last request (expired,
    or refused because the password changed or the account was deactivated) is logged as
    ended, with its cause."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.auth_error = None  # type: ignore[attr-defined]
        header = request.headers.get("Authorization", "")
        if header:
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
            try:
                token = authenticate_bearer(header)
            except AuthenticationFailed as exc:
                request.user = AnonymousUser()
                request.auth_method = "anonymous"  # type: ignore[attr-defined]
                request.auth_error = exc  # type: ignore[attr-defined]
            else:
                request.user = token.user
                request.auth_method = f"token:{token.pk}"  # type: ignore[attr-defined]
        else:
            from audit.sessions import track_session  # the audit module writes audit rows

            # before the session is authenticated (which may end it), and after
            with track_session(request):
                signed_in = request.user.is_authenticated
                request.auth_method = "session" if signed_in else "anonymous"  # type: ignore[attr-defined]
        return self.get_response(request)
