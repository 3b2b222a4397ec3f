"""GraphQL over HTTP: the graphql-http audit suite (npm ``graphql-http``, pinned in
package.json) against a live server of the platform must pass every audit, with no failure,
warning or notice; and the media types and status codes it relies on, checked here too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from audit.models import AuditEvent
from backend import models as m
from backend.models import ApiToken
from schema.view import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, media_type
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("graphql_http_audit.mjs")
MODERN = {"Accept": GRAPHQL_RESPONSE_JSON}


@pytest.mark.django_db(transaction=True)
def test_the_graphql_http_audit_suite_passes_against_a_live_server(live_server) -> None:
    # given node, the pinned audit suite, and an analyst's bearer token
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "graphql-http").is_dir():
        pytest.fail("needs node and `npm ci` (make test runs it): graphql-http is missing")
    user = UserFactory(username="graphql-http-audit", role=m.Role.ANALYST)
    _, token = ApiToken.issue(user=user, name="graphql-http audit", days=1)
    # when graphql-http audits the live server
    done = subprocess.run(
        [node, str(SCRIPT), f"{live_server.url}/graphql"],
        cwd=ROOT,
        env={**os.environ, "TIPGRAPH_AUDIT_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    # then every audit passes: no error (MUST), no warning (SHOULD), no notice (MAY)
    assert len(results) > 50
    failed = [r for r in results if r["status"] != "ok"]
    assert failed == [], json.dumps(failed, indent=2)
    # and each of its requests left its audit row, as the token's user
    rows = AuditEvent.objects.filter(kind="OPERATION", username="graphql-http-audit")
    assert rows.count() >= len(results)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/json", APPLICATION_JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", APPLICATION_JSON),
        ("application/json, multipart/mixed", APPLICATION_JSON),  # GraphiQL's fetcher
    ],
)
def test_the_response_media_type_follows_accept(accept: str, chosen: str) -> None:
    assert media_type(accept) == chosen


def post(client: Client, query: str, **headers: str):
    return client.post(
        "/graphql", json.dumps({"query": query}), content_type="application/json", headers=headers
    )


@pytest.fixture
def analyst() -> Client:
    client = Client()
    client.force_login(UserFactory(username="http-analyst", role=m.Role.ANALYST))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
def test_a_request_error_is_400_without_data_for_graphql_response_json(
    analyst: Client, query: str, code: str
) -> None:
    # when a client that accepts application/graphql-response+json sends a bad document
    response = post(analyst, query, **MODERN)
    # then it gets 400 in that media type, with no data entry
    assert response.status_code == 400
    assert response["Content-Type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code
    # while a legacy client gets 200 application/json, with data null
    legacy = post(analyst, query)
    assert legacy.status_code == 200
    assert legacy["Content-Type"] == APPLICATION_JSON
    assert legacy.json()["data"] is None


@pytest.mark.django_db
def test_a_variable_that_does_not_coerce_is_400_for_graphql_response_json(
    analyst: Client,
) -> None:
    body = json.dumps({"query": "query Q($id: ID!) { __typename }", "variables": {"id": None}})
    response = analyst.post("/graphql", body, content_type="application/json", headers=MODERN)
    assert response.status_code == 400
    assert "data" not in response.json()


@pytest.mark.django_db
def test_a_field_error_keeps_200_and_its_data(analyst: Client) -> None:
    # an error during execution (a path) is no request error: 200, with the data entry
    response = post(analyst, '{ node(id: "not-a-global-id") { id } }', **MODERN)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"node": None}
    assert body["errors"][0]["path"] == ["node"]


@pytest.mark.django_db
def test_an_allowed_answer_is_200_in_the_accepted_media_type(analyst: Client) -> None:
    response = post(analyst, "{ viewer { username } }", **MODERN)
    assert response.status_code == 200
    assert response["Content-Type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert response.json() == {"data": {"viewer": {"username": "http-analyst"}}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"role": m.Role.AUDITOR}, 200, None),  # may call viewer
        ({"annual_training_at": None}, 403, "TRAINING_LAPSED"),
        ({"is_active": False}, 401, "UNAUTHENTICATED"),  # a disabled account's token is void
    ],
)
def test_a_refused_caller_gets_401_or_403_with_graphql_response_json(
    change: dict, status: int, code: str | None
) -> None:
    user = UserFactory(username="http-refused", **change)
    _, token = ApiToken.issue(user=user, name="t", days=1)
    response = post(Client(), "{ viewer { username } }", Authorization=f"Bearer {token}", **MODERN)
    assert response.status_code == status
    if code:
        assert response.json()["errors"][0]["extensions"]["code"] == code
        assert "data" not in response.json()


@pytest.mark.django_db
def test_a_batch_answers_200_with_each_operations_outcome(analyst: Client) -> None:
    batch = [{"query": "{ viewer { username } }"}, {"query": "{"}]
    response = analyst.post(
        "/graphql", json.dumps(batch), content_type="application/json", headers=MODERN
    )
    assert response.status_code == 200
    first, second = response.json()
    assert first == {"data": {"viewer": {"username": "http-analyst"}}}
    assert "data" not in second
    assert second["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
