"""Bulk-intake benchmark: tips per second for a generated CSV file, end to end.

    .venv/bin/python bench/intake_bench.py                 # 100,000 tips
    .venv/bin/python bench/intake_bench.py --tips 5000     # quick look

Generates a CSV file of N tips (2 identifiers each: an e-mail drawn from a pool of N/2, so
about half the tips link, and a phone number; one subject with a date of birth in every
fourth tip), then imports it into a fresh source through ``parse`` and ``import_tips``
(ACCEPT_VALID, the settings' batch size): parsing, normalisation, identifier upserts, tips,
sightings, subjects, linking, clustering, priority scoring and deconfliction all included.
Prints the time and tips/second of the first import, then of a re-import of the same file
(all unchanged). Uses its own database like bench/lookup_bench.py: an embedded PostgreSQL
under ./var/bench-pgdata, or BENCH_DATABASE_URL. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_environment


def generate(path: Path, tips: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    pool = max(tips // 2, 1)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "source_reference",
                "received_at",
                "category",
                "narrative",
                "email",
                "phone",
                "subject_name",
                "subject_dob",
            ]
        )
        for n in range(tips):
            dated = n % 4 == 0
            writer.writerow(
                [
                    f"BENCH-{seed}-{n:07d}",
                    (start + timedelta(minutes=n)).isoformat(),
                    rng.choice(["POSSESSION", "DISTRIBUTION", "PRODUCTION", "ENTICEMENT"]),
                    f"Generated tip {n}.",
                    f"User{rng.randrange(pool)}@Example.com",
                    f"+1 202 555 {rng.randrange(10000):04d}",
                    f"Person {rng.randrange(pool)}" if dated else "",
                    f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}"
                    if dated
                    else "",
                ]
            )


class StatementProfile:
    """Times every SQL statement (``connection.execute_wrapper``), grouped by its first words."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:90]
            entry = self.totals.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    def report(self, batches: int, elapsed: float) -> None:
        database = sum(t for _, t in self.totals.values())
        print(
            f"  per batch ({batches} batches): {elapsed / batches * 1000:.0f} ms in all, "
            f"{database / batches * 1000:.0f} ms in {sum(int(n) for n, _ in self.totals.values()) / batches:.0f} statements"
        )
        for key, (count, total) in sorted(self.totals.items(), key=lambda kv: -kv[1][1])[:25]:
            print(f"  {total / batches * 1000:8.1f} ms  {count / batches:5.1f}x  {key}")


def run(path: Path, label: str, source, batch_size: int, profile: bool = False) -> None:
    from django.conf import settings
    from django.db import connection

    from backend.intake.importer import import_tips
    from backend.intake.parse import parse
    from backend.services.identifiers import clear_normalise_cache

    clear_normalise_cache()  # each run starts cold, as a separate import process would

    def progress(done: int, rejected: int) -> None:
        sys.stderr.write(f"\r{label}: {done} rows, {rejected} rejected")
        sys.stderr.flush()

    statements = StatementProfile()
    started = time.perf_counter()
    with path.open("rb") as stream, connection.execute_wrapper(statements):
        # deferred, as backend.intake.entry reads an upload: unchanged records skipped unread
        records = parse(stream, format="csv", max_rows=settings.INTAKE_MAX_ROWS, deferred=True)
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            report = profiler.runcall(
                import_tips,
                records=records,
                source=source,
                by=None,
                batch_size=batch_size,
                progress=progress,
            )
        else:
            report = import_tips(
                records=records,
                source=source,
                by=None,
                batch_size=batch_size,
                progress=progress,
            )
    elapsed = time.perf_counter() - started
    if profile:
        sys.stderr.write("\n")
        statements.report(max(1, -(-report.rows // batch_size)), elapsed)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    sys.stderr.write("\n")
    print(
        f"{label}: {report.rows} rows in {elapsed:.1f} s = {report.rows / elapsed:,.0f} tips/s "
        f"(new {report.new}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument(
        "--profile", action="store_true", help="time every statement and Python function"
    )
    args = parser.parse_args()
    setup_environment("bench-pgdata")
    from django.conf import settings
    from django.core.management import call_command

    from backend import models as m

    call_command("migrate", interactive=False, verbosity=0)
    source = m.Source.objects.create(kind="NGO", name=f"Intake bench {args.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        started = time.perf_counter()
        generate(path, args.tips, args.seed)
        size = path.stat().st_size
        print(
            f"generated {args.tips} tips, {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s"
        )
        batch = args.batch_size or settings.INTAKE_BATCH_SIZE
        run(path, "first import", source, batch, args.profile)
        run(path, "re-import", source, batch, args.profile)
        clusters = m.Tip.objects.filter(source=source).values("cluster_id").distinct().count()
        print(f"{clusters} clusters among {args.tips} tips")


if __name__ == "__main__":
    main()
