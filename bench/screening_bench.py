"""Passenger-list screening benchmark: one screenPassengers of a list against the same travellers
looked up one travellerLookup at a time, over HTTP and in-process.

    .venv/bin/python bench/screening_bench.py --tips 100000            # modest size
    .venv/bin/python bench/screening_bench.py --tips 1000000 --runs 5  # the issue's size

It loads (once; --reload to start over) the traveller-lookup benchmark's data set
(bench/lookup_bench.py: N tips, 3N e-mail identifiers, N subjects with folded names, 3N
sightings, N suspects) into its own database: with DATABASE_URL unset an embedded PostgreSQL
under ./var/bench-screening-pgdata, else the database named in BENCH_DATABASE_URL. It
registers the trusted documents, then builds a passenger list of --travellers travellers
(default 300), each with a name, a date of birth, a passport and an e-mail: --hit-rate of them
(default 0.1) are people of the data set (their name in capitals with their date of birth,
and one of their e-mails), the others strangers matching nothing. It times, as an approved
partner investigator with a bearer token, through Django's development server (one thread,
loopback) with the registered documents ScreenPassengers and TravellerLookup:

- the whole list in one screenPassengers request;
- the same travellers one travellerLookup request each, one after the other;

and the same two in-process (the services alone, no HTTP, GraphQL or audit). Every request
is audited and records its lookups and disclosures, as in production. It prints the time per
list and per traveller, the ratio, and the SQL statements each screening ran.
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

from bench.common import percentile, setup_environment, start_server
from bench.lookup_bench import load


def passenger_list(tips: int, travellers: int, hit_rate: float, seed: int) -> list[dict]:
    """``travellers`` travellers as a partner's tool sends them: ``hit_rate`` of them people of
    the data set (their name, date of birth and an e-mail), the others strangers."""
    from backend.models import Subject

    rng = random.Random(seed)
    hits = set(rng.sample(range(travellers), round(travellers * hit_rate)))
    first = ["amelia", "bruno", "chloe", "dmitri", "elena", "farid", "greta", "hugo", "ines"]
    last = ["okafor", "lindqvist", "moreau", "tanaka", "haddad", "novak", "silva", "berg"]
    out = []
    for n in range(travellers):
        traveller = {"passport": f"P{rng.randrange(10**8):08d}", "passportCountry": "GB"}
        if n in hits:
            k = rng.randrange(tips)
            subject = Subject.objects.only("full_name", "date_of_birth").get(pk=k + 1)
            traveller |= {
                "name": subject.full_name.upper(),
                "dateOfBirth": str(subject.date_of_birth),
                "email": f"USER{k}-{rng.randrange(3)}@Example.com",
            }
        else:
            dob = date(1940, 1, 1) + timedelta(days=rng.randint(0, 25_000))
            traveller |= {
                "name": f"{rng.choice(first)} {rng.choice(last)}",
                "dateOfBirth": str(dob),
                "email": f"traveller{n}.{rng.randrange(10**6)}@mail.example",
            }
        out.append(traveller)
    return out


def document(name: str) -> str:
    from django.conf import settings

    from backend.documents import printed_document

    path = Path(settings.GRAPHQL_DOCUMENTS_DIR) / f"{name}.graphql"
    return printed_document(name, path.read_text())


def post(port: int, token: str, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def http_screening(port: int, token: str, travellers: list[dict]) -> tuple[float, dict]:
    started = time.perf_counter()
    data = post(
        port,
        token,
        document("ScreenPassengers"),
        {"input": {"reference": "BENCH 300", "travellers": travellers}},
    )
    return (time.perf_counter() - started) * 1000, data["screenPassengers"]


def http_singles(port: int, token: str, travellers: list[dict]) -> tuple[float, int]:
    query = document("TravellerLookup")
    hits = 0
    started = time.perf_counter()
    for traveller in travellers:
        data = post(port, token, query, {"input": traveller})
        hits += bool(data["travellerLookup"]["matches"])
    return (time.perf_counter() - started) * 1000, hits


def criteria_of(travellers: list[dict]) -> list:
    from backend.services.lookups import LookupCriteria

    return [
        LookupCriteria(
            name=t["name"],
            date_of_birth=date.fromisoformat(t["dateOfBirth"]),
            email=t["email"],
            passport=t["passport"],
            passport_country=t["passportCountry"],
        )
        for t in travellers
    ]


def direct(travellers: list[dict]) -> tuple[float, float, int]:
    """(screening ms, singles ms, statements of the screening), the services called
    in-process as the investigator."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from backend.models import User
    from backend.services.lookups import traveller_lookup
    from backend.services.screening import screen_passengers

    user = User.objects.get(username="bench-investigator")
    criteria = criteria_of(travellers)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        with transaction.atomic():
            screen_passengers(by=user, reference="BENCH DIRECT", travellers=criteria)
        screening = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for one in criteria:
        with transaction.atomic():
            traveller_lookup(by=user, criteria=one)
    singles = (time.perf_counter() - started) * 1000
    return screening, singles, len(captured)


def line(label: str, values: list[float], travellers: int) -> str:
    median = statistics.median(values)
    return (
        f"{label:<34} median {median:9.1f} ms  max {max(values):9.1f} ms"
        f"  per traveller {median / travellers:7.2f} ms  n={len(values)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=100_000, help="tips to load (default 100000)")
    parser.add_argument(
        "--travellers", type=int, default=300, help="travellers per list (default 300)"
    )
    parser.add_argument(
        "--hit-rate",
        type=float,
        default=0.1,
        help="share of the travellers who are people of the data set (default 0.1)",
    )
    parser.add_argument("--runs", type=int, default=5, help="screenings timed per side (default 5)")
    parser.add_argument(
        "--single-runs",
        type=int,
        default=1,
        help="times the whole list is looked up one by one, per side (default 1)",
    )
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--reload", action="store_true", help="regenerate the data set")
    args = parser.parse_args()
    setup_environment("bench-screening-pgdata")

    from django.core.management import call_command

    from bench.lookup_bench import bench_user

    load(args.tips, args.seed, force=args.reload)
    call_command("load_documents", verbosity=0)
    _, token = bench_user()
    travellers = passenger_list(args.tips, args.travellers, args.hit_rate, args.seed)
    server = start_server(args.port)
    try:
        http_screening(args.port, token, travellers[:10])  # warm up
        http_singles(args.port, token, travellers[:10])
        screenings, singles = [], []
        answer: dict = {}
        for _ in range(args.runs):
            elapsed, answer = http_screening(args.port, token, travellers)
            screenings.append(elapsed)
        hits = 0
        for _ in range(args.single_runs):
            elapsed, hits = http_singles(args.port, token, travellers)
            singles.append(elapsed)
    finally:
        server.terminate()
        server.wait(timeout=10)
    direct_runs = [direct(travellers) for _ in range(max(1, min(args.runs, 3)))]
    n = args.travellers
    print(
        f"\npassenger list of {n} ({answer['withMatches']} with matches, {answer['withErrors']} "
        f"errors; {hits} matched one by one) on {args.tips} tips / {3 * args.tips} "
        f"identifiers / {args.tips} subjects"
    )
    print(line("HTTP   screenPassengers", screenings, n))
    print(line(f"HTTP   {n} x travellerLookup", singles, n))
    print(
        f"{'ratio singles/screening (medians)':<34} "
        f"{statistics.median(singles) / statistics.median(screenings):9.1f}x"
    )
    print(line("direct screen_passengers", [d[0] for d in direct_runs], n))
    print(line(f"direct {n} x traveller_lookup", [d[1] for d in direct_runs], n))
    print(f"{'SQL statements, one screening':<34} {direct_runs[0][2]:9d}")
    print(f"{'HTTP screening p100 / target 2 s':<34} {percentile(screenings, 1.0):9.1f} ms")


if __name__ == "__main__":
    main()
