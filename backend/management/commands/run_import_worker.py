"""Run background import jobs: claim queued jobs one at a time and import their files.

A job imports as the account that uploaded it, so that account must still be able to act when
the worker takes the job up: the one gate (``permissions.gate``, door ``IMPORT_JOB``, the roles
of ``uploadTips``) decides, and a refused job fails with the first problem's code and every
reason, importing nothing."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from backend import models as m
from backend.intake.jobs import claim_job, run_job
from permissions.gate import IMPORT_JOB, check_access

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Import queued tip files (uploadTips with background=true, or files too large to "
        "import during the request). Jobs are claimed with SELECT ... FOR UPDATE SKIP LOCKED, "
        "so several workers can run at once. Progress is visible through the importJob query. "
        "A job whose uploader may no longer act (deactivated, locked out, not approved, "
        "training lapsed) fails with the reasons and imports nothing."
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
            job = claim_job()
            if job is not None:
                self._run(job)
                job.refresh_from_db()
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

    def _run(self, job: m.ImportJob) -> None:
        """Run ``job`` if its uploader may still act; otherwise fail it with the reasons."""
        uploader = job.created_by
        decision = check_access(uploader, IMPORT_JOB) if uploader is not None else None
        if decision is None or decision.allowed:
            run_job(job)
            return
        m.ImportJob.objects.filter(pk=job.pk).update(
            status=m.ImportJobStatus.FAILED,
            error_code=decision.code,
            error_message=f"{decision.message} ({', '.join(decision.codes)})",
            finished_at=timezone.now(),
        )
