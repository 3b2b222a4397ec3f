"""Sessions for browsers (with CSRF), hashed bearer tokens for tools, nothing for anonymous."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.models import ApiToken, Role
from backend.models.accounts import hash_token
from tests.conftest import make_gql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VIEWER = "{ viewer { username role authMethod } }"
PASSWORD = "correct horse battery staple"


def post(client: Client, query: str, **headers: str):
    return client.post(
        "/graphql",
        data=json.dumps({"query": query}),
        content_type="application/json",
        headers=headers,
    )


def test_anonymous_operation_is_refused(anonymous_gql):
    # when an anonymous caller asks anything
    result = anonymous_gql(VIEWER)
    # then nothing runs and the error says why
    assert result.get("data") is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_anonymous_introspection_is_refused(anonymous_gql):
    result = anonymous_gql("{ __schema { queryType { name } } }")
    assert result.get("data") is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_signed_in_introspection_is_allowed(gql):
    result = gql("{ __schema { queryType { name } } }")
    assert result["data"]["__schema"]["queryType"]["name"] == "Query"


def test_session_login_with_csrf():
    # given a browser that enforces CSRF and a user with a password
    UserFactory(username="alice", role=Role.ANALYST)
    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/accounts/login/")
    csrf = login_page.cookies["csrftoken"].value
    # when the user signs in through the login form
    response = browser.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
    )
    assert response.status_code == 302
    # then a GraphQL POST without the CSRF token is refused
    assert post(browser, VIEWER).status_code == 403
    # and one with the token is answered as the session user
    answered = post(browser, VIEWER, **{"X-CSRFToken": browser.cookies["csrftoken"].value})
    assert answered.status_code == 200
    assert answered.json()["data"]["viewer"] == {
        "username": "alice",
        "role": "ANALYST",
        "authMethod": "session",
    }


def test_wrong_password_does_not_sign_in():
    UserFactory(username="bob", role=Role.ANALYST)
    browser = Client()
    response = browser.post("/accounts/login/", {"username": "bob", "password": "wrong"})
    assert response.status_code == 200  # the form again, with an error
    assert post(browser, VIEWER).json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_bearer_token_authenticates_without_csrf():
    # given a token for an analyst
    user = UserFactory(username="tool", role=Role.ANALYST)
    token, raw = ApiToken.issue(user=user, name="ci", days=5)
    # when a CSRF-enforcing client sends it as a bearer token
    gql = make_gql(Client(enforce_csrf_checks=True), Authorization=f"Bearer {raw}")
    result = gql(VIEWER)
    # then it is answered as that user, through that token
    assert result["data"]["viewer"] == {
        "username": "tool",
        "role": "ANALYST",
        "authMethod": f"token:{token.pk}",
    }
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_batch_by_bearer_token_counts_the_lockout_once():
    # given a token for an analyst
    user = UserFactory(username="tool", role=Role.ANALYST)
    _, raw = ApiToken.issue(user=user, name="ci", days=5)
    # when a batch of three operations is sent with it
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(
            "/graphql",
            data=json.dumps([{"query": VIEWER}] * 3),
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
    # then all three are answered, and the lockout count (the token's check and the gate's
    # for every operation) ran once for the request
    assert [r["data"]["viewer"]["username"] for r in response.json()] == ["tool"] * 3
    lockout_counts = [q for q in queries if '"axes_accessattempt"' in q["sql"]]
    assert len(lockout_counts) == 1


def test_a_token_request_reads_token_account_and_lockout_in_one_statement():
    # given a token for an analyst
    user = UserFactory(username="tool", role=Role.ANALYST)
    _, raw = ApiToken.issue(user=user, name="ci", days=5)
    # when a request is sent with it
    with CaptureQueriesContext(connection) as queries:
        result = make_gql(Client(), Authorization=f"Bearer {raw}")(VIEWER)
    # then it is answered, and one statement read the token, its account and the lockout count
    assert result["data"]["viewer"]["username"] == "tool"
    reads = [q["sql"] for q in queries if '"backend_apitoken"' in q["sql"]]
    counts = [q["sql"] for q in queries if '"axes_accessattempt"' in q["sql"]]
    assert len(counts) == 1
    assert counts[0] in reads and '"backend_user"' in counts[0]


def test_token_use_is_written_at_most_every_few_minutes():
    from permissions.authentication import TOKEN_USE_WRITE_INTERVAL

    user = UserFactory(username="tool", role=Role.ANALYST)
    token, raw = ApiToken.issue(user=user, name="ci", days=5)
    gql = make_gql(Client(), Authorization=f"Bearer {raw}")

    def updates() -> int:
        with CaptureQueriesContext(connection) as queries:
            gql(VIEWER)
        return sum(q["sql"].startswith('UPDATE "backend_apitoken"') for q in queries)

    # the first use is written, the next one right after is not
    assert updates() == 1
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert updates() == 0
    token.refresh_from_db()
    assert token.last_used_at == first
    # once the last write is older than the interval, the next use is written again
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=first - TOKEN_USE_WRITE_INTERVAL - timedelta(seconds=1)
    )
    assert updates() == 1
    token.refresh_from_db()
    assert token.last_used_at > first


def test_token_is_stored_hashed_only():
    token, raw = ApiToken.issue(user=UserFactory(), name="x", days=1)
    assert raw.startswith(ApiToken.PREFIX)
    assert token.key_hash == hash_token(raw)
    assert raw not in {token.key_hash, token.name}


def test_token_lifetime_is_capped(settings):
    token, _ = ApiToken.issue(user=UserFactory(), name="x", days=10_000)
    assert token.expires_at <= timezone.now() + timedelta(days=settings.API_TOKEN_MAX_DAYS)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "TOKEN_EXPIRED"),
        ({"revoked_at": timezone.now()}, "UNAUTHENTICATED"),
    ],
)
def test_expired_or_revoked_token_is_refused(change, code):
    # given a token that has expired or been revoked
    token, raw = ApiToken.issue(user=UserFactory(), name="old", days=1)
    ApiToken.objects.filter(pk=token.pk).update(**change)
    # when it is used
    result = make_gql(Client(), Authorization=f"Bearer {raw}")(VIEWER)
    # then the request is refused with the reason
    assert result.get("data") is None
    assert result["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("header", ["Bearer tg_unknown", "Basic abc", "Bearer "])
def test_unknown_or_malformed_token_is_refused(header):
    result = make_gql(Client(), Authorization=header)(VIEWER)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_token_of_disabled_account_is_refused():
    user = UserFactory(is_active=False)
    _, raw = ApiToken.issue(user=user, name="x", days=1)
    result = make_gql(Client(), Authorization=f"Bearer {raw}")(VIEWER)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("role", [Role.REPORTING_CLIENT, Role.AUDITOR, Role.SYSTEM_ADMINISTRATOR])
def test_roles_outside_the_graph_cannot_browse_tips(gql_as, role):
    result = gql_as(role)("{ tips(first: 1) { totalCount } }")
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert result["data"] is None


@pytest.mark.parametrize("role", [Role.ANALYST, Role.PROGRAM_MANAGER])
def test_graph_roles_can_browse_tips(gql_as, role):
    result = gql_as(role)("{ tips(first: 1) { totalCount } }")
    assert result == {"data": {"tips": {"totalCount": 0}}}


def test_graphiql_is_off_outside_development():
    # GraphiQL is only mounted with TIPGRAPH_DEBUG=1; the test settings run without it
    response = Client().get("/graphql", headers={"Accept": "text/html"})
    assert b"graphiql" not in response.content.lower()
