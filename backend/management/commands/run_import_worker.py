"""``manage.py run_import_worker``: the background worker of the import queue only.

Jobs are queued, claimed and retried by procrastinate (``backend.tasks.import_job``); the
``ImportJob`` row keeps the status, progress and report users see. A job imports as the
account that uploaded it, so that account must still be able to act when the worker takes the
job up: the one gate (``permissions.gate``, door ``IMPORT_JOB``, the roles of ``uploadTips``)
decides, and a refused job fails with the first problem's code and every reason, importing
nothing (``backend.intake.jobs.run_queued``)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from backend import models as m
from backend.tasks import INTAKE
from backend.worker import drain, serve

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Import queued tip files (uploadTips with background=true, or files too large to "
        "import during the request), on the intake queue of the task queue (procrastinate): "
        "several workers can run at once, each job is taken by one. Progress is visible "
        "through the importJob query. A job whose uploader may no longer act (deactivated, "
        "locked out, not approved, training lapsed) fails with the reasons and imports "
        "nothing. A worker that dies mid-job has it retried by another (manage.py run_worker "
        "runs the periodic retry)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run the queued jobs, then exit instead of waiting for more.",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=1,
            help="Jobs imported at once by this worker (default 1).",
        )

    def handle(self, *args: Any, once: bool, concurrency: int, **options: Any) -> None:
        if not once:
            self.stdout.write("import worker on the intake queue; stop with Ctrl-C")
            serve([INTAKE], concurrency=concurrency)
            return
        started = timezone.now()
        drain([INTAKE], concurrency=concurrency)
        for job in m.ImportJob.objects.filter(finished_at__gte=started).order_by(
            "finished_at", "id"
        ):
            self.stdout.write(
                f"job {job.pk} ({job.filename}): {job.status}; new {job.new_count}, "
                f"updated {job.updated_count}, unchanged {job.unchanged_count}, "
                f"rejected {job.rejected_count}"
                + (f"; {job.error_code}: {job.error_message}" if job.error_code else "")
            )
