"""Authentication: Django sessions for browsers, hashed bearer tokens for tools.

A request with ``Authorization: Bearer <token>`` is authenticated by the token alone (a
session cookie on the same request is ignored) and is exempt from CSRF, since a browser
never sends that header by itself. ``request.auth_method`` says which way the user came
in: ``"session"``, ``"token:<id>"`` or ``"anonymous"``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from backend.models import ApiToken
from backend.models.accounts import hash_token

__all__ = ["AuthenticationFailed", "BearerTokenMiddleware", "authenticate_bearer"]


class AuthenticationFailed(Exception):
    """A bearer token was sent but is unknown, revoked or expired."""

    def __init__(self, message: str, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(message)
        self.code = code


def authenticate_bearer(header: str) -> ApiToken:
    """The token row for an ``Authorization`` header, or raise ``AuthenticationFailed``."""
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise AuthenticationFailed("Authorization header must be 'Bearer <token>'")
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw.strip())).first()
    if token is None or token.revoked_at is not None:
        raise AuthenticationFailed("API token is unknown or revoked")
    if token.is_expired:
        raise AuthenticationFailed("API token has expired", code="TOKEN_EXPIRED")
    if not token.user.is_active:
        raise AuthenticationFailed("the account of this API token is disabled")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


class BearerTokenMiddleware:
    """Sets ``request.user`` from a bearer token, after the session middleware."""

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
        elif request.user.is_authenticated:
            request.auth_method = "session"  # type: ignore[attr-defined]
        else:
            request.auth_method = "anonymous"  # type: ignore[attr-defined]
        return self.get_response(request)
