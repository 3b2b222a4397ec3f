"""The task queue (procrastinate): an import job whose worker died is retried and completes;
the nightly task prepares a disposal run for review; an approved run without a queued batch
gets one back. Real workers against the test database (procrastinate's advice for Django
integration tests), so these tests commit."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditEvent
from backend import models as m
from backend import tasks
from backend.intake.jobs import claim_job, enqueue_job
from backend.retention import Category, period_days
from backend.services import disposal
from tests.factories import SourceFactory, UserFactory
from tests.retention.helpers import program_managers, tip_family

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "disposal"])

CSV = (
    "source_reference,received_at,category,narrative,email\n"
    "QUEUE-1,2024-05-01T09:00:00Z,DISTRIBUTION,first,queue@example.com\n"
)


@pytest.fixture(autouse=True)
def empty_queue() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
        cursor.execute("DELETE FROM procrastinate_workers")


def test_an_upload_is_queued_with_its_job_row():
    job = enqueue_job(
        file=ContentFile(CSV.encode(), name="tips.csv"),
        filename="tips.csv",
        format="csv",
        mode="ACCEPT_VALID",
        source=SourceFactory(),
        by=UserFactory(role=m.Role.ANALYST),
    )
    (queued,) = ProcrastinateJob.objects.filter(task_name="tipgraph.import_job")
    assert (queued.queue_name, queued.args, queued.status) == ("intake", {"job_id": job.pk}, "todo")


def test_a_job_whose_worker_died_is_retried_and_completes(settings, tmp_path):
    # given a queued upload, taken by a worker that died mid-import (its job left RUNNING)
    settings.MEDIA_ROOT = tmp_path
    job = enqueue_job(
        file=ContentFile(CSV.encode(), name="tips.csv"),
        filename="tips.csv",
        format="csv",
        mode="ACCEPT_VALID",
        source=SourceFactory(),
        by=UserFactory(username="uploader", role=m.Role.ANALYST),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT worker_id FROM procrastinate_register_worker_v1()")
        (worker,) = cursor.fetchone()
        cursor.execute("SELECT id FROM procrastinate_fetch_job_v2(ARRAY['intake'], %s)", [worker])
        assert cursor.fetchone() is not None
        cursor.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
        )
    assert claim_job(job.pk).status == "RUNNING"
    # when the periodic retry runs, then an import worker
    tasks.retry_stalled_jobs.defer(timestamp=0)
    call_command("run_worker", "--once", "--queue", "maintenance", stdout=StringIO())
    out = StringIO()
    call_command("run_import_worker", "--once", stdout=out)
    # then the job ran again, to its end
    job.refresh_from_db()
    assert (job.status, job.new_count, job.attempts) == ("SUCCEEDED", 1, 2)
    assert m.Tip.objects.get().source_reference == "QUEUE-1"
    assert f"job {job.pk} (tips.csv): SUCCEEDED" in out.getvalue()


def test_the_nightly_task_prepares_a_run_for_review_when_anything_is_due(clock):
    # nothing due: no run
    assert tasks.prepare_disposal(timestamp=0) is None
    assert not m.DisposalRun.objects.exists()
    # a tip past its period: a run waiting for a program manager's approval
    tip_family("NIGHTLY")
    clock.forward(days=period_days(Category.TIPS) + 1)
    run_id = tasks.prepare_disposal(timestamp=0)
    run = m.DisposalRun.objects.get(pk=run_id)
    assert (run.status, run.requested_by, run.items_total > 0) == ("REQUESTED", None, True)
    assert AuditEvent.objects.filter(
        operation_name="disposal requested", records_changed=[f"DisposalRun:{run.pk}"]
    ).exists()
    # while it is open, the next night prepares none
    assert tasks.prepare_disposal(timestamp=0) is None
    # any program manager approves it (the schedule is no program manager)
    _, smith = program_managers()
    assert disposal.approve_disposal(by=smith, run=run).status == "APPROVED"


def test_an_approved_run_without_a_queued_batch_gets_one_back():
    jones, smith = program_managers()
    run = disposal.approve_disposal(by=smith, run=disposal.request_disposal(by=jones))
    assert ProcrastinateJob.objects.filter(task_name="tipgraph.dispose_batch").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
    tasks._requeue_runs()
    (job,) = ProcrastinateJob.objects.filter(task_name="tipgraph.dispose_batch")
    assert job.args == {"run_id": run.pk}
    # and never twice
    tasks._requeue_runs()
    assert ProcrastinateJob.objects.filter(task_name="tipgraph.dispose_batch").count() == 1


def test_every_task_is_registered_and_periodic_ones_are_scheduled():
    from procrastinate.contrib.django import app

    names = set(app.tasks)
    assert {
        "tipgraph.import_job",
        "tipgraph.dispose_batch",
        "tipgraph.prepare_disposal",
        "tipgraph.retry_stalled_jobs",
        "tipgraph.remove_old_jobs",
    } <= names
    periodic = {task.task.name for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic == {
        "tipgraph.prepare_disposal",
        "tipgraph.retry_stalled_jobs",
        "tipgraph.remove_old_jobs",
    }
