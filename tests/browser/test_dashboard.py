"""The analyst dashboard in headless Chromium: sign in through the real form, wait for the tip
graph and the trend charts to draw, check them against the data, and save screenshots under
artifacts/browser/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from backend.models import Role, TipCategory
from tests.backend.dashboard.builders import TipGraphData, build_tip_graph
from tests.browser.helpers import screenshot, sign_in, watch
from tests.factories import SourceFactory, TipFactory, UserFactory

# The live server reads what the test wrote, so the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

ANALYST = "browser-analyst"
LINKED_TIPS = 3
#: Tips the test makes per category, all within the charts' windows (the graph's tips are
#: DISTRIBUTION tips received in the last few days).
PER_CATEGORY = {"distribution": 1 + LINKED_TIPS, "possession": 5, "enticement": 2}

#: Coloured (not blank, not white) pixels on the canvases inside an element.
PAINTED_PIXELS = """(element) => {
  let painted = 0;
  for (const canvas of element.querySelectorAll("canvas")) {
    if (!canvas.width || !canvas.height) continue;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
      if (a > 0 && !(r > 240 && g > 240 && b > 240)) painted += 1;
    }
  }
  return painted;
}"""

#: The data Chart.js holds for a canvas: what it actually draws.
CHART_DATA = """(id) => {
  const chart = Chart.getChart(id);
  return {
    labels: chart.data.labels,
    datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
  };
}"""

#: Where on the page a graph node is drawn, by Cytoscape's own reckoning.
NODE_POSITION = """([element, kind]) => {
  const node = element.cytoscape.nodes(`[kind = "${kind}"]`)[0];
  const box = element.getBoundingClientRect();
  const at = node.renderedPosition();
  return { id: node.id(), x: box.left + at.x, y: box.top + at.y };
}"""


@pytest.fixture
def graph() -> TipGraphData:
    """A tip linked to three others, plus tips of two more categories and review decisions."""
    UserFactory(username=ANALYST, role=Role.ANALYST)
    data = build_tip_graph(LINKED_TIPS)
    source = SourceFactory()
    now = timezone.now()
    for n in range(PER_CATEGORY["possession"]):
        reviewed = n < 4  # four reviewed, three of them actionable: a share of 75 %
        TipFactory(
            source=source,
            category=TipCategory.POSSESSION,
            # one instant for all: the month's share must not split at a month boundary
            received_at=now - dt.timedelta(days=10),
            is_actionable=(n < 3) if reviewed else None,
            reviewed_at=now - dt.timedelta(days=9) if reviewed else None,
        )
    for n in range(PER_CATEGORY["enticement"]):
        TipFactory(
            source=source,
            category=TipCategory.ENTICEMENT,
            received_at=now - dt.timedelta(days=40, hours=n),
        )
    return data


def wait_until_drawn(page: Any, selector: str) -> Any:
    """Wait for the panel to leave its loading state, then insist it is ready, saying why not."""
    element = page.wait_for_selector(f'{selector}:not([data-state="loading"])')
    state = element.get_attribute("data-state")
    status = page.text_content("#graph-status") + " | " + page.text_content("#trends-status")
    assert state == "ready", f"{selector} is {state!r}: {status}"
    return element


def assert_saved(path: Any) -> None:
    assert path.exists(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small"


def test_analyst_sees_the_tip_graph_and_trends(chromium, graph, live_server):
    # given the data above (made before the browser opens: see conftest.py)
    with chromium() as page:
        # when an analyst signs in through the form and lands on the dashboard
        problems, elsewhere = watch(page, live_server.url)
        sign_in(page, ANALYST)
        assert page.url.endswith("/dashboard/")

        # then the graph shows the newest linked tip with all its linked records
        tip_graph = wait_until_drawn(page, "#tip-graph")
        assert int(tip_graph.get_attribute("data-nodes")) == graph.node_count == 19
        assert int(tip_graph.get_attribute("data-edges")) == graph.edge_count
        assert tip_graph.evaluate(PAINTED_PIXELS) > 2_000, "the graph canvas is blank"
        status = page.text_content("#graph-status")
        assert status.startswith("GRAPH-CENTRE (distribution, received)"), status
        assert "3 linked tips, 6 identifiers, 3 people, 6 leads." in status
        legend = page.locator("#graph-legend li").all_text_contents()
        assert legend == ["Tip shown", "Linked tip", "Identifier", "Person", "Lead"]

        # and the weekly chart has a line per category adding up to the tips made
        weekly = wait_until_drawn(page, "#weekly-chart")
        chart = page.evaluate(CHART_DATA, "weekly-chart")
        sums = {d["label"]: sum(v or 0 for v in d["data"]) for d in chart["datasets"]}
        assert sums == PER_CATEGORY
        assert len(chart["labels"]) == int(weekly.get_attribute("data-periods")) >= 26
        assert int(weekly.get_attribute("data-total")) == sum(PER_CATEGORY.values())
        painted = page.locator(".chart-box:has(#weekly-chart)").evaluate(PAINTED_PIXELS)
        assert painted > 1_000, "the weekly chart is blank"

        # and the monthly chart shows the one month with reviews: 3 of 4 actionable
        wait_until_drawn(page, "#share-chart")
        share = page.evaluate(CHART_DATA, "share-chart")
        by_label = {d["label"]: d["data"] for d in share["datasets"]}
        assert [v for v in by_label["actionable share (%)"] if v is not None] == [75.0]
        assert sum(v or 0 for v in by_label["tips reviewed"]) == 4
        assert len(share["labels"]) == 12

        # and the cluster chart counts the graph's cluster of four and the single tips
        wait_until_drawn(page, "#clusters-chart")
        clusters = page.evaluate(CHART_DATA, "clusters-chart")
        counts = dict(zip(clusters["labels"], clusters["datasets"][0]["data"], strict=True))
        assert counts["3-5"] == 1
        assert counts["1"] == 7  # 5 possession + 2 enticement tips, linked to nothing

        # and each chart offers its CSV, for the browser's time zone
        href = page.get_attribute("#weekly-csv", "href")
        assert href.startswith("/statistics/tipStatistics.csv?by=CATEGORY&interval=WEEK")
        assert "timeZone=Europe%2FLondon" in href
        csv = page.request.get(href)
        assert csv.status == 200, csv.text()
        assert csv.headers["content-type"].startswith("text/csv")

        assert_saved(screenshot(page.locator("section").nth(0), "dashboard-graph.png"))
        assert_saved(screenshot(page.locator("section").nth(1), "dashboard-trends.png"))
        assert_saved(screenshot(page, "dashboard.png", full_page=True))

        # when the analyst clicks a linked tip
        target = page.evaluate(NODE_POSITION, [tip_graph, "tip"])
        page.mouse.click(target["x"], target["y"])
        # then the graph is centred on it: that tip, its identifier and lead, and the first
        # tip with its three leads
        page.wait_for_selector(f'#tip-graph[data-tip="{target["id"]}"][data-state="ready"]')
        assert int(tip_graph.get_attribute("data-nodes")) == 1 + 1 + 1 + 1 + LINKED_TIPS
        assert f"tip={target['id']}" in page.url.replace("%3D", "=")
        assert_saved(screenshot(page.locator("section").nth(0), "dashboard-recentred.png"))

        # when the analyst looks the first tip up by its source reference
        page.fill("#tip-input", "GRAPH-CENTRE")
        page.press("#tip-input", "Enter")
        # then the whole graph is back
        page.wait_for_selector('#tip-graph[data-nodes="19"][data-state="ready"]')
        assert "tip=GRAPH-CENTRE" in page.url

        # and nothing went wrong in the page along the way, and nothing came from elsewhere
        assert problems == []
        assert elsewhere == []


@pytest.mark.parametrize("role", [Role.REPORTING_CLIENT, Role.INVESTIGATOR])
def test_other_roles_are_refused(chromium, role):
    # given a signed-up user of a role that may not browse the tip graph
    username = f"browser-{role.lower()}"
    UserFactory(username=username, role=role)
    TipFactory()
    with chromium() as page:
        # when they sign in and open the dashboard
        sign_in(page, username)
        response = page.goto("/dashboard/")
        # then the page refuses them, says why, and runs no query
        assert response.status == 403
        assert page.text_content("[data-testid=denied]") == "The dashboard is not available to you"
        assert "does not give access to the tip graph" in page.text_content("body")
        assert page.locator("#tip-graph").count() == 0
        assert_saved(screenshot(page, f"dashboard-denied-{role.lower()}.png"))


def test_anonymous_visitor_is_sent_to_sign_in(chromium):
    with chromium() as page:
        response = page.goto("/dashboard/")
        assert response.ok
        assert page.url.endswith("/accounts/login/?next=/dashboard/")
        assert page.locator("#id_username").is_visible()
