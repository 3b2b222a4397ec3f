"""GraphiQL on GET /graphql: in development only (settings.DEBUG, read per request), from our
own template, loading nothing from a CDN: every script and stylesheet is a static file that
django.contrib.staticfiles finds in node_modules (installed by `npm ci`)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client, RequestFactory
from django.urls import resolve

from backend.models import Role
from schema import schema
from schema.view import StatisticsCsvView, TipGraphView
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HTML = {"Accept": "text/html"}
#: The browser builds the page runs on, as static paths (STATICFILES_DIRS prefixes).
VENDOR_FILES = {
    "vendor/react/react.production.min.js",
    "vendor/react-dom/react-dom.production.min.js",
    "vendor/graphiql/index.umd.js",
    "vendor/graphiql/style.css",
}


class _Assets(HTMLParser):
    """The URLs of a page's <script src> and <link href> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[tuple[str, str]] = []  # (rel, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and "src" in values:
            self.scripts.append(values["src"])
        elif tag == "link" and "href" in values:
            self.links.append((values.get("rel", ""), values["href"]))


def assets(html: str) -> _Assets:
    parser = _Assets()
    parser.feed(html)
    return parser


@pytest.fixture
def development(settings):
    """TIPGRAPH_DEBUG=1, as `make demo` runs (the tests otherwise run with DEBUG off)."""
    settings.DEBUG = True
    return settings


def signed_in(**fields) -> Client:
    """A browser signed in as an analyst that may act (``fields`` change the account)."""
    client = Client()
    client.force_login(UserFactory(username="graphiql-analyst", role=Role.ANALYST, **fields))
    return client


def graphiql_page(client: Client | None = None) -> str:
    response = (client or signed_in()).get("/graphql", headers=HTML)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_the_page_loads_nothing_from_a_cdn(development):
    page = graphiql_page()
    found = assets(page)
    urls = found.scripts + [href for _, href in found.links]
    assert found.scripts, "no <script src> on the page"
    assert not [url for url in urls if url.startswith(("http:", "https:", "//"))]
    assert "unpkg" not in page and "jsdelivr" not in page
    # only static files (the favicon aside, an empty data: URL)
    assert {url for url in urls if not url.startswith(django_settings.STATIC_URL)} <= {"data:,"}


def test_the_page_uses_the_vendored_react_and_graphiql(development):
    found = assets(graphiql_page())
    assert found.scripts == [
        static("vendor/react/react.production.min.js"),
        static("vendor/react-dom/react-dom.production.min.js"),
        static("vendor/graphiql/index.umd.js"),
    ]
    assert ("stylesheet", static("vendor/graphiql/style.css")) in found.links


def test_every_file_the_page_loads_is_found_by_staticfiles(development):
    found = assets(graphiql_page())
    static_paths = {
        url.removeprefix(static(""))
        for url in found.scripts + [href for _, href in found.links]
        if url.startswith(django_settings.STATIC_URL)
    }
    assert static_paths == VENDOR_FILES
    node_modules = Path(django_settings.NODE_MODULES).resolve()
    for path in sorted(static_paths):
        located = finders.find(path)
        assert located, f"{path}: not found by the staticfiles finders (run `npm ci`)"
        assert Path(located).resolve().is_relative_to(node_modules), located
        assert Path(located).stat().st_size > 1000, f"{path} is (nearly) empty"


def test_the_vendored_builds_are_react_18_and_graphiqls_umd(development):
    react = Path(finders.find("vendor/react/react.production.min.js")).read_text()
    assert "18.3.1" in react
    graphiql = Path(finders.find("vendor/graphiql/index.umd.js")).read_text()[:1000]
    # the UMD wrapper: GraphiQL as a global, on the React and ReactDOM globals
    assert ".GraphiQL=t(e.React,e.ReactDOM)" in graphiql


def test_the_page_gets_a_csrf_token_that_lets_the_session_post(development):
    # given an analyst's session that has not got a CSRF cookie yet
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="graphiql-analyst", role=Role.ANALYST))
    # when the page is opened
    response = client.get("/graphql", headers=HTML)
    # then it sets the cookie the page's fetcher reads, and names it
    cookie = response.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert cookie
    assert f'data-csrf-cookie="{django_settings.CSRF_COOKIE_NAME}"' in response.content.decode()
    # and the POST the page's fetcher makes passes Django's CSRF check
    body = json.dumps({"query": "{ viewer { username role } }"})
    answer = client.post(
        "/graphql", body, content_type="application/json", headers={"X-CSRFToken": cookie}
    )
    assert answer.status_code == 200, answer.content
    viewer = {"username": "graphiql-analyst", "role": "ANALYST"}
    assert answer.json() == {"data": {"viewer": viewer}}
    # while the same POST without the token is refused
    refused = client.post("/graphql", body, content_type="application/json")
    assert refused.status_code == 403


def test_a_query_in_the_address_runs_it_rather_than_opening_the_page(development):
    # ?query= is GraphQL over GET (the page keeps its query in ?q=)
    response = Client().get("/graphql", {"query": "{ __typename }"}, headers=HTML)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_no_page_outside_development(settings):
    settings.DEBUG = False
    for client in (Client(), signed_in()):
        response = client.get("/graphql", headers=HTML)
        assert response.status_code == 404
        assert b"graphiql" not in response.content.lower()


def test_an_anonymous_browser_is_sent_to_sign_in_and_back(development):
    # when an anonymous browser opens GraphiQL with a query in the address
    response = Client().get("/graphql?q=%7B%20viewer%20%7D", headers=HTML)
    # then it is sent to the sign-in page, which brings it back to the same address
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/graphql%3Fq%3D%257B%2520viewer%2520%257D"


def test_no_page_with_the_ide_off_even_in_development(development):
    view = TipGraphView.as_view(schema=schema, graphql_ide=None)
    response = view(RequestFactory().get("/graphql", headers=HTML))
    assert response.status_code == 404
    assert b"graphiql" not in response.content.lower()


def test_the_statistics_csv_view_shows_no_page_in_development(development):
    # StatisticsCsvView is a TipGraphView with graphql_ide=None: a browser gets the CSV
    client = Client()
    client.force_login(UserFactory(username="csv-analyst", role=Role.ANALYST))
    response = client.get("/statistics/clusterSizes.csv", headers=HTML)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert b"graphiql" not in response.content.lower()
    route = resolve("/statistics/clusterSizes.csv").func
    assert route.view_class is StatisticsCsvView
    assert route.view_initkwargs["graphql_ide"] is None
