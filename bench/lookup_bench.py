"""Traveller-lookup benchmark: HTTP end to end beside the same SQL run directly (the floor).

    .venv/bin/python bench/lookup_bench.py --tips 1000000          # full size (slow to load)
    .venv/bin/python bench/lookup_bench.py --tips 20000 --runs 200  # quick look

It loads (once; --reload to start over) a generated data set into its own database: with
DATABASE_URL unset an embedded PostgreSQL under ./var/bench-pgdata, else the database named
in BENCH_DATABASE_URL (never your DATABASE_URL's data). Sizes: N tips, 3N identifiers, N
subjects, 3N identifier sightings, N tip-subject rows. Then it starts the server on
127.0.0.1 and times lookups by e-mail and by name + date of birth over HTTP, and the SELECT
statements one lookup runs (captured from the ORM) replayed through psycopg. It prints
medians, p99 and the HTTP/SQL ratio, and the cost of linking and clustering one new tip.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import as_owner, percentile, progress, setup_environment, start_server

TABLES = (
    "backend_tip",
    "backend_subject",
    "backend_identifier",
    "backend_tipidentifier",
    "backend_tipsubject",
)


@as_owner
def load(tips: int, seed: int, *, force: bool = False) -> None:
    """COPY a generated data set: fast, set-based, no per-row ORM work."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from backend import models as m
    from backend.names import fold_names

    call_command("migrate", interactive=False, verbosity=0)
    if not force and m.Tip.objects.count() >= tips:
        print(f"data set present ({m.Tip.objects.count()} tips); --reload to regenerate")
        return
    rng = random.Random(seed)
    now = timezone.now()
    source, _ = m.Source.objects.get_or_create(kind="ESP_CLEARINGHOUSE", name="BENCH source")
    first = ["jose", "maria", "john", "aisha", "wei", "olga", "pierre", "zoe", "liam", "noor"]
    last = ["alvarez", "smith", "muller", "garcia", "nguyen", "kowalski", "dubois", "rossi"]
    raw = connection.connection  # psycopg connection
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE backend_tipsubject, backend_tipidentifier, backend_tiplink, "
            "backend_disclosure, backend_travellerlookup, backend_lead_tips, "
            "backend_lead_subjects, backend_researchresult, backend_subjectidentifier, "
            "backend_tip, backend_subject, backend_identifier CASCADE"
        )
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # no per-row history
    batch = 100_000

    def copy(table: str, columns: str, rows: list[str]) -> None:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as out:
            out.write("".join(rows))

    for start in range(0, tips, batch):
        n = min(batch, tips - start)
        subjects, tips_rows, idents = [], [], []
        for k in range(start, start + n):
            name = f"{rng.choice(first)} {rng.choice(last)} {k}"
            dob = date(1950, 1, 1) + timedelta(days=rng.randint(0, 20_000))
            subjects.append(
                f"{k + 1}\t{name}\t{{}}\t{dob}\t\tf\tf\t\t{now}\t{now}\t{fold_names(name)}\t\\N\t\\N\t\n"
            )
            tips_rows.append(
                f"{k + 1}\t{source.pk}\tBENCH-{k}\t{now}\tDISTRIBUTION\tbench\tRECEIVED\t3\tNONE"
                f"\t\\N\t\t{now}\t{now}\tf\tf\tf\t[]\t\\N\t\\N\t\t{{}}\t\n"
            )
            for j in range(3):
                value = f"user{k}-{j}@example.com"
                idents.append(
                    f"{3 * k + j + 1}\tEMAIL\t\t{value}\t{value}\t{value}\t{now}\t{now}\t{now}\t\\N\t\\N\t\n"
                )
        copy(
            "backend_subject",
            "id, full_name, aliases, date_of_birth, nationality, sex_offender_registered, "
            "known_misidentification, redress_case_number, created_at, updated_at, names_folded, "
            "removed_at, removed_by_id, removed_reason",
            subjects,
        )
        copy(
            "backend_tip",
            "id, source_id, source_reference, received_at, category, narrative, status, priority, "
            "handling_caveat, is_actionable, actionable_reason, created_at, updated_at, escalated, "
            "access_to_children, hands_on, priority_factors, removed_at, removed_by_id, "
            "removed_reason, raw_record, intake_digest",
            tips_rows,
        )
        copy(
            "backend_identifier",
            "id, kind, qualifier, value, canonical, raw_value, first_seen, last_seen, created_at, "
            "removed_at, removed_by_id, removed_reason",
            idents,
        )
        progress("loading", start + n, tips)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO backend_tipidentifier (tip_id, identifier_id, event, raw_value) "
            "SELECT (id - 1) / 3 + 1, id, 'REPORTED', value FROM backend_identifier"
        )
        cursor.execute(
            "INSERT INTO backend_tipsubject (tip_id, subject_id, role) "
            "SELECT id, id, 'SUSPECT' FROM backend_subject"
        )
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for table in ("backend_tip", "backend_subject", "backend_identifier"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")
    print(f"loaded {tips} tips, {3 * tips} identifiers, {tips} subjects")


def bench_user(username: str = "bench-investigator", role: str = "INVESTIGATOR") -> tuple[str, str]:
    """An approved account of ``role`` (created once) and a new bearer token of it."""
    from django.utils import timezone

    from backend.models import ApiToken, User

    now = timezone.now()
    user, _ = User.objects.update_or_create(
        username=username,
        defaults={
            "role": role,
            "nominated_by": "bench",
            "nominated_at": now,
            "certified_at": now,
            "compliance_reviewed_at": now,
            "approved_at": now,
            "rules_accepted_at": now,
            "annual_training_at": now,
            "privileges_reviewed_at": now,
        },
    )
    _, raw = ApiToken.issue(user=user, name="bench", days=1)
    return user.username, raw


QUERY = "query($i: TravellerLookupInput!) { travellerLookup(input: $i) { matchedOn tips { id } subjects { id } } }"


def register_query() -> None:
    """Register ``QUERY`` as a trusted document (in the benchmark's database only): partner
    tools may run registered documents only (``schema.trusted_documents``)."""
    try:
        from backend.documents import document_hash
        from backend.models import TrustedDocument
    except ImportError:  # a tree from before trusted documents (a before/after comparison)
        return

    TrustedDocument.objects.get_or_create(
        hash=document_hash(QUERY), defaults={"name": "BenchLookup", "document": QUERY}
    )


def criteria(tips: int, rng: random.Random) -> list[dict]:
    from backend.models import Subject

    out = []
    for _ in range(40):
        k = rng.randrange(tips)
        out.append({"email": f"USER{k}-1@Example.com"})
        subject = Subject.objects.only("full_name", "date_of_birth").get(pk=k + 1)
        out.append({"name": subject.full_name.upper(), "dateOfBirth": str(subject.date_of_birth)})
    return out


def sql_floor(lookups: list[dict], runs: int) -> dict[str, list[float]]:
    """Capture the SELECTs one lookup runs, then replay them through psycopg directly."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.models import User
    from backend.services.lookups import LookupCriteria, traveller_lookup

    user = User.objects.get(username="bench-investigator")
    timings: dict[str, list[float]] = {"email": [], "name": []}
    raw = connection.connection
    for n in range(runs):
        c = lookups[n % len(lookups)]
        crit = LookupCriteria(
            email=c.get("email", ""),
            name=c.get("name", ""),
            date_of_birth=date.fromisoformat(c["dateOfBirth"]) if "dateOfBirth" in c else None,
        )
        with CaptureQueriesContext(connection) as captured:
            traveller_lookup(by=user, criteria=crit)
        selects = [q["sql"] for q in captured.captured_queries if reads(q["sql"])]
        started = time.perf_counter()
        with raw.cursor() as cur:
            for sql in selects:
                cur.execute(sql)
                cur.fetchall()
        timings["email" if "email" in c else "name"].append((time.perf_counter() - started) * 1000)
    return timings


def reads(sql: str) -> bool:
    """A statement that only reads: a SELECT (not one setting a transaction's setting), or a
    WITH query that writes nothing (the lookup's own reads are one WITH statement; its row and
    disclosures one that inserts)."""
    text = sql.lstrip().upper()
    if text.startswith("SELECT"):
        return "SET_CONFIG" not in text
    return text.startswith("WITH") and not any(
        word in text for word in ("INSERT ", "UPDATE ", "DELETE ")
    )


def http_timings(port: int, token: str, lookups: list[dict], runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"email": [], "name": []}
    for n in range(runs):
        c = lookups[n % len(lookups)]
        body = json.dumps({"query": QUERY, "variables": {"i": c}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        elapsed = (time.perf_counter() - started) * 1000
        assert "errors" not in payload, payload
        assert payload["data"]["travellerLookup"]["tips"], (c, payload)
        timings["email" if "email" in c else "name"].append(elapsed)
    return timings


def cluster_cost(samples: int) -> list[float]:
    """Per-tip cost of create_tip with linking (and clustering) onto the loaded graph."""
    from django.utils import timezone

    from backend.models import Source
    from backend.services.tips import SightingSpec, create_tip

    source = Source.objects.get(name="BENCH source")
    timings = []
    for n in range(samples):
        started = time.perf_counter()
        create_tip(
            by=None,
            source=source,
            source_reference=f"BENCH-NEW-{time.time_ns()}-{n}",
            received_at=timezone.now(),
            category="DISTRIBUTION",
            identifiers=[SightingSpec(kind="EMAIL", value=f"user{n * 7}-0@example.com")],
        )
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(label: str, values: list[float]) -> str:
    return (
        f"{label:<34} median {statistics.median(values):8.2f} ms   p99 {percentile(values, 0.99):8.2f} ms"
        f"   n={len(values)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tips", type=int, default=1_000_000, help="tips to load (default 1000000)"
    )
    parser.add_argument(
        "--runs", type=int, default=400, help="lookups timed per side (default 400)"
    )
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--reload", action="store_true", help="regenerate the data set")
    parser.add_argument("--cluster-samples", type=int, default=100)
    args = parser.parse_args()
    setup_environment("bench-pgdata")
    load(args.tips, args.seed, force=args.reload)
    _, token = bench_user()
    register_query()
    lookups = criteria(args.tips, random.Random(args.seed))
    server = start_server(args.port)
    try:
        http_timings(args.port, token, lookups, 20)  # warm up
        http = http_timings(args.port, token, lookups, args.runs)
    finally:
        server.terminate()
        server.wait(timeout=10)
    floor = sql_floor(lookups, args.runs)
    print(
        f"\ntraveller lookup on {args.tips} tips / {3 * args.tips} identifiers / {args.tips} subjects"
    )
    for kind in ("email", "name"):
        print(report(f"HTTP   lookup by {kind}", http[kind]))
        print(report(f"SQL    lookup by {kind} (floor)", floor[kind]))
        ratio = statistics.median(http[kind]) / statistics.median(floor[kind])
        print(f"{'ratio HTTP/SQL (medians)':<34} {ratio:8.1f}x")
    print(report("create_tip incl. linking/clusters", cluster_cost(args.cluster_samples)))


if __name__ == "__main__":
    main()
