/*
 * The analyst dashboard: a tip's linked-entity graph (Cytoscape.js) and statistics trends
 * (Chart.js), both read from /graphql with the user's session.
 *
 * The query documents live next to this file (tip_graph.graphql, trends.graphql) so that the
 * Python tests run exactly what the page runs. Data reaches the DOM through textContent
 * only; Cytoscape and Chart.js draw labels on a canvas. When a panel has drawn, its element
 * gets data-state="ready" and counts (data-nodes, data-points, ...) for the browser tests.
 */
(function () {
  "use strict";

  const config = document.body.dataset;
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  // ---------------------------------------------------------------- GraphQL over HTTP

  function csrfToken() {
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
  }

  const documents = new Map();

  /** The text of a query document next to this script, fetched once. */
  async function queryDocument(url) {
    if (!documents.has(url)) {
      documents.set(
        url,
        fetch(url, { credentials: "same-origin" }).then((response) => {
          if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
          return response.text();
        }),
      );
    }
    return documents.get(url);
  }

  /** POST one operation; resolves to the GraphQL answer ({data, errors}). */
  async function graphql(documentUrl, operationName, variables) {
    const query = await queryDocument(documentUrl);
    const response = await fetch(config.graphqlUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ query, operationName, variables }),
    });
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("application/json")) {
      throw new Error(`the server answered HTTP ${response.status}`);
    }
    return response.json();
  }

  /** One sentence for the errors of an answer, with their codes. */
  function errorText(errors) {
    return errors
      .map((e) => {
        const code = e.extensions && e.extensions.code;
        return code ? `${e.message} (${code})` : e.message;
      })
      .join(" ");
  }

  function setStatus(element, text, isError) {
    element.textContent = text;
    element.classList.toggle("error", Boolean(isError));
  }

  // ---------------------------------------------------------------- the tip graph

  /** Colours (Okabe–Ito, safe for colour-blind readers) and shapes of each kind of node. */
  const KINDS = {
    centre: { label: "Tip shown", color: "#0b3c5d", shape: "round-rectangle", size: 46 },
    tip: { label: "Linked tip", color: "#56b4e9", shape: "round-rectangle", size: 36 },
    identifier: { label: "Identifier", color: "#e69f00", shape: "diamond", size: 30 },
    subject: { label: "Person", color: "#009e73", shape: "ellipse", size: 32 },
    lead: { label: "Lead", color: "#cc79a7", shape: "hexagon", size: 32 },
  };

  const graphElement = document.getElementById("tip-graph");
  const graphStatus = document.getElementById("graph-status");
  const graphDetails = document.getElementById("graph-details");
  const tipInput = document.getElementById("tip-input");
  let cy = null;
  let loadingTip = 0; // the latest request wins when the user clicks faster than answers come

  function drawLegend() {
    const legend = document.getElementById("graph-legend");
    legend.replaceChildren();
    for (const [kind, style] of Object.entries(KINDS)) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch shape-${style.shape}`;
      swatch.style.backgroundColor = style.color;
      item.dataset.kind = kind;
      item.append(swatch, document.createTextNode(style.label));
      legend.append(item);
    }
  }

  /** A global id of a Tip ("Tip:123" in base64) rather than a source reference? */
  function isTipId(value) {
    try {
      return /^Tip:\d+$/.test(atob(value));
    } catch (_) {
      return false;
    }
  }

  function shorten(text, length) {
    return text.length > length ? `${text.slice(0, length - 1)}…` : text;
  }

  function words(value) {
    return String(value).toLowerCase().replaceAll("_", " ");
  }

  /** Rings of the concentric layout, innermost first: the tip, its own records, the tips
   * linked to it, then records reached only through those. */
  const RING = { centre: 4, own: 3, linked: 2, beyond: 1 };

  /** Cytoscape elements for a Tip of tip_graph.graphql: nodes are keyed by global id, so a
   * record reached twice (a lead on two tips, the identifier a link goes through) is one node,
   * in the ring where it was first reached. */
  function graphElements(tip) {
    const nodes = new Map();
    const edges = [];
    let ring = RING.centre;
    const addNode = (id, kind, label, details) => {
      if (!nodes.has(id)) nodes.set(id, { data: { id, kind, label, details, level: ring } });
    };
    const edgeKeys = new Set();
    const addEdge = (source, target, label) => {
      // Two tips sharing two identifiers have two links of one kind: draw one edge for them.
      const key = JSON.stringify([source, target, label]);
      if (edgeKeys.has(key)) return;
      edgeKeys.add(key);
      edges.push({ data: { id: `e${edges.length}`, source, target, label } });
    };
    const addLead = (lead, tipId) => {
      addNode(lead.id, "lead", shorten(lead.title, 28), [
        ["Lead", lead.title],
        ["Status", words(lead.status)],
        ["Office", lead.office ? lead.office.name : "none"],
      ]);
      addEdge(tipId, lead.id, "lead");
    };
    const addIdentifier = (identifier) => {
      addNode(identifier.id, "identifier", shorten(identifier.value, 30), [
        ["Identifier", identifier.value],
        ["Kind", words(identifier.kind)],
      ]);
    };

    addNode(tip.id, "centre", tip.sourceReference, [
      ["Tip", tip.sourceReference],
      ["Category", words(tip.category)],
      ["Status", words(tip.status)],
      ["Priority", String(tip.priority)],
      ["Received", new Date(tip.receivedAt).toLocaleString()],
    ]);
    ring = RING.own;
    for (const { node } of tip.identifiers.edges) {
      addIdentifier(node.identifier);
      addEdge(tip.id, node.identifier.id, words(node.event));
    }
    for (const { node } of tip.subjects.edges) {
      addNode(node.subject.id, "subject", shorten(node.subject.fullName, 28), [
        ["Person", node.subject.fullName],
        ["Role in this tip", words(node.role)],
      ]);
      addEdge(tip.id, node.subject.id, words(node.role));
    }
    for (const { node } of tip.leads ? tip.leads.edges : []) addLead(node, tip.id);
    for (const { node: link } of tip.links ? tip.links.edges : []) {
      const other = link.tip;
      ring = RING.linked;
      addNode(other.id, "tip", other.sourceReference, [
        ["Linked tip", other.sourceReference],
        ["Category", words(other.category)],
        ["Status", words(other.status)],
        ["Received", new Date(other.receivedAt).toLocaleString()],
        ["Why linked", link.reason],
      ]);
      addEdge(tip.id, other.id, words(link.kind));
      ring = RING.beyond;
      if (link.identifier) {
        addIdentifier(link.identifier);
        addEdge(other.id, link.identifier.id, "shares");
      }
      if (link.subject) {
        addNode(link.subject.id, "subject", shorten(link.subject.fullName, 28), [
          ["Person", link.subject.fullName],
        ]);
        addEdge(other.id, link.subject.id, "shares");
      }
      for (const { node: lead } of other.leads ? other.leads.edges : []) addLead(lead, other.id);
    }
    return { nodes: [...nodes.values()], edges };
  }

  function graphStyle() {
    const style = [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "font-size": 10,
          "text-valign": "bottom",
          "text-margin-y": 4,
          "text-wrap": "ellipsis",
          "text-max-width": 140,
          color: "#1b1b1b",
          "text-background-color": "#ffffff",
          "text-background-opacity": 0.8,
          "text-background-padding": 1,
          "border-width": 1,
          "border-color": "#ffffff",
        },
      },
      {
        selector: "edge",
        style: {
          width: 1.5,
          "line-color": "#9aa5b1",
          "curve-style": "bezier",
          label: "data(label)",
          "font-size": 8,
          // Edge labels only once zoomed in enough to read them; a crowded graph stays legible.
          "min-zoomed-font-size": 7,
          color: "#52606d",
          "text-rotation": "autorotate",
          "text-background-color": "#ffffff",
          "text-background-opacity": 0.8,
        },
      },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#d55e00" } },
      { selector: 'node[kind = "tip"]', style: { "border-color": "#0b3c5d" } },
    ];
    for (const [kind, s] of Object.entries(KINDS)) {
      style.push({
        selector: `node[kind = "${kind}"]`,
        style: { "background-color": s.color, shape: s.shape, width: s.size, height: s.size },
      });
    }
    style.push({ selector: 'node[kind = "centre"]', style: { "font-weight": "bold" } });
    return style;
  }

  function showDetails(rows) {
    const items = [];
    for (const [term, value] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      items.push(dt, dd);
    }
    graphDetails.replaceChildren(...items);
  }

  /** "3 of 57 identifiers" when the query's page limit cut a list short. */
  function truncation(tip) {
    const parts = [];
    const check = (connection, shown, noun) => {
      if (connection && connection.totalCount > shown) {
        parts.push(`${shown} of ${connection.totalCount} ${noun}`);
      }
    };
    check(tip.identifiers, tip.identifiers.edges.length, "identifiers");
    check(tip.subjects, tip.subjects.edges.length, "people");
    check(tip.leads, tip.leads ? tip.leads.edges.length : 0, "leads");
    check(tip.links, tip.links ? tip.links.edges.length : 0, "links to other tips");
    return parts.length ? ` Showing ${parts.join(", ")}.` : "";
  }

  function drawGraph(tip) {
    const { nodes, edges } = graphElements(tip);
    if (cy) cy.destroy();
    cy = cytoscape({
      container: graphElement,
      elements: { nodes, edges },
      style: graphStyle(),
      minZoom: 0.2,
      maxZoom: 3,
      layout: {
        name: "concentric",
        concentric: (node) => node.data("level"),
        levelWidth: () => 1,
        minNodeSpacing: 28,
        animate: false,
      },
    });
    // Reachable from the container (not a global), for the browser tests and the console.
    graphElement.cytoscape = cy;
    cy.on("tap", "node", (event) => {
      const node = event.target;
      showDetails(node.data("details"));
      if (node.data("kind") === "tip") showTip(node.id(), { push: true });
    });
    const counts = {};
    for (const node of nodes) counts[node.data.kind] = (counts[node.data.kind] || 0) + 1;
    const say = (n, one, many) => `${n || 0} ${(n || 0) === 1 ? one : many}`;
    setStatus(
      graphStatus,
      `${tip.sourceReference} (${words(tip.category)}, ${words(tip.status)}): ` +
        `${say(counts.tip, "linked tip", "linked tips")}, ` +
        `${say(counts.identifier, "identifier", "identifiers")}, ` +
        `${say(counts.subject, "person", "people")}, ${say(counts.lead, "lead", "leads")}.` +
        truncation(tip),
    );
    showDetails(nodes[0].data.details);
    graphElement.dataset.tip = tip.id;
    graphElement.dataset.nodes = String(nodes.length);
    graphElement.dataset.edges = String(edges.length);
    graphElement.dataset.state = "ready";
  }

  function graphFailed(text, state) {
    if (cy) cy.destroy();
    cy = null;
    graphElement.cytoscape = null;
    graphElement.dataset.nodes = "0";
    graphElement.dataset.edges = "0";
    graphElement.dataset.state = state;
    setStatus(graphStatus, text, state === "error");
  }

  /** Draw the graph of a tip given by global id or source reference. */
  async function showTip(value, { push }) {
    const request = ++loadingTip;
    value = value.trim();
    tipInput.value = value;
    if (push) {
      const url = new URL(window.location.href);
      url.searchParams.set("tip", value);
      window.history.pushState({ tip: value }, "", url);
    }
    graphElement.dataset.state = "loading";
    setStatus(graphStatus, "Loading…");
    try {
      const byId = isTipId(value);
      const answer = await graphql(
        config.graphQueryUrl,
        byId ? "TipGraphById" : "TipGraphByReference",
        byId ? { id: value } : { reference: value },
      );
      if (request !== loadingTip) return;
      if (answer.errors && answer.errors.length) {
        graphFailed(`The graph could not be loaded: ${errorText(answer.errors)}`, "error");
        return;
      }
      let tip;
      let note = "";
      if (byId) {
        tip = answer.data.node;
      } else {
        const found = answer.data.tips;
        tip = found.edges.length ? found.edges[0].node : null;
        if (found.totalCount > 1) {
          note = ` ${found.totalCount} tips have this reference; the most recent is shown.`;
        }
      }
      if (!tip) {
        graphFailed(`No tip you may see has the reference or id "${value}".`, "empty");
        return;
      }
      drawGraph(tip);
      tipInput.value = tip.sourceReference; // what analysts know a tip by, rather than its id
      if (note) graphStatus.textContent += note;
    } catch (error) {
      if (request === loadingTip) graphFailed(`The graph could not be loaded: ${error.message}`, "error");
    }
  }

  function startGraph() {
    drawLegend();
    document.getElementById("tip-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (tipInput.value.trim()) showTip(tipInput.value, { push: true });
    });
    window.addEventListener("popstate", () => {
      const tip = new URL(window.location.href).searchParams.get("tip") || config.defaultTip;
      if (tip) showTip(tip, { push: false });
    });
    const tip = new URL(window.location.href).searchParams.get("tip") || config.defaultTip;
    if (tip) {
      showTip(tip, { push: false });
    } else {
      graphFailed("No tip is linked to another yet: enter a source reference to see a tip.", "empty");
    }
  }

  // ---------------------------------------------------------------- trends

  const CATEGORY_COLOURS = {
    POSSESSION: "#0072b2",
    DISTRIBUTION: "#d55e00",
    PRODUCTION: "#009e73",
    ENTICEMENT: "#cc79a7",
    CHILD_SEX_TOURISM: "#e69f00",
    OTHER: "#7f7f7f",
  };
  const CLUSTER_SIZES = ["1", "2", "3-5", "6-10", "11-50", "51+"];

  function isoDate(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  }

  /** The first days (local midnight) of the last ``count`` ISO weeks, this one included. */
  function weekStarts(count) {
    const now = new Date();
    const monday = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    monday.setDate(monday.getDate() - ((monday.getDay() + 6) % 7));
    const starts = [];
    for (let n = count - 1; n >= 0; n--) {
      starts.push(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() - 7 * n));
    }
    return starts;
  }

  /** The first days of the last ``count`` months, this one included. */
  function monthStarts(count) {
    const now = new Date();
    const starts = [];
    for (let n = count - 1; n >= 0; n--) {
      starts.push(new Date(now.getFullYear(), now.getMonth() - n, 1));
    }
    return starts;
  }

  /** Every period asked for, plus any other the server answered with, in order. */
  function periods(starts, rows) {
    const all = new Set(starts.map(isoDate));
    for (const row of rows) if (row.period) all.add(row.period);
    return [...all].sort();
  }

  function csvLink(id, field, args) {
    const params = new URLSearchParams(args);
    const query = params.toString();
    document.getElementById(id).href = `${config.csvBaseUrl}${field}.csv${query ? `?${query}` : ""}`;
  }

  /** The note under a chart: why points are missing, when any are, and that the last
   * period is not over yet. */
  function chartNote(id, table, what, running) {
    const parts = [];
    if (table.suppressedRows) {
      parts.push(
        `${table.suppressedRows} ${what} had fewer than ${table.suppressionThreshold} ` +
          "records and are suppressed: they are drawn as gaps.",
      );
    }
    if (running) parts.push(`The last ${running} is still running.`);
    document.getElementById(id).textContent = parts.join(" ");
  }

  function markReady(canvas, attributes) {
    for (const [name, value] of Object.entries(attributes)) canvas.dataset[name] = String(value);
    canvas.dataset.state = "ready";
  }

  const baseOptions = {
    responsive: true,
    maintainAspectRatio: false,
    // Drawn at once: screenshots and data-state="ready" then show the finished chart.
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12, font: { size: 11 } } } },
  };

  function drawWeekly(table, starts) {
    const labels = periods(starts, table.rows);
    const groups = [...new Set(table.rows.map((r) => r.group))].sort();
    const cells = new Map(table.rows.map((r) => [`${r.period}|${r.group}`, r]));
    let points = 0;
    let total = 0;
    const datasets = groups.map((group) => {
      const colour = CATEGORY_COLOURS[group] || "#444444";
      const data = labels.map((period) => {
        const row = cells.get(`${period}|${group}`);
        if (!row) return 0; // no tip of that category that week
        if (row.suppressed || row.count === null) return null; // a gap, explained below
        points += 1;
        total += row.count;
        return row.count;
      });
      return {
        label: words(group),
        data,
        borderColor: colour,
        backgroundColor: colour,
        pointRadius: 2,
        tension: 0, // straight segments: a curve would suggest counts between the weeks
        spanGaps: false,
      };
    });
    const canvas = document.getElementById("weekly-chart");
    new Chart(canvas, {
      type: "line",
      data: { labels, datasets },
      options: {
        ...baseOptions,
        scales: {
          x: { type: "category", title: { display: true, text: "week starting" } },
          y: { beginAtZero: true, title: { display: true, text: "tips" }, ticks: { precision: 0 } },
        },
      },
    });
    chartNote("weekly-note", table, "weekly counts", "week");
    markReady(canvas, { points, total, series: datasets.length, periods: labels.length });
  }

  function drawShare(table, starts) {
    const labels = periods(starts, table.rows).map((p) => p.slice(0, 7));
    const byMonth = new Map(table.rows.map((r) => [r.period.slice(0, 7), r]));
    let points = 0;
    let reviewedTotal = 0;
    const reviewed = labels.map((month) => {
      const row = byMonth.get(month);
      if (!row) return 0;
      if (row.suppressed || row.reviewed === null) return null;
      reviewedTotal += row.reviewed;
      return row.reviewed;
    });
    const share = labels.map((month) => {
      const row = byMonth.get(month);
      if (!row || row.suppressed || row.share === null) return null;
      points += 1;
      return Math.round(row.share * 1000) / 10;
    });
    const canvas = document.getElementById("share-chart");
    new Chart(canvas, {
      data: {
        labels,
        datasets: [
          {
            type: "line",
            label: "actionable share (%)",
            data: share,
            yAxisID: "share",
            borderColor: "#d55e00",
            backgroundColor: "#d55e00",
            spanGaps: false,
          },
          {
            type: "bar",
            label: "tips reviewed",
            data: reviewed,
            yAxisID: "count",
            backgroundColor: "rgba(0, 114, 178, 0.35)",
          },
        ],
      },
      options: {
        ...baseOptions,
        scales: {
          x: { type: "category", title: { display: true, text: "month received" } },
          share: {
            position: "left",
            min: 0,
            max: 100,
            title: { display: true, text: "actionable (%)" },
          },
          count: {
            position: "right",
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: "reviewed" },
            ticks: { precision: 0 },
          },
        },
      },
    });
    chartNote("share-note", table, "months", "month");
    markReady(canvas, { points, reviewed: reviewedTotal, periods: labels.length });
  }

  function drawClusters(table) {
    const byGroup = new Map(table.rows.map((r) => [r.group, r]));
    const labels = [...new Set([...CLUSTER_SIZES, ...byGroup.keys()])];
    let points = 0;
    const data = labels.map((group) => {
      const row = byGroup.get(group);
      if (!row) return 0;
      if (row.suppressed || row.count === null) return null;
      points += 1;
      return row.count;
    });
    const canvas = document.getElementById("clusters-chart");
    new Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [{ label: "clusters", data, backgroundColor: "#56b4e9" }],
      },
      options: {
        ...baseOptions,
        plugins: { legend: { display: false } },
        scales: {
          x: { type: "category", title: { display: true, text: "tips in the cluster" } },
          y: { beginAtZero: true, title: { display: true, text: "clusters" }, ticks: { precision: 0 } },
        },
      },
    });
    chartNote("clusters-note", table, "cluster sizes", "");
    markReady(canvas, { points, total: table.total === null ? "" : table.total });
  }

  async function startTrends() {
    const status = document.getElementById("trends-status");
    const weeks = weekStarts(26);
    const months = monthStarts(12);
    const weeksSince = weeks[0].toISOString();
    const monthsSince = months[0].toISOString();
    csvLink("weekly-csv", "tipStatistics", {
      by: "CATEGORY",
      interval: "WEEK",
      timeZone,
      since: weeksSince,
    });
    csvLink("share-csv", "actionableShare", { interval: "MONTH", timeZone, since: monthsSince });
    csvLink("clusters-csv", "clusterSizes", {});
    const canvases = ["weekly-chart", "share-chart", "clusters-chart"].map((id) =>
      document.getElementById(id),
    );
    try {
      const answer = await graphql(config.trendsQueryUrl, "DashboardTrends", {
        timeZone,
        weeksSince,
        monthsSince,
      });
      const data = answer.data || {};
      if (data.weekly) drawWeekly(data.weekly, weeks);
      if (data.share) drawShare(data.share, months);
      if (data.clusters) drawClusters(data.clusters);
      for (const canvas of canvases) {
        if (canvas.dataset.state !== "ready") canvas.dataset.state = "error";
      }
      if (answer.errors && answer.errors.length) {
        setStatus(status, `Some statistics could not be loaded: ${errorText(answer.errors)}`, true);
      } else {
        setStatus(status, `Periods start at midnight in ${timeZone}.`);
      }
    } catch (error) {
      for (const canvas of canvases) canvas.dataset.state = "error";
      setStatus(status, `The statistics could not be loaded: ${error.message}`, true);
    }
  }

  startGraph();
  startTrends();
})();
