"""Hostile clients at /graphql: whatever a request carries, it gets a coded JSON error with
the status that fits (never 503, which means the audit store is down) and exactly one audit
row saying what became of it; signed-in browsers still need their CSRF token."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditEvent
from backend import models as m
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VIEWER = "query Viewer { viewer { username } }"
MAKE_HALF = 'mutation Make { createSubject(input: {fullName: "Half"}) { errors { code } } }'


def operations() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))


def signed_in(role: str = m.Role.ANALYST, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(UserFactory(username=f"hostile-{role.lower()}", role=role))
    return client


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


#: Bodies of a POST with Content-Type application/json that are no GraphQL request.
BAD_JSON_BODIES: dict[str, bytes] = {
    "empty": b"",
    "not JSON": b"{not json",
    "null": b"null",
    "a string": b'"x"',
    "a number": b"1",
    "an array of numbers": b"[1]",
    "an empty batch": b"[]",
    "a batch of nulls": b"[null]",
    "invalid UTF-8": b'{"query": "\xff\xfe"}',
    "a byte order mark": b'\xef\xbb\xbf{"query": "{ viewer { username } }"}',
    "a lone surrogate in the query": b'{"query": "{ viewer { username } } # \\ud800"}',
    "a lone surrogate in a variable": (
        b'{"query": "{ viewer { username } }", "variables": {"a": "\\udc00"}}'
    ),
    "a lone surrogate in a key": (
        b'{"query": "{ viewer { username } }", "variables": {"\\ud83d": 1}}'
    ),
    "NaN": b'{"query": "{ viewer { username } }", "variables": {"a": NaN}}',
    "Infinity": b'{"query": "{ viewer { username } }", "variables": {"a": -Infinity}}',
    "a number too large": b'{"query": "{ viewer { username } }", "variables": {"a": 1e999}}',
    "an integer too long": b'{"query": "{ viewer { username } }", "variables": {"a": '
    + b"9" * 5000
    + b"}}",
    "JSON nested past the parser's limit": nested(100_000).encode(),
    "JSON nested past the recursion limit": nested(5_000).encode(),
    "variables nested too deep": (
        b'{"query": "{ viewer { username } }", "variables": {"a": ' + nested(40).encode() + b"}}"
    ),
    "no query": b'{"qeury": "{ viewer { username } }"}',
    "a query that is an object": b'{"query": {"obj": "ect"}}',
    "a query that is false": b'{"query": false}',
    "variables that are a string": b'{"query": "{ viewer { username } }", "variables": "x"}',
    "variables that are an array": b'{"query": "{ viewer { username } }", "variables": []}',
    "an operation name that is a number": (
        b'{"query": "{ viewer { username } }", "operationName": 0}'
    ),
    "extensions that are a string": b'{"query": "{ viewer { username } }", "extensions": "x"}',
    "an unknown operation name": b'{"query": "{ viewer { username } }", "operationName": "Nope"}',
    "a subscription": b'{"query": "subscription { viewer { username } }"}',
}


@pytest.mark.parametrize("name", list(BAD_JSON_BODIES))
def test_a_malformed_json_body_is_a_coded_400_with_one_invalid_row(name: str) -> None:
    # given a signed-in analyst
    client = signed_in()
    # when it posts a body that is no GraphQL request
    response = client.post(
        "/graphql",
        BAD_JSON_BODIES[name],
        content_type="application/json",
        CONTENT_TYPE="application/json",  # the test client leaves it out of an empty body
    )
    # then it gets a GraphQL error coded BAD_REQUEST, with status 400 and no data
    assert response.status_code == 400, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]
    # and exactly one audit row says so, with who sent it
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["BAD_REQUEST"])
    assert (row.username, row.auth_method) == ("hostile-analyst", "session")


def test_a_variable_nested_within_the_limit_is_answered() -> None:
    # given extensions nested 31 deep (the limit is 32 for the whole request)
    client = signed_in()
    body = {"query": "{ viewer { username } }", "extensions": {"deep": json.loads(nested(29))}}
    # when they are posted
    response = client.post("/graphql", json.dumps(body), content_type="application/json")
    # then the query runs
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"username": "hostile-analyst"}}


def test_a_json_body_larger_than_the_upload_limit_is_a_coded_413() -> None:
    client = signed_in()
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({"query": "{ viewer { username } }", "variables": {"pad": padding}})
    response = client.post("/graphql", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["PAYLOAD_TOO_LARGE"])


def test_a_3_mb_multipart_operations_field_is_a_coded_413() -> None:
    # given a signed-in analyst
    client = signed_in()
    # when it uploads with an operations field of 3 MB
    response = client.post(
        "/graphql",
        {
            "operations": json.dumps({"query": "{ viewer { username } }", "x": "y" * 3_000_000}),
            "map": "{}",
            "0": SimpleUploadedFile("tips.csv", b"a,b\n"),
        },
    )
    # then it is refused as too large, with its row
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["PAYLOAD_TOO_LARGE"])


def test_too_many_form_fields_is_a_coded_413() -> None:
    client = signed_in()
    fields = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    fields["operations"] = json.dumps({"query": "{ viewer { username } }"})
    response = client.post("/graphql", fields)
    assert response.status_code == 413
    [row] = operations()
    assert row.error_codes == ["PAYLOAD_TOO_LARGE"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\nno boundary\r\n"),
        ("multipart/form-data; boundary=", b"--\r\n"),
        ("multipart/form-data; boundary=zz", b'{"query": "{ viewer { username } }"}'),
    ],
)
def test_a_malformed_multipart_body_is_a_coded_400(content_type: str, body: bytes) -> None:
    client = signed_in()
    response = client.post("/graphql", body, content_type=content_type)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["BAD_REQUEST"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_post_of_another_media_type_is_a_coded_415(content_type: str) -> None:
    client = signed_in()
    response = client.post("/graphql", b'{"query": "{ __typename }"}', content_type=content_type)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["UNSUPPORTED_MEDIA_TYPE"])


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options", "head"])
def test_another_method_is_a_coded_405(method: str) -> None:
    client = signed_in()
    response = getattr(client, method)("/graphql", content_type="application/json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    if method != "head":
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["METHOD_NOT_ALLOWED"])


def test_a_get_without_a_query_from_a_tool_is_a_coded_400() -> None:
    # a GET without query that is no browser asking for GraphiQL
    response = signed_in().get("/graphql", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    [row] = operations()
    assert row.error_codes == ["BAD_REQUEST"]


def test_an_operation_name_longer_than_its_column_is_answered_and_audited() -> None:
    # given an operation named with 300 letters (the audit column holds 200)
    name = "A" * 300
    client = signed_in()
    # when it is posted
    response = client.post(
        "/graphql",
        json.dumps({"query": f"query {name} {{ viewer {{ username }} }}"}),
        content_type="application/json",
    )
    # then it is answered, and audited with its name cut to fit (the query keeps it whole)
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"username": "hostile-analyst"}}
    [row] = operations()
    assert (row.outcome, row.operation_name) == ("ALLOWED", name[:200])
    assert name in row.query_hash.text


# -- who is asking ------------------------------------------------------------------------


def test_an_anonymous_post_from_a_browser_is_a_coded_json_refusal() -> None:
    # given a browser that enforces CSRF and has signed in nowhere
    browser = Client(enforce_csrf_checks=True)
    # when it posts an operation without any token
    response = browser.post(
        "/graphql", json.dumps({"query": VIEWER}), content_type="application/json"
    )
    # then it gets JSON UNAUTHENTICATED (not Django's CSRF page), and one DENIED row
    assert response["Content-Type"] == "application/json"
    assert response.status_code == 200  # legacy application/json: a GraphQL answer
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    [row] = operations()
    assert (row.outcome, row.operation_name, row.auth_method) == ("DENIED", "Viewer", "anonymous")
    # and a client that accepts application/graphql-response+json gets 401
    modern = browser.post(
        "/graphql",
        json.dumps({"query": VIEWER}),
        content_type="application/json",
        headers={"Accept": "application/graphql-response+json"},
    )
    assert modern.status_code == 401
    assert modern["Content-Type"] == "application/graphql-response+json; charset=utf-8"
    assert "data" not in modern.json()


def test_a_session_post_without_its_csrf_token_is_a_coded_403_with_one_denied_row() -> None:
    # given an analyst signed in through the login form, in a browser that enforces CSRF
    UserFactory(username="csrf-analyst", role=m.Role.ANALYST)
    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/accounts/login/").cookies["csrftoken"].value
    browser.post(
        "/accounts/login/",
        {
            "username": "csrf-analyst",
            "password": "correct horse battery staple",
            "csrfmiddlewaretoken": token,
        },
    )
    # when it posts a mutation without the CSRF token (what a cross-site form would do)
    mutation = 'mutation Make { createSubject(input: {fullName: "Forged"}) { subject { id } } }'
    refused = browser.post(
        "/graphql", json.dumps({"query": mutation}), content_type="application/json"
    )
    # then it is refused as coded JSON, nothing is written, and one DENIED row says why
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    assert not m.Subject.objects.filter(full_name="Forged").exists()
    [row] = operations()
    assert (row.outcome, row.error_codes, row.username) == (
        "DENIED",
        ["CSRF_FAILED"],
        "csrf-analyst",
    )
    # and the same POST with the token is answered
    answered = browser.post(
        "/graphql",
        json.dumps({"query": mutation}),
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert answered.status_code == 200
    assert m.Subject.objects.filter(full_name="Forged").count() == 1


def test_a_session_multipart_upload_without_its_csrf_token_is_a_coded_403() -> None:
    browser = signed_in(csrf=True)
    response = browser.post(
        "/graphql",
        {"operations": json.dumps({"query": VIEWER}), "map": "{}"},
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    [row] = operations()
    assert row.error_codes == ["CSRF_FAILED"]


# -- failures: 500 for ours, 503 only for the audit store ---------------------------------


def test_an_unexpected_failure_is_a_500_with_its_operations_rolled_back_and_audited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a view that fails after the operation ran (a bug, say)
    from schema.view import TipGraphView

    def broken(self, request, result):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(TipGraphView, "process_result", broken)
    client = signed_in()
    # when an analyst creates a subject
    response = client.post(
        "/graphql",
        json.dumps({"query": MAKE_HALF}),
        content_type="application/json",
    )
    # then the answer is a coded 500 that tells nothing internal, and nothing was written
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {
                "message": "The request failed; nothing was done.",
                "extensions": {"code": "INTERNAL_ERROR"},
            }
        ]
    }
    assert b"secret" not in response.content
    assert not m.Subject.objects.filter(full_name="Half").exists()
    # and the operation's row says it failed, changed nothing and returned nothing
    [row] = operations()
    assert (row.operation_name, row.outcome) == ("Make", "FAILED")
    assert row.error_codes[-1] == "INTERNAL_ERROR"
    assert (row.records_changed, row.records_returned) == ([], [])


# -- the statistics download, which runs through the same view -----------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "code"),
    [
        ("get", "/statistics/tips.csv", {}, 404, "NOT_FOUND"),
        ("put", "/statistics/tipStatistics.csv", {}, 405, "METHOD_NOT_ALLOWED"),
        ("get", "/statistics/tipStatistics.csv", {"bad name": "1"}, 400, "INVALID_INPUT"),
    ],
)
def test_a_refused_statistics_download_is_coded_and_has_its_row(
    method: str, path: str, params: dict, status: int, code: str
) -> None:
    # when a signed-in analyst asks for a download that cannot be served
    response = getattr(signed_in(), method)(path, params)
    # then it is a coded JSON error with that status, and one row says so
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", [code])
