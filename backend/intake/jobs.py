"""Background import jobs, on the task queue (procrastinate, ``backend.tasks``).

A job is a row of ``ImportJob``: what users see (``importJob``: status, progress, report).
Queueing, claiming and retrying are procrastinate's: ``enqueue_job`` stores the file and defers
the task ``import_job(job_id)`` in the same transaction; a worker (``manage.py
run_import_worker`` or ``run_worker``) takes it, and ``run_queued`` marks the job RUNNING,
checks that its uploader may still act, imports the file batch by batch and writes the
progress (rows read, rows rejected) after every batch. A worker that dies mid-job stops
giving signs of life (procrastinate's heartbeat); the periodic ``retry_stalled_jobs`` queues
its job again and the import, being idempotent, completes on the re-run (``attempts`` counts
the runs).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import connection, connections, transaction
from django.utils import timezone

from backend import models as m
from backend.intake.entry import import_file
from backend.intake.importer import ImportMode, ImportReport, import_tips
from backend.intake.records import FileRejected, RowError
from permissions.gate import IMPORT_JOB, check_access

__all__ = ["claim_job", "enqueue_job", "errors_json", "run_job", "run_queued"]

log = logging.getLogger(__name__)


def errors_json(errors: list[RowError]) -> list[dict[str, Any]]:
    """The first ``INTAKE_MAX_REPORTED_ERRORS`` row errors, as stored on a job."""
    return [
        {"row": e.row, "field": e.field, "reason": e.reason}
        for e in errors[: settings.INTAKE_MAX_REPORTED_ERRORS]
    ]


def enqueue_job(
    *,
    file: File,
    filename: str,
    format: str,
    mode: str,
    source: m.Source,
    by: m.User | None,
) -> m.ImportJob:
    """Store the file under MEDIA_ROOT and queue it for the worker."""
    job = m.ImportJob(
        filename=filename[:255],
        size=file.size or 0,
        format=format,
        mode=ImportMode(mode).value,
        source=source,
        created_by=by,
    )
    job.file.save(filename, file, save=False)
    job.save()
    from backend.tasks import queue_import

    queue_import(job.pk)
    return job


def claim_job(job_id: int) -> m.ImportJob | None:
    """Mark job ``job_id`` RUNNING (again, when a stalled run is retried) and return it; None
    when it is finished or gone (its queue entry outlived it)."""
    with transaction.atomic():
        job = (
            m.ImportJob.objects.select_for_update()
            .filter(pk=job_id, status__in=[m.ImportJobStatus.QUEUED, m.ImportJobStatus.RUNNING])
            .first()
        )
        if job is None:
            return None
        now = timezone.now()
        job.status = m.ImportJobStatus.RUNNING
        job.started_at = now
        job.heartbeat_at = now
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
    return job


class _ProgressWriter:
    """Writes a job's progress where others can read it at once: on the worker's connection
    between batches, or, while one transaction spans the whole file (ALL_OR_NOTHING), on a
    connection of its own."""

    def __init__(self, job: m.ImportJob) -> None:
        self.job = job
        self.side = None

    def __call__(self, done: int, rejected: int) -> None:
        now = timezone.now()
        if self.job.mode != ImportMode.ALL_OR_NOTHING or not connection.in_atomic_block:
            m.ImportJob.objects.filter(pk=self.job.pk).update(
                rows_done=done, rows_rejected=rejected, heartbeat_at=now
            )
            return
        if self.side is None:
            self.side = connections.create_connection("default")
        with self.side.cursor() as cursor:
            cursor.execute(
                "UPDATE backend_importjob SET rows_done = %s, rows_rejected = %s, "
                "heartbeat_at = %s WHERE id = %s",
                [done, rejected, now, self.job.pk],
            )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def run_job(job: m.ImportJob) -> ImportReport | None:
    """Import a claimed job's file and record the outcome on the job."""
    writer = _ProgressWriter(job)
    report: ImportReport | None = None
    try:
        with job.file.open("rb") as stream:
            report = import_file(
                file=stream,
                name=job.filename,
                format=job.format,
                source=job.source,
                by=job.created_by,
                mode=job.mode,
                progress=writer,
                # Looked up here, not in the entry point, so that a test can watch the batches.
                importer=import_tips,
            )
    except FileRejected as exc:
        _finish(job, status=m.ImportJobStatus.FAILED, code=exc.code, message=exc.message)
    except Exception as exc:
        log.exception("import job %s failed", job.pk)
        _finish(job, status=m.ImportJobStatus.FAILED, code="INTERNAL", message=str(exc)[:2000])
    else:
        _finish(job, status=m.ImportJobStatus.SUCCEEDED, report=report)
    finally:
        writer.close()
    return report


def _finish(
    job: m.ImportJob,
    *,
    status: str,
    report: ImportReport | None = None,
    code: str = "",
    message: str = "",
) -> None:
    job.refresh_from_db(fields=["rows_done", "rows_rejected"])
    job.status = status
    job.error_code = code
    job.error_message = message
    job.finished_at = timezone.now()
    fields = ["status", "error_code", "error_message", "finished_at"]
    if report is not None:
        job.new_count = report.new
        job.updated_count = report.updated
        job.unchanged_count = report.unchanged
        job.rejected_count = report.rejected
        job.rows_done = report.rows
        job.rows_rejected = report.rejected
        job.errors = errors_json(report.errors)
        fields += [
            "new_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "rows_done",
            "rows_rejected",
            "errors",
        ]
    job.save(update_fields=fields)


def run_queued(job_id: int) -> m.ImportJob | None:
    """Claim and run job ``job_id`` (the task ``import_job``): import the file as the account
    that uploaded it, if that account may still act; otherwise fail the job with the reasons,
    importing nothing. The job as it ended, or None when there was nothing to run."""
    job = claim_job(job_id)
    if job is None:
        return None
    uploader = job.created_by
    decision = check_access(uploader, IMPORT_JOB) if uploader is not None else None
    if decision is None or decision.allowed:
        run_job(job)
    else:
        m.ImportJob.objects.filter(pk=job.pk).update(
            status=m.ImportJobStatus.FAILED,
            error_code=decision.code,
            error_message=f"{decision.message} ({', '.join(decision.codes)})",
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    log.info(
        "import job %s (%s): %s; new %s, updated %s, unchanged %s, rejected %s%s",
        job.pk,
        job.filename,
        job.status,
        job.new_count,
        job.updated_count,
        job.unchanged_count,
        job.rejected_count,
        f"; {job.error_code}: {job.error_message}" if job.error_code else "",
    )
    return job
