"""The /dashboard/ page: who may open it, and which tip its graph starts from."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from strawberry import relay

from backend.models import Role
from tests.backend.dashboard.builders import build_tip_graph
from tests.factories import TipFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(role: str, **fields) -> Client:
    client = Client()
    client.force_login(UserFactory(username=f"dash-{role.lower()}", role=role, **fields))
    return client


def test_anonymous_is_sent_to_sign_in():
    # when an anonymous browser opens the dashboard
    response = Client().get("/dashboard/")
    # then it is redirected to the sign-in page, coming back afterwards
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.PROGRAM_MANAGER])
def test_graph_readers_get_the_page_starting_at_the_newest_linked_tip(role):
    # given a linked tip and a newer tip that is linked to nothing
    data = build_tip_graph(1)
    TipFactory(received_at=timezone.now())
    # when an analyst or a program manager opens the dashboard
    response = signed_in(role).get("/dashboard/")
    # then the page starts from the newest linked tip, and sets the CSRF cookie its script reads
    assert response.status_code == 200
    assert response.context["default_tip"] == relay.to_base64("Tip", data.centre.pk)
    assert f'data-default-tip="{response.context["default_tip"]}"' in response.content.decode()
    assert "csrftoken" in response.cookies


def test_page_without_linked_tips_has_no_default():
    TipFactory()
    response = signed_in(Role.ANALYST).get("/dashboard/")
    assert response.status_code == 200
    assert response.context["default_tip"] is None


def test_a_removed_tip_is_not_the_default_for_an_analyst():
    # given the newest linked tip was removed
    data = build_tip_graph(1)
    data.centre.removed_at = timezone.now()
    data.centre.save()
    # when an analyst opens the dashboard
    response = signed_in(Role.ANALYST).get("/dashboard/")
    # then the graph does not start from it (its link partner has no visible link left either)
    assert response.context["default_tip"] is None


@pytest.mark.parametrize(
    "role",
    [Role.INVESTIGATOR, Role.REPORTING_CLIENT, Role.AUDITOR, Role.SYSTEM_ADMINISTRATOR],
)
def test_other_roles_get_a_403_page_that_says_why(role):
    # when a role that may not browse the tip graph opens the dashboard
    response = signed_in(role).get("/dashboard/")
    # then it is refused with a page naming who may use it, and nothing of the graph
    assert response.status_code == 403
    page = response.content.decode()
    assert "does not give access to the tip graph" in page
    assert "analysts and program managers" in page
    assert "tip_graph.graphql" not in page


def test_an_analyst_whose_training_lapsed_is_refused_with_the_reason():
    response = signed_in(Role.ANALYST, annual_training_at=None).get("/dashboard/")
    assert response.status_code == 403
    assert "no annual privacy and security training is on record" in response.content.decode()


def test_the_page_only_accepts_get():
    response = signed_in(Role.ANALYST).post("/dashboard/")
    assert response.status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "vendor/cytoscape/cytoscape.min.js",
        "vendor/chart.js/chart.umd.js",
        "dashboard/dashboard.js",
        "dashboard/tip_graph.graphql",
        "dashboard/trends.graphql",
    ],
)
def test_the_page_scripts_are_static_files(path):
    # the libraries come from node_modules (installed by `make` with npm ci), not a CDN
    assert finders.find(path), f"{path} not found: run `make test` (it runs npm ci)"
