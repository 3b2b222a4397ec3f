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

    .venv/bin/python bench/intake_bench.py --sharing realistic --base 1000000 --tips 100000

``--sharing realistic`` draws each identifier the way reports share them: most values are
seen once, about a third come from a pool of 100,000 values that a few tips share each, and a
few per cent from 20 very common values, which reach the linking cap (50 tips) and link no
further (e-mails and phone numbers alike; a subject in every fourth tip, from a pool of
250,000 people). ``--base N`` first imports N such tips (once: a later run finds them and
goes on), untimed, so that the timed file goes into a database that holds them: the file's
tips share the base's pools, so they link into its clusters.
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

from bench.common import progress, setup_environment

#: The columns of both generators' files.
COLUMNS = (
    "source_reference",
    "received_at",
    "category",
    "narrative",
    "email",
    "phone",
    "subject_name",
    "subject_dob",
)


def generate(path: Path, tips: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    pool = max(tips // 2, 1)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
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


SHARED_VALUES = 100_000  # values a few tips share each
COMMON_VALUES = 20  # values shared by so many tips that they reach the linking cap
SHARED_PEOPLE = 250_000


def _realistic(rng: random.Random, fresh: str, shared: str, common: str) -> str:
    """``fresh`` (a value of this tip only), else one of ``shared``'s or ``common``'s values
    (formats of the value's number)."""
    draw = rng.random()
    if draw < 0.05:
        return common.format(rng.randrange(COMMON_VALUES))
    if draw < 0.40:
        return shared.format(rng.randrange(SHARED_VALUES))
    return fresh


def generate_realistic(path: Path, tips: int, seed: int, prefix: str, area: int) -> None:
    """``tips`` tips with realistic sharing (see the module docstring), references
    ``{prefix}-{n}``; their own phone numbers in the North American area codes from ``area``
    (10,000 a code)."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for n in range(tips):
            person = rng.randrange(SHARED_PEOPLE) if n % 4 == 0 else None
            shared_phone = rng.randrange(SHARED_VALUES)
            writer.writerow(
                [
                    f"{prefix}-{n:07d}",
                    (start + timedelta(seconds=30 * n)).isoformat(),
                    rng.choice(["POSSESSION", "DISTRIBUTION", "PRODUCTION", "ENTICEMENT"]),
                    f"Generated tip {n}.",
                    _realistic(
                        rng,
                        f"{prefix.lower()}-{n}@example.com",
                        "shared{}@example.net",
                        "common{}@example.org",
                    ),
                    _realistic(
                        rng,
                        f"+1 {area + n // 10000} 557 {n % 10000:04d}",
                        f"+1 {202 + shared_phone // 10000} 556 {shared_phone % 10000:04d}",
                        "+1 201 555 {:04d}",
                    ),
                    f"Person {person}" if person is not None else "",
                    f"19{50 + person % 49}-0{1 + person % 9}-1{person % 9}"
                    if person is not None
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


def load_base(tips: int) -> None:
    """Import ``tips`` tips with realistic sharing into a source of their own, unless it holds
    them already (a later run goes on from there), with a progress bar."""
    from django.conf import settings

    from backend import models as m
    from backend.intake.importer import import_tips
    from backend.intake.parse import parse

    source, _ = m.Source.objects.get_or_create(kind="NGO", name=f"Intake bench base {tips}")
    held = m.Tip.objects.filter(source=source).count()
    if held >= tips:
        print(f"base present: {held} tips")
        return
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.csv"
        generate_realistic(path, tips, 1, "BASE", area=300)
        with path.open("rb") as stream:
            report = import_tips(
                records=parse(stream, format="csv", max_rows=tips, deferred=True),
                source=source,
                by=None,
                batch_size=settings.INTAKE_BATCH_SIZE,
                progress=lambda done, rejected: progress("base", done, tips),
            )
    elapsed = time.perf_counter() - started
    print(
        f"base: {report.new} new tips ({report.unchanged} there already) in {elapsed:.0f} s "
        f"= {report.rows / elapsed:,.0f} tips/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument(
        "--profile", action="store_true", help="time every statement and Python function"
    )
    parser.add_argument(
        "--sharing",
        choices=("pool", "realistic"),
        default="pool",
        help="how the file's tips share identifiers (default: an e-mail pool of N/2)",
    )
    parser.add_argument(
        "--base",
        type=int,
        default=0,
        help="first import this many tips with realistic sharing (untimed; kept for later runs)",
    )
    args = parser.parse_args()
    setup_environment("bench-pgdata")
    from django.conf import settings
    from django.core.management import call_command

    from backend import models as m

    call_command("migrate", interactive=False, verbosity=0)
    if args.base:
        load_base(args.base)
    source = m.Source.objects.create(kind="NGO", name=f"Intake bench {args.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        started = time.perf_counter()
        if args.sharing == "realistic":
            generate_realistic(path, args.tips, args.seed, f"BENCH{args.seed}", area=500)
        else:
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
