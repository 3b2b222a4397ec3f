"""The request path, statement by statement: SQL statements and server CPU per request.

    .venv/bin/python bench/request_path_bench.py --tips 100000 --runs 200 [--statements]

Runs requests in this process through Django's whole stack (middleware, authentication, the
GraphQL view, the audit row: everything but the socket), on the traveller-lookup benchmark's
data set (bench/lookup_bench.py loads it into ./var/bench-pgdata, or BENCH_DATABASE_URL), and
prints per request: the SQL statements run, the median process CPU and wall time, and the
time of the same request's read statements replayed through psycopg (its SQL floor).

Requests:

- an audited traveller lookup by e-mail, by a partner investigator's bearer token, with a
  registered (trusted) document: token, gate, lookup, its row and disclosures, deconfliction,
  the audit row. Three selections: the tips' and people's ids (``lookup_bench.QUERY``); the
  tips' source reference and category (what ``throughput_bench.py`` asks, the selection of
  PostGraphile's); and the committed partner document ``schema/documents/TravellerLookup``,
  whole (the ranked matches with their people, identifiers, tips and markings);
- a dashboard page: 100 tips with their ids, by an analyst's bearer token.

CPU is this process's (``time.process_time``): the server's share of a request, without the
client's socket work (bench/throughput_bench.py measures a real server under load). Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import progress, setup_environment
from bench.lookup_bench import QUERY, bench_user, criteria, load, reads, register_query
from bench.throughput_bench import tipgraph_document

#: Print each request's statements (``--statements``).
SHOW_STATEMENTS = False
PAGE = "query Page { tips(first: 100) { edges { node { id sourceReference category } } } }"


def caller(token: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """POST a GraphQL request through the whole stack with ``token``."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def send(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
        )
        payload = response.json()
        if "errors" in payload:
            raise SystemExit(f"the request failed: {payload['errors']}")
        return payload

    return send


def measure(
    label: str, send: Callable[[], Any], runs: int
) -> tuple[int, list[float], list[float], list[float]]:
    """Statements of one request, then CPU, wall and SQL-floor times (ms) of ``runs``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(10):
        send()  # warm: caches of documents, content types, the compiled partner rule
    with CaptureQueriesContext(connection) as captured:
        send()
    statements = len(captured)
    if SHOW_STATEMENTS:
        print(f"\n{label}: {statements} statements", file=sys.stderr)
        for n, query in enumerate(captured, 1):
            print(f"  {n:>2}. {' '.join(query['sql'].split())[:160]}", file=sys.stderr)
    # each read as the server ran it: prepared (backend.prepared) with its parameters, or text
    replayed = [q.get("prepared", (q["sql"], None)) for q in captured if reads(q["sql"])]
    cpu, wall, floor = [], [], []
    raw = connection.connection
    for n in range(runs):
        started_cpu, started = time.process_time(), time.perf_counter()
        send()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with psycopg.Cursor(raw) as cursor:
            for sql, params in replayed:
                cursor.execute(sql, params, prepare=params is not None)
                cursor.fetchall()
        floor.append((time.perf_counter() - started) * 1000)
        progress(label, n + 1, runs)
    return statements, cpu, wall, floor


def register_documents() -> tuple[str, str]:
    """Register the documents as the throughput benchmark does (the committed ones, as ``make
    serve`` does, and its selection), then ``QUERY``, in the benchmark's database only; the
    texts of that selection and of the committed partner document, as registered."""
    partner = tipgraph_document("registered")
    fields = tipgraph_document("equivalent")  # (each loads the committed documents first)
    register_query()
    return fields.text, partner.text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=100_000, help="data set size (100000)")
    parser.add_argument("--runs", type=int, default=200, help="requests timed per kind (200)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--statements", action="store_true", help="print each request's statements (cut)"
    )
    args = parser.parse_args()
    global SHOW_STATEMENTS
    SHOW_STATEMENTS = args.statements
    setup_environment("bench-pgdata")
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]  # the test client's host name
    load(args.tips, args.seed)
    _, investigator = bench_user()
    fields, partner_document = register_documents()
    lookups = [c for c in criteria(args.tips, random.Random(args.seed)) if "email" in c]
    lookup = caller(investigator)
    _, analyst = bench_user("bench-analyst", "ANALYST")
    page = caller(analyst)
    turn = iter(range(10**9))

    def asked() -> dict[str, Any]:
        return lookups[next(turn) % len(lookups)]

    rows = {
        "audited lookup by e-mail (partner token)": measure(
            "lookup", lambda: lookup(QUERY, {"i": asked()}), args.runs
        ),
        "  the same, tips' reference and category": measure(
            "lookup-fields", lambda: lookup(fields, {"input": asked()}), args.runs
        ),
        "  the same, the committed partner document": measure(
            "lookup-document", lambda: lookup(partner_document, {"input": asked()}), args.runs
        ),
        "dashboard page: 100 tips with ids (analyst)": measure(
            "page", lambda: page(PAGE, {}), args.runs
        ),
    }
    print(f"\nrequest path on {args.tips} tips, {args.runs} requests each (medians, ms)")
    print(f"{'request':<46} {'SQL':>4} {'CPU':>7} {'wall':>7} {'floor':>7} {'wall/floor':>10}")
    for label, (statements, cpu, wall, floor) in rows.items():
        w, f = statistics.median(wall), statistics.median(floor)
        print(
            f"{label:<46} {statements:>4} {statistics.median(cpu):>7.2f} {w:>7.2f} "
            f"{f:>7.2f} {w / f:>9.1f}x"
        )


if __name__ == "__main__":
    main()
