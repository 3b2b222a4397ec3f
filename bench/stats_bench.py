"""Statistics benchmark: every statistics query at 1M tips, in-process beside GraphQL over HTTP.

    .venv/bin/python bench/stats_bench.py                           # 1M tips (loads once)
    .venv/bin/python bench/stats_bench.py --tips 100000 --runs 5    # quick look

It loads (once; --reload to start over) a generated data set into its own database: with
DATABASE_URL unset an embedded PostgreSQL under ./var/stats-bench-pgdata, else the database
named in BENCH_DATABASE_URL (never your DATABASE_URL's data). The data set, for N tips:

- N tips received over the last two years (volume growing over time) from 21 sources of every
  source kind, in every category, status and priority band; most tips older than a fortnight
  carry a review decision (is_actionable, reviewed_at hours to weeks after receipt), the
  referred ones a referred_at; about 1% are removed (soft-deleted);
- clusters: about 90% of the tips in clusters of 1 to 60 tips (heavy-tailed), the rest in
  none (cluster_id null, each then a cluster of one);
- N/20 leads over 20 offices in every status and outcome, N/5 traveller lookups over the
  last year by 30 investigators (about 8% with hits), N/10 targeting notes with a screening
  outcome plus N/10 general notes.

Everything is written with COPY. The per-row audit history triggers (audit_capture_change)
and other user triggers of the loaded tables are disabled for the load only (ALTER TABLE ...
DISABLE TRIGGER USER, re-enabled straight after): the history rows of a synthetic data set
are of no interest and would triple the load. The secondary indexes of the big tables are
dropped for the load and rebuilt after it (same definitions, from pg_get_indexdef). Then
VACUUM (ANALYZE), so that the visibility map is set, as index-only scans need.

It then starts the server on 127.0.0.1 (Django's development server, one thread) and, for
each statistic with typical arguments, times side by side in one run: the service function
in backend.services.statistics called directly (Python + SQL, threshold 0) and the GraphQL
query over HTTP with a bearer token of an analyst (exact figures) and of a reporting client
(small groups suppressed); one CSV download too. After warm-up runs it prints median, p90
and max per query, the ratio HTTP/direct, and the first lines of EXPLAIN (ANALYZE, BUFFERS)
of each statement (index-only scans? heap fetches?). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import as_owner, percentile, progress, setup_environment, start_server

DAY = 86_400.0
NULL = "\\N"  # COPY's null


#: Tables written by the load, biggest first; their user triggers are off while loading.
LOADED = (
    "backend_tip",
    "backend_cluster",
    "backend_lead",
    "backend_travellerlookup",
    "backend_note",
)
#: Tables whose secondary indexes are dropped for the load and rebuilt after it.
REINDEXED = ("backend_tip", "backend_lead", "backend_travellerlookup", "backend_note")

SOURCE_KINDS = (  # kind, share of tips
    ("ESP_CLEARINGHOUSE", 0.55),
    ("PUBLIC_TIP_LINE", 0.14),
    ("FIELD_OFFICE", 0.08),
    ("LOCAL_LAW_ENFORCEMENT", 0.09),
    ("FOREIGN_LAW_ENFORCEMENT", 0.07),
    ("INTERPOL", 0.03),
    ("NGO", 0.04),
)
CATEGORIES = (
    ("POSSESSION", 0.36),
    ("DISTRIBUTION", 0.30),
    ("PRODUCTION", 0.06),
    ("ENTICEMENT", 0.14),
    ("CHILD_SEX_TOURISM", 0.04),
    ("OTHER", 0.10),
)
PRIORITIES = ((1, 0.05), (2, 0.15), (3, 0.45), (4, 0.25), (5, 0.10))
LEAD_STATUSES = (
    ("DRAFT", 0.10),
    ("REFERRED", 0.25),
    ("ACCEPTED", 0.25),
    ("DECLINED", 0.08),
    ("CLOSED", 0.27),
    ("CANCELLED", 0.05),
)
OUTCOMES = (
    "ARREST",
    "SEARCH_WARRANT",
    "INDICTMENT",
    "VICTIM_IDENTIFIED",
    "NO_ACTION",
    "REFERRED_ELSEWHERE",
)
SCREENING = (("NONE", 0.70), ("ADDITIONAL_SCREENING", 0.20), ("REFERRED_TO_SECONDARY", 0.10))
WORDS = [
    "account",
    "user",
    "uploaded",
    "images",
    "chat",
    "platform",
    "reported",
    "hash",
    "match",
    "minor",
    "suspect",
    "address",
    "device",
    "phone",
    "travel",
    "flight",
    "school",
    "coach",
    "forum",
    "payment",
    "transfer",
    "contact",
    "video",
]


def pick(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def users(now: datetime) -> dict[str, Any]:
    """The analyst, the reporting client and 30 investigators, all fully approved."""
    from backend.models import Role, User

    approved = {
        "nominated_by": "bench",
        "nominated_at": now,
        "certified_at": now,
        "compliance_reviewed_at": now,
        "approved_at": now,
        "rules_accepted_at": now,
        "annual_training_at": now,
        "privileges_reviewed_at": now,
    }
    out = {}
    for name, role in (
        ("bench-analyst", Role.ANALYST),
        ("bench-reporting", Role.REPORTING_CLIENT),
        *((f"bench-investigator-{i:02}", Role.INVESTIGATOR) for i in range(30)),
    ):
        out[name], _ = User.objects.update_or_create(
            username=name, defaults={"role": role, **approved}
        )
    return out


def drop_indexes(cursor: Any) -> list[str]:
    """Drop the non-constraint indexes of the REINDEXED tables; return their definitions."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(REINDEXED)],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]


@as_owner
def load(tips: int, seed: int, *, force: bool = False) -> None:
    """COPY a generated data set: set-based, no per-row ORM work, no history triggers."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from backend import models as m

    call_command("migrate", interactive=False, verbosity=0)
    present = m.Tip.objects.count()
    if not force and present == tips:
        print(f"data set present ({present} tips); --reload to regenerate", file=sys.stderr)
        return
    started = time.perf_counter()
    rng = random.Random(seed)
    now_dt = timezone.now().replace(microsecond=0)
    now = now_dt.timestamp()
    people = users(now_dt)
    investigators = [u.pk for name, u in people.items() if "investigator" in name]
    sources: list[tuple[int, float]] = []
    for kind, share in SOURCE_KINDS:
        for n in range(3):
            source, _ = m.Source.objects.get_or_create(kind=kind, name=f"BENCH {kind} {n}")
            sources.append((source.pk, share * (0.6, 0.3, 0.1)[n]))
    offices = [
        m.Office.objects.get_or_create(name=f"BENCH office {n:02}", defaults={"region": "R"})[0].pk
        for n in range(20)
    ]
    tip_type = ContentType.objects.get_for_model(m.Tip).pk
    raw = connection.connection  # psycopg connection
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE backend_tip, backend_cluster, backend_lead, backend_travellerlookup, "
            "backend_note CASCADE"
        )
        for table in LOADED:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # no per-row history
        indexes = drop_indexes(cursor)
        cursor.execute("SET synchronous_commit = off")

    def copy(table: str, columns: str, rows: list[str]) -> None:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as out:
            out.write("".join(rows))

    # Clusters: sizes 1-60, heavy-tailed, until about 90% of the tips are placed.
    sizes: list[int] = []
    placed = 0
    while placed < int(tips * 0.9):
        size = min(60, int(rng.paretovariate(1.1)), int(tips * 0.9) - placed)
        sizes.append(size)
        placed += size
    slots = [c + 1 for c, size in enumerate(sizes) for _ in range(size)]
    slots += [0] * (tips - len(slots))
    rng.shuffle(slots)
    copy(
        "backend_cluster",
        "id, size, created_at, updated_at",
        [f"{c + 1}\t{size}\t{ts(now)}\t{ts(now)}\n" for c, size in enumerate(sizes)],
    )

    source_ids = [s for s, _ in sources]
    source_weights = [w for _, w in sources]
    span = 730 * DAY
    batch = 100_000
    tip_columns = (
        "id, source_id, source_reference, received_at, category, narrative, status, priority, "
        "handling_caveat, is_actionable, actionable_reason, reviewed_at, referred_at, "
        "cluster_id, created_at, updated_at, escalated, access_to_children, hands_on, "
        "priority_factors, priority_score, removed_at, removed_reason, raw_record, intake_digest"
    )
    for start in range(0, tips, batch):
        n = min(batch, tips - start)
        rows = []
        chosen_sources = rng.choices(source_ids, weights=source_weights, k=n)
        for k in range(start, start + n):
            # Volume grows over the two years: half uniform, half rising linearly.
            u = rng.random()
            age = span * u if rng.random() < 0.5 else span * (1 - math.sqrt(u))
            received = now - age
            reviewed_at = referred_at = removed_at = None
            is_actionable: bool | None = None
            review_chance = 0.92 if age > 14 * DAY else 0.08 * age / DAY
            if rng.random() < review_chance:
                reviewed_at = min(now, received + rng.expovariate(1 / (40 * 3600)) + 600)
                is_actionable = rng.random() < 0.35
            if is_actionable is None:
                status = "UNDER_REVIEW" if rng.random() < 0.4 else "RECEIVED"
            elif not is_actionable:
                status = "CLOSED" if rng.random() < 0.3 else "NOT_ACTIONABLE"
            else:
                r = rng.random()
                if r < 0.55 and reviewed_at is not None:
                    referred_at = min(now, reviewed_at + rng.expovariate(1 / (5 * DAY)))
                    status = "REFERRED" if r < 0.4 else "CLOSED"
                else:
                    status = "ACTIONABLE"
            if rng.random() < 0.01:
                removed_at = min(now, received + rng.uniform(0, 30 * DAY))
            words = " ".join(rng.choices(WORDS, k=rng.randint(15, 45)))
            cluster = slots[k]
            rows.append(
                f"{k + 1}\t{chosen_sources[k - start]}\tBENCH-{k}\t{ts(received)}\t"
                f"{pick(rng, CATEGORIES)}\t{words}\t{status}\t{pick(rng, PRIORITIES)}\tNONE\t"
                f"{NULL if is_actionable is None else 't' if is_actionable else 'f'}\t\t"
                f"{NULL if reviewed_at is None else ts(reviewed_at)}\t"
                f"{NULL if referred_at is None else ts(referred_at)}\t"
                f"{cluster or NULL}\t{ts(received)}\t{ts(received)}\tf\tf\tf\t[]\t\\N\t"
                f"{NULL if removed_at is None else ts(removed_at)}\t"
                f"{'bench removal' if removed_at else ''}\t{{}}\t\n"
            )
        copy("backend_tip", tip_columns, rows)
        progress("tips", start + n, tips)

    leads = max(1, tips // 20)
    rows = []
    for k in range(leads):
        created = now - span * rng.random()
        status = pick(rng, LEAD_STATUSES)
        office = NULL if status == "DRAFT" else rng.choice(offices)
        if status == "CANCELLED" and rng.random() < 0.5:
            office = NULL
        referred = NULL if office == NULL else ts(min(now, created + rng.uniform(0, 9 * DAY)))
        outcome = rng.choice(OUTCOMES) if status == "CLOSED" else ""
        if status == "ACCEPTED" and rng.random() < 0.2:
            outcome = rng.choice(OUTCOMES)
        removed = ts(min(now, created + DAY)) if rng.random() < 0.01 else NULL
        rows.append(
            f"{k + 1}\tLead {k}\t\t{status}\t{referred}\t\\N\t{outcome}\t\t{ts(created)}\t"
            f"{ts(created)}\t\\N\t{office}\t{removed}\t\n"
        )
    copy(
        "backend_lead",
        "id, title, summary, status, referred_at, closed_at, outcome, outcome_notes, created_at, "
        "updated_at, created_by_id, office_id, removed_at, removed_reason",
        rows,
    )
    progress("leads", leads, leads)

    lookups = max(1, tips // 5)
    for start in range(0, lookups, batch):
        n = min(batch, lookups - start)
        rows = []
        for k in range(start, start + n):
            hit = rng.random() < 0.08
            rows.append(
                f"{k + 1}\t{ts(now - 365 * DAY * rng.random())}\t"
                f'{{"email": "traveller{k}@example.com"}}\t{int(hit and rng.random() < 0.7)}\t'
                f"{rng.randint(1, 4) if hit else 0}\t{rng.choice(investigators)}\n"
            )
        copy(
            "backend_travellerlookup",
            "id, created_at, criteria, subject_hits, tip_hits, user_id",
            rows,
        )
        progress("traveller lookups", start + n, lookups)

    notes = max(2, tips // 5)  # half targeting notes, half general remarks
    for start in range(0, notes, batch):
        n = min(batch, notes - start)
        rows = []
        for k in range(start, start + n):
            targeting = k % 2 == 0
            created = now - span * rng.random()
            travel = datetime.fromtimestamp(created + rng.uniform(0, 30 * DAY), UTC).date()
            rows.append(
                f"{k + 1}\t{rng.randint(1, tips)}\t{tip_type}\t{ts(created)}\t"
                + (
                    f"TARGETING\tscreened at port\tXA\tXA{rng.randint(100, 999)}\t{travel}\t"
                    f"LHR\t{pick(rng, SCREENING)}\t"
                    if targeting
                    else "GENERAL\tremark\t\t\t\\N\t\t\t"
                )
                + f"{rng.choice(investigators)}\n"
            )
        copy(
            "backend_note",
            "id, object_id, content_type_id, created_at, kind, body, carrier, flight_number, "
            "travel_date, port, screening_outcome, author_id",
            rows,
        )
        progress("notes", start + n, notes)

    with connection.cursor() as cursor:
        sys.stderr.write(f"  rebuilding {len(indexes)} indexes\n")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for definition in indexes:
            cursor.execute(definition)
        for table in LOADED:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        sys.stderr.write("  VACUUM (ANALYZE)\n")
        for table in LOADED:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(
        f"loaded {tips} tips ({len(sizes)} clusters), {leads} leads, {lookups} lookups, "
        f"{notes} notes in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


def tokens() -> dict[str, str]:
    from backend.models import ApiToken, User

    return {
        who: ApiToken.issue(user=User.objects.get(username=f"bench-{who}"), name="bench", days=1)[1]
        for who in ("analyst", "reporting")
    }


@dataclass
class Case:
    """One statistics query: the GraphQL field and arguments, and the same call in-process."""

    label: str
    field: str
    args: dict[str, str]  # GraphQL argument -> value (enum names bare, strings quoted)
    direct: Callable[[], Any]
    csv: bool = False


ROW_FIELDS = {
    "tipStatistics": "total rows { period group count suppressed }",
    "actionableShare": "rows { period reviewed actionable share suppressed }",
    "tipTurnaround": "rows { period milestone tips medianHours p90Hours suppressed }",
    "leadStatistics": "total rows { office status outcome count suppressed }",
    "lookupStatistics": "rows { period lookups withMatches hitRate suppressed }",
    "screeningOutcomes": "total rows { period group count suppressed }",
    "clusterSizes": "total rows { period group count suppressed }",
}


def cases(now: datetime) -> list[Case]:
    from backend.services import statistics as s

    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    year, days90 = midnight - timedelta(days=365), midnight - timedelta(days=90)

    def iso(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")

    def window(**kw: Any) -> s.Window:
        return s.Window(**kw)

    out = [
        Case(
            "tipStatistics (total)",
            "tipStatistics",
            {},
            lambda: s.tip_counts(window=window(), by=None, threshold=0),
        )
    ]
    for dim in ("SOURCE_KIND", "CATEGORY", "STATUS", "PRIORITY_BAND"):
        out.append(
            Case(
                f"tipStatistics {dim} WEEK 1y",
                "tipStatistics",
                {"by": dim, "interval": "WEEK", "since": f'"{iso(year)}"'},
                lambda dim=dim: s.tip_counts(
                    window=window(since=year, interval="week"), by=dim.lower(), threshold=0
                ),
            )
        )
    london = {"since": days90, "interval": "day", "time_zone": "Europe/London"}
    out += [
        Case(
            "tipStatistics CATEGORY DAY 90d London",
            "tipStatistics",
            {
                "by": "CATEGORY",
                "interval": "DAY",
                "since": f'"{iso(days90)}"',
                "timeZone": '"Europe/London"',
            },
            lambda: s.tip_counts(window=window(**london), by="category", threshold=0),
        ),
        Case(
            "tipStatistics MONTH all time",
            "tipStatistics",
            {"interval": "MONTH"},
            lambda: s.tip_counts(window=window(interval="month"), by=None, threshold=0),
        ),
        Case(
            "actionableShare MONTH",
            "actionableShare",
            {"interval": "MONTH"},
            lambda: s.actionable_share(window=window(interval="month"), threshold=0),
        ),
        Case(
            "tipTurnaround MONTH",
            "tipTurnaround",
            {"interval": "MONTH"},
            lambda: s.tip_turnaround(window=window(interval="month"), threshold=0),
        ),
        Case(
            "tipTurnaround WEEK 1y",
            "tipTurnaround",
            {"interval": "WEEK", "since": f'"{iso(year)}"'},
            lambda: s.tip_turnaround(window=window(since=year, interval="week"), threshold=0),
        ),
        Case(
            "tipTurnaround all time, one figure",
            "tipTurnaround",
            {},
            lambda: s.tip_turnaround(window=window(), threshold=0),
        ),
        Case(
            "leadStatistics",
            "leadStatistics",
            {},
            lambda: s.lead_statistics(window=window(), threshold=0),
        ),
        Case(
            "lookupStatistics DAY 90d",
            "lookupStatistics",
            {"interval": "DAY", "since": f'"{iso(days90)}"'},
            lambda: s.lookup_statistics(window=window(since=days90, interval="day"), threshold=0),
        ),
        Case(
            "screeningOutcomes WEEK",
            "screeningOutcomes",
            {"interval": "WEEK"},
            lambda: s.screening_outcomes(window=window(interval="week"), threshold=0),
        ),
        Case(
            "clusterSizes",
            "clusterSizes",
            {},
            lambda: s.cluster_sizes(threshold=0),
        ),
        Case(
            "CSV tipStatistics CATEGORY WEEK 1y",
            "tipStatistics",
            {"by": "CATEGORY", "interval": "WEEK", "since": iso(year)},
            lambda: s.tip_counts(
                window=window(since=year, interval="week"), by="category", threshold=0
            ).csv(),
            csv=True,
        ),
    ]
    return out


class Client:
    """GraphQL over HTTP (and the CSV download) with one bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, case: Case) -> tuple[float, Any]:
        if case.csv:
            url = f"{self.base}/statistics/{case.field}.csv?{urllib.parse.urlencode(case.args)}"
            request = urllib.request.Request(url, headers=self.headers)
        else:
            request = urllib.request.Request(
                f"{self.base}/graphql",
                data=json.dumps({"query": document(case)}).encode(),
                headers={**self.headers, "Content-Type": "application/json"},
            )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if case.csv:
            return elapsed, body.decode()
        payload = json.loads(body)
        assert "errors" not in payload, (case.label, payload)
        return elapsed, payload["data"][case.field]


def document(case: Case) -> str:
    """The GraphQL text of a (non-CSV) case."""
    args = ", ".join(f"{k}: {v}" for k, v in case.args.items())
    return f"{{ {case.field}{f'({args})' if args else ''} {{ {ROW_FIELDS[case.field]} }} }}"


def register(cases: list[Case]) -> None:
    """Register each case's text as a trusted document, in the benchmark's database only:
    reporting clients may run registered documents only (``schema.trusted_documents``)."""
    from backend.documents import document_hash
    from backend.models import TrustedDocument

    for n, case in enumerate(c for c in cases if not c.csv):
        text = document(case)
        TrustedDocument.objects.get_or_create(
            hash=document_hash(text), defaults={"name": f"BenchStatistics{n}", "document": text}
        )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def check(case: Case, direct: Any, http: Any) -> None:
    """The analyst's HTTP answer has the rows the in-process call has."""
    if case.csv:
        assert http == direct, case.label
    else:
        assert len(http["rows"]) == len(direct.rows), (case.label, len(http["rows"]))
        if "total" in http:
            assert http["total"] == direct.total, case.label


def explain(case: Case) -> list[str]:
    """Run the case once, capture its statements, and EXPLAIN (ANALYZE, BUFFERS) each, in one
    transaction with the settings the service applies (set_config) run as they are."""
    from django.db import connection, transaction

    captured: list[tuple[str, Any]] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        case.direct()
    lines = []
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in captured:
            if sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                continue
            if "set_config(" in sql:  # planner settings of the statement (SET LOCAL)
                cursor.execute(sql, params)
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
            keep = ("Scan", "Heap Fetches", "Workers Launched", "JIT:", "Sort Method")
            picked = [plan[0]] + [line for line in plan[1:] if any(k in line for k in keep)]
            lines += picked[:12]
            lines += [line for line in plan if line.startswith(("Planning Time", "Execution"))]
    return lines


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} {percentile(values, 0.9):8.1f} {max(values):8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tips", type=int, default=1_000_000, help="tips to load (default 1000000)"
    )
    parser.add_argument(
        "--runs", type=int, default=15, help="timed runs per query and side (default 15)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed runs first, per query and side (2)"
    )
    parser.add_argument("--port", type=int, default=8798, help="server port (default 8798)")
    parser.add_argument("--seed", type=int, default=7, help="data generator seed (default 7)")
    parser.add_argument("--reload", action="store_true", help="regenerate the data set")
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN plans")
    parser.add_argument(
        "--only", default="", help="run only the queries whose label contains this text"
    )
    args = parser.parse_args()
    setup_environment("stats-bench-pgdata")
    from django.db import connection
    from django.utils import timezone

    load(args.tips, args.seed, force=args.reload)
    keys = tokens()
    now = timezone.now()
    selected = [c for c in cases(now) if args.only.lower() in c.label.lower()]
    register(selected)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE removed_at IS NULL) FROM backend_tip"
        )
        total, live = cursor.fetchone()
        cursor.execute("SELECT pg_size_pretty(pg_relation_size('tip_statistics_idx'))")
        index_size = cursor.fetchone()[0]
    server = start_server(args.port)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        clients = {who: Client(args.port, token) for who, token in keys.items()}
        for case in selected:
            times: dict[str, list[float]] = {"direct": [], "analyst": [], "reporting": []}
            for n in range(args.warmup + args.runs):
                t_direct, direct = timed(case.direct)
                t_analyst, http = clients["analyst"].request(case)
                t_reporting, _ = clients["reporting"].request(case)
                if n == 0:
                    check(case, direct, http)
                if n >= args.warmup:
                    times["direct"].append(t_direct)
                    times["analyst"].append(t_analyst)
                    times["reporting"].append(t_reporting)
            results[case.label] = times
            sys.stderr.write(
                f"  {case.label:<38} direct {statistics.median(times['direct']):7.1f} ms  "
                f"HTTP {statistics.median(times['analyst']):7.1f} ms\n"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"\nstatistics on {total} tips ({live} live; tip_statistics_idx {index_size}), "
        f"{args.runs} runs after {args.warmup} warm-up, times in ms"
    )
    head = "direct: median p90 max | HTTP analyst: median p90 max | reporting: median | ratio"
    print(f"{'query':<38} {head}")
    for label, times in results.items():
        ratio = statistics.median(times["analyst"]) / statistics.median(times["direct"])
        print(
            f"{label:<38} {summary(times['direct'])} | {summary(times['analyst'])} | "
            f"{statistics.median(times['reporting']):8.1f} | {ratio:5.2f}x"
        )
    if not args.no_explain:
        print("\nEXPLAIN (ANALYZE, BUFFERS), first lines:")
        for case in selected:
            if case.csv:
                continue
            print(f"\n-- {case.label}")
            for line in explain(case):
                print(f"   {line}")


if __name__ == "__main__":
    main()
