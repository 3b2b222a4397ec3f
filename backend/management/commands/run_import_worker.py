"""Run background import jobs: claim queued jobs one at a time and import their files."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from backend.intake.jobs import work_once


class Command(BaseCommand):
    help = (
        "Import queued tip files (uploadTips with background=true, or files too large to "
        "import during the request). Jobs are claimed with SELECT ... FOR UPDATE SKIP LOCKED, "
        "so several workers can run at once. Progress is visible through the importJob query."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run the queued jobs, then exit instead of waiting for more.",
        )
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=2.0,
            help="How long to wait between looks at an empty queue (default 2).",
        )

    def handle(self, *args: Any, once: bool, poll_seconds: float, **options: Any) -> None:
        while True:
            job = work_once()
            if job is not None:
                self.stdout.write(
                    f"job {job.pk} ({job.filename}): {job.status}; new {job.new_count}, "
                    f"updated {job.updated_count}, unchanged {job.unchanged_count}, "
                    f"rejected {job.rejected_count}"
                    + (f"; {job.error_code}: {job.error_message}" if job.error_code else "")
                )
                continue
            if once:
                return
            time.sleep(poll_seconds)
