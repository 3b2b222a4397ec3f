"""The disposal run carried out, with the clock moved forward: each category disposed of at its
period and not before; held records and everything linked to them survive, and so does a
person shared with a live tip; a crash mid-run loses one batch whole and the re-run finishes;
the queue's worker carries a run out batch by batch; the audit chain still verifies.

The worker writes on a connection of its own (the disposal role), so these tests commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db.models import Model
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditEvent, RecordChange
from audit.verify import verify_chain
from audit.writer import write_event
from backend import models as m
from backend.retention import Category, period_days
from backend.services import disposal
from backend.services.legal_holds import place_hold
from tests.factories import (
    LeadFactory,
    SourceFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)
from tests.retention.helpers import approved_run, carry_out, exists, tip_family

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "disposal"])

DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def empty_queue() -> None:
    """Queue entries outlive transactional tests (procrastinate's tables are not flushed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")


def hold(record: Model, reference: str = "CASE-1") -> m.LegalHold:
    return place_hold(
        by=UserFactory(username="pm.holder", role=m.Role.PROGRAM_MANAGER),
        record=record,
        reason="Preservation letter",
        reference=reference,
    )


def lookup(hits: int) -> m.TravellerLookup:
    return m.TravellerLookup.objects.create(
        user=UserFactory(username=f"inv{hits}", role=m.Role.INVESTIGATOR),
        criteria={"name": "Traveller Xanthippe", "dateOfBirth": "1971-04-05"},
        subject_hits=hits,
    )


def _disclosure(settings: Any) -> Model:
    # the tip disclosed is kept a shorter time here, so the disclosure's own period decides
    settings.RETENTION_DAYS = {"TIPS": 30}
    tip = TipFactory(received_at=timezone.now())
    return m.Disclosure.objects.create(
        lookup=lookup(1),
        user=UserFactory(username="inv.discloser", role=m.Role.INVESTIGATOR),
        content_type=ContentType.objects.get_for_model(m.Tip),
        object_id=tip.pk,
    )


def _import_job(settings: Any, tmp_path: Path) -> m.ImportJob:
    settings.MEDIA_ROOT = tmp_path
    job = m.ImportJob(
        status=m.ImportJobStatus.SUCCEEDED,
        filename="tips.csv",
        format="csv",
        mode="ACCEPT_VALID",
        source=SourceFactory(),
        finished_at=timezone.now(),
    )
    job.file.save("tips.csv", ContentFile(b"source_reference\nX-1\n"), save=False)
    job.save()
    return job


def _token() -> Model:
    user = UserFactory(username="token.owner")
    return m.ApiToken.objects.create(
        user=user, name="t", key_hash="k" * 64, expires_at=timezone.now() + DAY
    )


def _audit_event() -> Model:
    return write_event(kind="ADMIN", operation_name="old event", outcome="ALLOWED", variables={})


#: Each category, a record of it made now, and the model of the row that goes.
BUILDERS: dict[Category, Callable[..., Model]] = {
    Category.TIPS: lambda **_: tip_family("TIPS")["tip"],
    Category.LEADS: lambda **_: LeadFactory(
        status=m.LeadStatus.CLOSED, outcome=m.LeadOutcome.ARREST, closed_at=timezone.now()
    ),
    Category.LOOKUPS_WITH_HITS: lambda **_: lookup(1),
    Category.LOOKUPS_WITHOUT_HITS: lambda **_: lookup(0),
    Category.DISCLOSURES: lambda settings, **_: _disclosure(settings),
    Category.IMPORT_JOBS: lambda settings, tmp_path: _import_job(settings, tmp_path),
    Category.UPLOADED_FILES: lambda settings, tmp_path: _import_job(settings, tmp_path),
    Category.SESSIONS_AND_TOKENS: lambda **_: _token(),
    Category.AUDIT_LOG: lambda **_: _audit_event(),
}


@pytest.mark.parametrize("category", list(Category))
def test_each_category_is_disposed_of_at_its_period_and_not_before(
    category, clock, settings, tmp_path
):
    # given a record of the category, made now
    record = BUILDERS[category](settings=settings, tmp_path=tmp_path)
    label = record._meta.label
    # when the clock reaches a day before its period ends, it is not in a run
    clock.forward(days=period_days(category) - 1)
    early = approved_run(category)
    assert not m.DisposalItem.objects.filter(run=early, model=label, row_id=str(record.pk)).exists()
    assert carry_out(early).status == "DONE"
    assert exists(record)
    # when the clock passes its period, the next run disposes of it for good
    clock.forward(days=2)
    run = carry_out(approved_run(category), size=3)
    assert run.status == "DONE", run.error
    if category == Category.UPLOADED_FILES:
        # the file goes, the job's report stays
        record.refresh_from_db()
        assert record.file.name == ""
        assert list(tmp_path.rglob("*.csv")) == []
    else:
        assert not exists(record)
    assert run.result[label]["done"] >= 1
    # and the audit log still verifies
    report = verify_chain()
    assert report.ok, report.first_problem


def test_a_held_tip_and_everything_linked_to_it_survive(clock):
    # given a tip held for a legal matter, a tip linked to it, and a tip nobody holds
    held, linked, free = tip_family("HELD"), tip_family("LINKED"), tip_family("FREE")
    m.TipLink.objects.create(
        from_tip=held["tip"], to_tip=linked["tip"], kind=m.TipLinkKind.SHARED_IDENTIFIER
    )
    hold(held["tip"])
    # when the clock passes the tips' period and a run disposes of the tips
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = carry_out(approved_run(Category.TIPS))
    # then the held tip and the linked one survive with all their rows; the free one is gone
    assert run.status == "DONE"
    for family in (held, linked):
        assert all(exists(record) for record in family.values())
    assert not any(exists(record) for record in free.values())


def test_a_hold_placed_after_approval_wins(clock):
    # given a run approved while nothing was held
    family, other = tip_family("LATE"), tip_family("OTHER")
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = approved_run(Category.TIPS)
    # when a program manager holds one tip before the worker reaches it
    hold(family["tip"])
    run = carry_out(run)
    # then it and its rows survive, marked held; the other tip is disposed of
    assert all(exists(record) for record in family.values())
    assert not exists(other["tip"])
    assert run.result["backend.Tip"]["held"] == 1
    assert (
        m.DisposalItem.objects.get(run=run, model="backend.Tip", row_id=str(family["tip"].pk)).state
        == "HELD"
    )


def test_a_person_shared_with_a_live_tip_survives(clock):
    # given an old tip naming a person, who is also named in a tip received much later
    family = tip_family("SHARED")
    clock.forward(days=period_days(Category.TIPS) - 100)
    live = TipFactory(received_at=timezone.now())
    TipSubjectFactory(tip=live, subject=family["subject"])
    # when the old tip is past its period and disposed of
    clock.forward(days=101)
    run = carry_out(approved_run(Category.TIPS))
    # then the old tip goes, the person stays with the live tip
    assert run.status == "DONE"
    assert not exists(family["tip"])
    assert exists(family["subject"]) and exists(live)
    assert m.TipSubject.objects.filter(tip=live, subject=family["subject"]).exists()


def test_a_crash_mid_run_loses_one_batch_whole_and_the_rerun_finishes(clock, monkeypatch):
    # given three tips past their period, in a run of small batches
    families = [tip_family(tag) for tag in ("C1", "C2", "C3")]
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = approved_run(Category.TIPS)
    # when the worker crashes in the middle of its third batch (after deleting rows in it)
    real = disposal._redact
    calls = {"n": 0}

    def crash(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        real(*args, **kwargs)
        if calls["n"] == 3:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(disposal, "_redact", crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        carry_out(run, size=2)
    run.refresh_from_db()
    # then the run failed, resumable; the crashed batch left every one of its rows in place
    assert (run.status, run.error) == ("FAILED", "worker killed")
    for item in m.DisposalItem.objects.filter(run=run):
        model = disposal.apps.get_model(item.model)
        present = model._default_manager.filter(pk=item.row_id).exists()
        assert present == (item.state == "PENDING"), item
    assert m.DisposalItem.objects.filter(run=run, state="PENDING").exists()
    assert verify_chain().ok
    # when the run is carried out again
    monkeypatch.setattr(disposal, "_redact", real)
    run = carry_out(run, size=2)
    # then it finishes and everything is gone
    assert (run.status, run.attempts) == ("DONE", 2)
    assert not any(exists(r) for family in families for r in family.values())
    assert not m.DisposalItem.objects.filter(run=run, state="PENDING").exists()
    report = verify_chain()
    assert report.ok, report.first_problem


def test_the_queue_worker_carries_an_approved_run_out_batch_by_batch(clock, settings):
    # given an approved run of two tips, disposed of two rows at a time
    settings.DISPOSAL_BATCH_SIZE = 2
    families = [tip_family(tag) for tag in ("Q1", "Q2")]
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = approved_run(Category.TIPS)
    # when the disposal queue's worker runs
    call_command("run_worker", "--once", "--queue", "disposal", stdout=StringIO())
    # then each batch was a job that queued the next, and the run is done
    run.refresh_from_db()
    assert run.status == "DONE", run.error
    assert not any(exists(r) for family in families for r in family.values())
    jobs = ProcrastinateJob.objects.filter(task_name="tipgraph.dispose_batch")
    assert jobs.count() == run.batches + 1
    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}
    # and the run's steps are audit events: started, one per batch, finished
    steps = list(
        AuditEvent.objects.filter(operation_name__startswith="disposal ")
        .order_by("seq")
        .values_list("operation_name", flat=True)
    )
    assert steps == ["disposal run started"] + ["disposal batch"] * run.batches + [
        "disposal run finished"
    ]
    finished = AuditEvent.objects.get(operation_name="disposal run finished")
    assert finished.variables["categories"] == ["TIPS"]
    assert finished.variables["disposed"]["TIPS"] == run.items_total
    assert len(finished.variables["tables"]["backend.Tip"]["idsDigest"]) == 64


def test_the_command_runs_an_approved_run_with_its_progress(clock):
    tip_family("CMD")
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = approved_run(Category.TIPS)
    # the program manager's account must be able to act at the moved clock
    UserFactory(username="pm.runner", role=m.Role.PROGRAM_MANAGER)
    out = StringIO()
    call_command(
        "dispose", "--run", str(run.pk), "--user", "pm.runner", "--batch-size", "2", stdout=out
    )
    text = out.getvalue()
    assert f"disposal run {run.pk}: {run.items_total} rows" in text
    assert "batch 1: 2 rows, 2 disposed of" in text
    assert f"{run.items_total}/{run.items_total} done" in text
    assert f"disposal run {run.pk}: DONE" in text


def test_history_of_disposed_records_keeps_only_ids(clock):
    family = tip_family("HISTORY")
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = carry_out(approved_run(Category.TIPS))
    changes = RecordChange.objects.filter(table_name="backend_tip", row_id=str(family["tip"].pk))
    assert changes.count() >= 2  # its insert, and the delete of the run
    for change in changes:
        for copy in (change.before, change.after):
            assert copy is None or copy == {"id": family["tip"].pk, "redacted_by_run": run.pk}


def test_sessions_and_sign_in_records_go_with_their_category(clock):
    Session.objects.create(session_key="s" * 32, session_data="x", expire_date=timezone.now())
    AccessAttempt.objects.create(
        username="someone", ip_address="192.0.2.1", user_agent="ua", failures_since_start=1
    )
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1", user_agent="ua")
    clock.forward(days=period_days(Category.SESSIONS_AND_TOKENS) + 1)
    run = carry_out(approved_run(Category.SESSIONS_AND_TOKENS))
    assert run.status == "DONE"
    assert not Session.objects.filter(session_key="s" * 32).exists()
    assert not AccessAttempt.objects.exists() and not AccessFailureLog.objects.exists()
