"""GraphiQL in headless Chromium, in development mode: an analyst signs in through the real
form, opens /graphql with a query in the address, runs it and reads the answer, with every
file the page needs served by the live server (no CDN); the screenshot is saved as
artifacts/browser/graphiql.png."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from backend.models import Role
from tests.browser.helpers import screenshot, sign_in, watch
from tests.factories import UserFactory

# The live server reads what the test wrote, so the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

ANALYST = "graphiql-analyst"
QUERY = "{ viewer { username role } }"


def viewer_answer(response: Any) -> bool:
    """Whether a response is the answer to the page's POST of the viewer query."""
    request = response.request
    return (
        response.url.endswith("/graphql")
        and request.method == "POST"
        and "viewer" in (request.post_data or "")
    )


def test_analyst_runs_a_query_in_graphiql(chromium, live_server, settings):
    # given development mode (GraphiQL on) and an analyst
    settings.DEBUG = True
    UserFactory(username=ANALYST, role=Role.ANALYST)
    with chromium() as page:
        problems, elsewhere = watch(page, live_server.url)
        sign_in(page, ANALYST)

        # when the analyst opens GraphiQL with the query in the address and runs it
        page.goto(f"/graphql?q={quote(QUERY)}")
        editor = page.locator(".graphiql-query-editor")
        editor.wait_for()
        assert "viewer" in editor.inner_text()
        run = page.locator("button.graphiql-execute-button")
        with page.expect_response(viewer_answer) as answered:
            run.click()

        # then the session POST carried the CSRF token and was answered
        response = answered.value
        assert response.request.headers.get("x-csrftoken"), response.request.headers
        assert response.status == 200, response.text()
        assert response.json() == {"data": {"viewer": {"username": ANALYST, "role": "ANALYST"}}}
        # and the result pane shows it
        result = page.locator(".graphiql-response")
        result.get_by_text(f'"{ANALYST}"').wait_for()
        assert '"ANALYST"' in result.inner_text()

        path = screenshot(page, "graphiql.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000, f"{path} is suspiciously small"

        # when the analyst opens GraphiQL afresh in another tab (same session), adds a header
        # in the headers editor and runs the default query with Ctrl+Enter
        fresh = page.context.new_page()
        fresh_problems, fresh_elsewhere = watch(fresh, live_server.url)
        fresh.goto("/graphql")
        editor = fresh.locator(".graphiql-query-editor")
        editor.wait_for()
        assert QUERY in editor.inner_text()  # the default query
        fresh.get_by_role("button", name="Headers").click()
        fresh.locator(".graphiql-editor-tool .graphiql-editor:visible").click()
        fresh.keyboard.type('{"X-Trace": "graphiql-test"}')
        editor.locator(".CodeMirror").click()
        with fresh.expect_response(viewer_answer) as answered:
            fresh.keyboard.press("Control+Enter")
        # then the header went out with the session's CSRF token, and the answer is shown
        sent = answered.value.request.headers
        assert sent.get("x-trace") == "graphiql-test", sent
        assert sent.get("x-csrftoken"), sent
        fresh.locator(".graphiql-response").get_by_text(f'"{ANALYST}"').wait_for()
        assert fresh_elsewhere == []
        assert fresh_problems == []

        # and nothing came from anywhere but this server, and nothing went wrong
        assert elsewhere == []
        assert problems == []

        # and once development mode is off, the same server (same URL conf) has no page
        settings.DEBUG = False
        closed = page.request.get("/graphql", headers={"Accept": "text/html"})
        assert closed.status == 404
        assert "graphiql" not in closed.text().lower()
