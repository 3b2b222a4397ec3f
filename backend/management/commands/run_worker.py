"""``manage.py run_worker``: the background worker of every queue (import jobs, disposal runs,
the periodic upkeep), on procrastinate (``backend.tasks``)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from backend.tasks import QUEUES
from backend.worker import drain, serve

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Run the background worker: queued imports (intake), approved disposal runs "
        "(disposal) and the periodic tasks (maintenance: the nightly disposal run prepared for "
        "review, retrying the jobs of a worker that died, deleting old queue entries). Any "
        "number of workers may run side by side; each periodic task is deferred once per "
        "period whatever their number. Stop it with SIGINT or SIGTERM: it finishes the jobs "
        "under way first. A disposal batch connects as the disposal role "
        "(DATABASE_DISPOSAL_URL, docs/retention.md)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            choices=QUEUES,
            help="Only this queue (repeat for several; default: every one).",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run the jobs queued now, then exit (no periodic tasks).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=1,
            help="Jobs run at once by this worker (default 1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queues = options["queue"] or list(QUEUES)
        if options["once"]:
            drain(queues, concurrency=options["concurrency"])
            return
        self.stdout.write(f"worker on queues {', '.join(queues)}; stop with Ctrl-C")
        serve(queues, concurrency=options["concurrency"])
