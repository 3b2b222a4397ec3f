"""The background tasks, on procrastinate (a PostgreSQL task queue: no broker): import jobs,
disposal runs, and the periodic upkeep.

Queues (``manage.py run_worker`` runs them all; ``run_import_worker`` only ``intake``):

- ``intake``: ``import_job(job_id)``, one per queued upload (``backend.intake.jobs``). The
  ``ImportJob`` row stays what users see (status, progress, report); procrastinate queues,
  claims and retries.
- ``disposal``: ``dispose_batch(run_id)``, queued when a program manager approves a run. Each
  job disposes of one batch in one transaction and queues the next, under a lock per run, so
  one run's batches never overlap and a crash loses at most the batch under way.
- ``maintenance``: periodic tasks. Every night a disposal run is prepared for review when
  anything is due (``TIPGRAPH_DISPOSAL_NIGHTLY=0`` turns it off; it is never approved by the
  schedule); every ten minutes the jobs of a worker that stopped giving signs of life are
  retried and an approved or running disposal run without a queued batch gets one; every day
  finished jobs (ids only) older than ``PROCRASTINATE_KEEP_JOBS_HOURS`` are deleted.

Periodic tasks are deferred by any running worker (once per period, whatever the number of
workers) and run by a worker of their queue.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from backend.disposal_database import DISPOSAL_ALIAS

__all__ = [
    "DISPOSAL",
    "INTAKE",
    "MAINTENANCE",
    "QUEUES",
    "dispose_batch",
    "import_job",
    "prepare_disposal",
    "queue_disposal",
    "queue_import",
    "remove_old_jobs",
    "retry_stalled_jobs",
]

log = logging.getLogger(__name__)

INTAKE = "intake"
DISPOSAL = "disposal"
MAINTENANCE = "maintenance"
QUEUES = (INTAKE, DISPOSAL, MAINTENANCE)

#: A task that stopped on a lost connection or a server restart is tried again, later.
_TRANSIENT = RetryStrategy(
    max_attempts=5, wait=10, linear_wait=30, retry_exceptions={DatabaseError, OSError}
)


@app.task(name="tipgraph.import_job", queue=INTAKE, retry=_TRANSIENT)
def import_job(job_id: int) -> None:
    """Import the file of ``ImportJob`` ``job_id`` (if its uploader may still act)."""
    from backend.intake.jobs import run_queued

    run_queued(job_id)


def queue_import(job_id: int) -> None:
    """Queue ``ImportJob`` ``job_id``, in the caller's transaction (on the Django connection:
    the job and its queue entry commit together)."""
    import_job.defer(job_id=job_id)


@app.task(name="tipgraph.dispose_batch", queue=DISPOSAL, retry=_TRANSIENT)
def dispose_batch(run_id: int) -> None:
    """Start (or resume) disposal run ``run_id``, dispose of one batch and queue the next;
    close the run when nothing is left."""
    from backend.services import disposal

    if not disposal.start_run(run_id):
        return
    try:
        batch = disposal.run_batch(run_id)
    except Exception as error:
        connections[DISPOSAL_ALIAS].close()
        disposal.fail_run(run_id, error)
        raise
    if batch is None:
        disposal.finish_run(run_id)
        return
    log.info(
        "disposal run %s: batch of %s items (%s disposed of, %s kept by a hold)",
        run_id,
        batch.items,
        batch.count("DONE"),
        batch.count("HELD"),
    )
    queue_disposal(run_id)


def queue_disposal(run_id: int) -> None:
    """Queue the next batch of run ``run_id`` (one at a time per run: its lock)."""
    lock = f"disposal-run-{run_id}"
    try:
        # A savepoint: on the Django connection (the approval's transaction) a refused insert
        # would otherwise abort the whole transaction.
        with transaction.atomic():
            dispose_batch.configure(lock=lock, queueing_lock=lock).defer(run_id=run_id)
    except AlreadyEnqueued:
        log.debug("disposal run %s already has a batch queued", run_id)


@app.periodic(cron="0 2 * * *", periodic_id="nightly")
@app.task(name="tipgraph.prepare_disposal", queue=MAINTENANCE, queueing_lock="prepare_disposal")
def prepare_disposal(timestamp: int) -> int | None:
    """Prepare a disposal run for review with what is due now, when anything is and no run is
    open; the id of the run, or None. A program manager still approves it."""
    from audit import redaction
    from audit.writer import write_event
    from backend.errors import DomainError
    from backend.models import DisposalRun, DisposalStatus
    from backend.services.disposal import OPEN, request_disposal

    if not settings.DISPOSAL_NIGHTLY or DisposalRun.objects.filter(status__in=OPEN).exists():
        return None
    try:
        with transaction.atomic():
            run = request_disposal(by=None)
            if not run.items_total:
                transaction.set_rollback(True)
                return None
    except DomainError as refused:
        log.info("no disposal run prepared: %s", refused.message)
        return None
    write_event(
        kind="ADMIN",
        operation_name=redaction.REQUESTED,
        outcome="ALLOWED",
        variables={"run": run.pk, "asOf": run.as_of.isoformat(), "by": "the nightly schedule"},
        records_changed=[f"DisposalRun:{run.pk}"],
        username="",
        role="",
        auth_method="schedule",
    )
    assert run.status == DisposalStatus.REQUESTED
    return run.pk


@app.periodic(cron="*/10 * * * *", periodic_id="stalled")
@app.task(
    name="tipgraph.retry_stalled_jobs",
    queue=MAINTENANCE,
    queueing_lock="retry_stalled_jobs",
    pass_context=True,
)
async def retry_stalled_jobs(context: Any, timestamp: int) -> None:
    """Retry the jobs of workers that stopped giving signs of life (procrastinate's
    heartbeats), and queue a batch for every approved or running run that has none."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs():
        await manager.retry_job(job)
    await sync_to_async(_in_own_thread(_requeue_runs), thread_sensitive=False)()


def _in_own_thread(function: Any) -> Any:
    """``function``, closing the database connections of the thread it ran in."""

    def run() -> Any:
        try:
            return function()
        finally:
            connections.close_all()

    return run


def _requeue_runs() -> None:
    from procrastinate.contrib.django.models import ProcrastinateJob

    from backend.models import DisposalRun, DisposalStatus

    waiting = set(
        ProcrastinateJob.objects.filter(
            task_name=dispose_batch.name, status__in=["todo", "doing"]
        ).values_list("args__run_id", flat=True)
    )
    for run_id in DisposalRun.objects.filter(
        status__in=[DisposalStatus.APPROVED, DisposalStatus.RUNNING]
    ).values_list("pk", flat=True):
        if run_id not in waiting:
            queue_disposal(run_id)


@app.periodic(cron="30 3 * * *", periodic_id="cleanup")
@app.task(
    name="tipgraph.remove_old_jobs",
    queue=MAINTENANCE,
    queueing_lock="remove_old_jobs",
    pass_context=True,
)
async def remove_old_jobs(context: Any, timestamp: int) -> None:
    """Delete finished queue entries (ids only) after ``PROCRASTINATE_KEEP_JOBS_HOURS``; the
    ``ImportJob`` rows and disposal runs keep what users see."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=settings.PROCRASTINATE_KEEP_JOBS_HOURS,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
