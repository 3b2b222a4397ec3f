"""Concurrent-linking benchmark: tips/s of N writer processes creating tips at once.

    .venv/bin/python bench/linking_concurrency_bench.py               # 1, 2, 4 writers
    .venv/bin/python bench/linking_concurrency_bench.py --writers 4 --tips 100 --locks fine
    .venv/bin/python bench/linking_concurrency_bench.py --rtt-ms 0.5  # a remote database

Each writer is its own process with its own database connection and calls
``backend.services.tips.create_tip`` (one transaction per tip: tip, identifiers, linking,
clusters, priority, deconfliction) ``--tips`` times, all writers starting together. Two
workloads:

- ``disjoint``: every tip has a fresh e-mail and a phone number from a pool of 10 that belongs
  to its writer, so a writer's tips link among themselves (its clusters grow), but no two
  writers ever share an identifier or a cluster;
- ``shared``: every tip has an e-mail and a phone number drawn from pools of 20 that all
  writers share, so nearly every tip links to tips of other writers and merges clusters.

``--locks`` chooses how linking locks: ``fine`` (per identifier, subject and cluster,
``backend.services.clusters``), ``global`` (every linking transaction takes the one graph
lock exclusively, as before the fine locks; the ``LINK_LOCKS`` setting, which only this
benchmark sets), or ``both`` (the default: each case under both, side by side).

``--rtt-ms`` adds that much sleep before every SQL statement of the writers, as the network
round trip to a database on another host would (the socket of a local server costs ~0);
waiting, unlike computing, leaves the two cores free, so it shows what a lock serialises.

Prints, per workload, lock mode and number of writers: tips/s over the wall time, and the
median and 99th percentile time of one ``create_tip``. Uses its own database: an embedded
PostgreSQL under ./var/bench-linking-pgdata, or BENCH_DATABASE_URL. Not part of the tests.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, setup_environment

WORKLOADS = ("disjoint", "shared")
POOL_PER_WRITER = 10
SHARED_POOL = 20


def _writer(
    writer: int,
    workload: str,
    locks: str,
    run: str,
    tips: int,
    source_id: int,
    rtt_ms: float,
    start: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,
) -> None:
    from django.conf import settings
    from django.db import connection, connections

    from backend import models as m
    from backend.services.tips import SightingSpec, create_tip

    connections.close_all()  # never share the parent's connection
    settings.LINK_LOCKS = locks
    source = m.Source.objects.get(pk=source_id)
    rng = random.Random(f"{run}-{writer}")
    received = datetime(2025, 1, 1, tzinfo=UTC)
    # each run gets its own numbers: a writer's phone pool is unique to (run, writer)
    exchange = int(uuid.UUID(run).int % 700) + 200
    specs = []
    for n in range(tips):
        if workload == "disjoint":
            ids = [
                SightingSpec(kind="EMAIL", value=f"{run}-w{writer}-t{n}@example.com"),
                SightingSpec(
                    kind="PHONE",
                    value=f"+1 202 {exchange} {writer:02d}{rng.randrange(POOL_PER_WRITER):02d}",
                ),
            ]
        else:
            ids = [
                SightingSpec(
                    kind="EMAIL", value=f"{run}-shared-{rng.randrange(SHARED_POOL)}@x.org"
                ),
                SightingSpec(
                    kind="PHONE", value=f"+1 303 {exchange} {rng.randrange(SHARED_POOL):04d}"
                ),
            ]
        rng.shuffle(ids)  # in either order, as analysts type them
        specs.append(ids)
    # warm up the connection outside the timing
    m.Tip.objects.exists()

    def round_trip(execute, sql, params, many, context):
        time.sleep(rtt_ms / 1000)
        return execute(sql, params, many, context)

    if rtt_ms > 0:
        connection.execute_wrappers.append(round_trip)
    start.wait()
    times = []
    errors = 0
    for n, ids in enumerate(specs):
        began = time.perf_counter()
        try:
            create_tip(
                by=None,
                source=source,
                source_reference=f"{run}-{writer}-{n}",
                received_at=received + timedelta(minutes=n),
                category="POSSESSION",
                identifiers=ids,
            )
        except Exception as exc:  # reported, not hidden
            errors += 1
            sys.stderr.write(f"writer {writer}: {type(exc).__name__}: {exc}\n")
        times.append(time.perf_counter() - began)
    results.put((writer, times, errors, time.perf_counter()))
    connections.close_all()


def run_once(workload: str, locks: str, writers: int, tips: int, rtt_ms: float) -> dict[str, float]:
    from django.db import connections

    from backend import models as m

    run = str(uuid.uuid4())
    source = m.Source.objects.create(kind="NGO", name=f"Linking bench {run}")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(writers + 1)
    results: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_writer,
            args=(w, workload, locks, run, tips, source.pk, rtt_ms, start, results),
        )
        for w in range(writers)
    ]
    for proc in procs:
        proc.start()
    start.wait()
    began = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(60)
    wall = max(o[3] for o in outcomes) - began
    times = [t for o in outcomes for t in o[1]]
    errors = sum(o[2] for o in outcomes)
    made = m.Tip.objects.filter(source=source).count()
    return {
        "tips": made,
        "errors": errors,
        "wall": wall,
        "rate": made / wall,
        "p50": percentile(times, 0.5) * 1000,
        "p99": percentile(times, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Writes into ./var/bench-linking-pgdata (or BENCH_DATABASE_URL).",
    )
    parser.add_argument(
        "--writers",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="numbers of concurrent writer processes to measure (default: 1 2 4)",
    )
    parser.add_argument("--tips", type=int, default=60, help="tips per writer (default 60)")
    parser.add_argument(
        "--workload", choices=[*WORKLOADS, "both"], default="both", help="default: both"
    )
    parser.add_argument(
        "--locks",
        choices=["fine", "global", "both"],
        default="both",
        help="fine: per identifier/subject/cluster locks; global: the one graph lock, "
        "exclusively (the behaviour before the fine locks); default: both",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        help="simulated network round trip before every statement, in ms (default 0)",
    )
    args = parser.parse_args()
    setup_environment("bench-linking-pgdata")
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    workloads = WORKLOADS if args.workload == "both" else (args.workload,)
    modes = ("global", "fine") if args.locks == "both" else (args.locks,)
    print(
        f"{'workload':<9} {'locks':<7} {'writers':>7} {'tips':>5} {'errors':>6} "
        f"{'wall s':>7} {'tips/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for workload in workloads:
        for writers in args.writers:
            for locks in modes:
                r = run_once(workload, locks, writers, args.tips, args.rtt_ms)
                print(
                    f"{workload:<9} {locks:<7} {writers:>7} {r['tips']:>5} {r['errors']:>6} "
                    f"{r['wall']:>7.2f} {r['rate']:>7.1f} {r['p50']:>7.1f} {r['p99']:>7.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
