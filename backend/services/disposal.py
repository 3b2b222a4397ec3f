"""Disposal runs: request, approve, cancel, and the batches that dispose of records for good.

A run goes REQUESTED -> APPROVED -> RUNNING -> DONE (or FAILED, resumable; REQUESTED, APPROVED
or FAILED -> CANCELLED):

1. **Request** (``request_disposal``, a program manager). The clocks are read at ``as_of``
   (now or earlier: a run never disposes of what is not due yet) for the categories asked, and
   the work list is written in one ``INSERT ... SELECT``: one ``DisposalItem`` per row, with
   its phase (children before parents: ``PHASES``), so what will go is fixed and can be
   reviewed (``counts``) before anything goes.
2. **Approve** (``approve_disposal``, another program manager unless
   ``DISPOSAL_SECOND_APPROVER`` is off). The worker's task is queued in the same transaction
   (``backend.tasks.dispose_batch``).
3. **Run** (``start_run``, ``run_batch``, ``finish_run``), on the ``disposal`` connection, as
   the disposal role (``backend.disposal_database``). Starting re-checks every item against
   the holds of the moment; each batch is one transaction that takes up to
   ``DISPOSAL_BATCH_SIZE`` pending items in phase order (``FOR UPDATE SKIP LOCKED``), re-checks
   them (an item no longer due is kept: HELD when a legal hold keeps it, KEPT when activity
   since the request does, GONE when the row is gone already), deletes the rest, redacts
   their personal values from record history, from the variables of the audit events about
   them and from query texts that quote them, blanks the admin change list's copies, unlinks
   uploaded files, marks the items and writes its own audit event. A crash rolls the batch
   back whole; the next attempt takes up where the last commit left off.

Nothing here is about who may: the entry points (GraphQL, ``manage.py dispose``) ask the gate
and audit the request; the worker's steps audit themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import connection, connections, models, transaction
from django.db.models import Count, Model, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit import redaction
from audit.writer import new_context, set_context, write_event
from backend import models as m
from backend.disposal_database import DISPOSAL_ALIAS, disposal_cursor
from backend.errors import InvalidInput, InvalidTransition
from backend.registry import audit_type_names, entry_for, type_names
from backend.retention import Category, period_days
from backend.services.retention import Clocks, due

__all__ = [
    "OPEN",
    "PHASES",
    "BatchResult",
    "approve_disposal",
    "cancel_disposal",
    "finish_run",
    "request_disposal",
    "run_batch",
    "run_to_end",
    "start_run",
]

log = logging.getLogger(__name__)

S = m.DisposalStatus
#: Runs that keep another from being requested.
OPEN = (S.REQUESTED, S.APPROVED, S.RUNNING, S.FAILED)

#: The order rows are deleted in: a row before the rows it refers to (the foreign keys are
#: checked when a batch commits). Every model a category's clock names has a phase
#: (``tests/retention/test_disposal_run.py`` checks).
PHASES: dict[str, int] = {
    "backend.Note": 0,
    "backend.NoticeRecipient": 1,
    "backend.DeconflictionNotice": 2,
    "backend.TipIdentifier": 3,
    "backend.TipSubject": 3,
    "backend.TipLink": 3,
    "backend.Lead_tips": 3,
    "backend.Lead_subjects": 3,
    "backend.SubjectIdentifier": 3,
    "backend.LegalHold": 3,
    "backend.ResearchResult": 4,
    # A redissemination request names its disclosure, a disclosure its alert (an alert's
    # links to a request, a notice, a tip or a lead are cleared as Django would: SET_NULL).
    "backend.RedisseminationRequest": 5,
    "backend.Disclosure": 6,
    "backend.Alert": 7,
    "backend.TravellerLookup": 7,
    "backend.Tip": 8,
    "backend.Subject": 9,
    "backend.Identifier": 10,
    "backend.Lead": 11,
    "backend.Cluster": 12,
    "backend.ImportJob": 13,
    "backend.ApiToken": 15,
    "sessions.Session": 15,
    "axes.AccessAttemptExpiration": 15,
    "axes.AccessAttempt": 16,
    "axes.AccessFailureLog": 15,
    "axes.AccessLog": 15,
    "admin.LogEntry": 17,
    "audit.RecordChange": 17,
    "backend.DisposalItem": 17,
    "audit.AuditEvent": 18,
    "audit.AuditQueryText": 19,
}
#: An uploaded file goes before the job's row (its own, shorter category).
_FILE_PHASE = 13
_ROW_AFTER_FILE = 14

#: Models whose rows carry no personal values of their own to look for elsewhere: the audit
#: log disposed of by age, the work lists, sign-in records and sessions.
_NO_REDACTION = {
    "audit.AuditEvent",
    "audit.AuditQueryText",
    "audit.RecordChange",
    "admin.LogEntry",
    "backend.DisposalItem",
    "sessions.Session",
    "axes.AccessAttempt",
    "axes.AccessAttemptExpiration",
    "axes.AccessFailureLog",
    "axes.AccessLog",
}
#: A value shorter than this, or a code word (upper case, digits, "_"), is never looked for in
#: query texts: it would match texts that quote no person.
_MIN_VALUE = 4
_CODE_WORD = re.compile(r"[A-Z0-9_]+")

_ACTOR = {"username": "", "role": "", "auth_method": "disposal worker"}


# -- request, approve, cancel ----------------------------------------------------------------


def _check_moment(as_of: dt.datetime) -> None:
    if as_of > timezone.now():
        raise InvalidInput(
            "a disposal run reads the clocks now or earlier, never ahead: use disposalPreview "
            "to look ahead",
            field="asOf",
        )


@transaction.atomic
def request_disposal(
    *,
    by: m.User | None,
    categories: Iterable[Category] | None = None,
    as_of: dt.datetime | None = None,
    reason: str = "",
) -> m.DisposalRun:
    """Fix what is due at ``as_of`` (default now) in ``categories`` (default all) as a run
    waiting for approval; ``INVALID_TRANSITION`` while another run is open (requested,
    approved, running or failed), ``INVALID_INPUT`` for a moment ahead of now. ``by`` is None
    for the nightly preparation."""
    now = timezone.now()
    as_of = as_of or now
    _check_moment(as_of)
    wanted = [c for c in Category if categories is None or c in set(categories)]
    if not wanted:
        raise InvalidInput("name at least one category", field="categories")
    # One request at a time: the lock orders concurrent requests, the check sees the others.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('tipgraph.disposal_request'))")
    other = m.DisposalRun.objects.filter(status__in=OPEN).order_by("id").first()
    if other is not None:
        raise InvalidTransition(
            f"disposal run {other.pk} is still {other.status.lower()}: approve, finish or cancel "
            "it first",
            field="categories",
        )
    run = m.DisposalRun.objects.create(
        as_of=as_of,
        categories=[c.value for c in wanted],
        reason=reason.strip(),
        requested_by=by,
        requested_at=now,
    )
    total = _fill_items(run, wanted)
    cut = _audit_cut(run)
    m.DisposalRun.objects.filter(pk=run.pk).update(
        counts=_counts(run, wanted),
        items_total=total,
        audit_through_seq=cut[0] if cut else None,
        audit_through_hash=cut[1] if cut else "",
    )
    run.refresh_from_db()
    return run


def _fill_items(run: m.DisposalRun, categories: list[Category]) -> int:
    """Write the run's work list from the clocks, in one statement (one snapshot)."""
    selects, params = [], []
    for category in categories:
        for part in due(category, now=run.as_of):
            label = part.model._meta.label
            if label not in PHASES:
                raise LookupError(f"{label} has no disposal phase in backend/services/disposal.py")
            phase, action = PHASES[label], m.DisposalAction.DELETE
            if label == "backend.ImportJob":
                file_only = category == Category.UPLOADED_FILES
                phase = _FILE_PHASE if file_only else _ROW_AFTER_FILE
                action = m.DisposalAction.FILE if file_only else m.DisposalAction.DELETE
            ids = part.rows.order_by().annotate(_rid=Cast("pk", TextField())).values_list("_rid")
            sql, part_params = ids.query.sql_with_params()
            selects.append(
                "SELECT %s::smallint AS phase, %s::text AS category, %s::text AS model, "
                f"%s::text AS action, p._rid AS row_id FROM ({sql}) AS p(_rid)"
            )
            params += [phase, category.value, label, action, *part_params]
    if not selects:
        return 0
    statement = (
        "INSERT INTO backend_disposalitem (run_id, phase, category, model, row_id, action, state) "
        "SELECT DISTINCT ON (u.model, u.row_id, u.action) %s, u.phase, u.category, u.model, "
        "u.row_id, u.action, 'PENDING' FROM (" + " UNION ALL ".join(selects) + ") AS u "
        "ORDER BY u.model, u.row_id, u.action, u.phase"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [run.pk, *params])
        return cursor.rowcount


def _counts(run: m.DisposalRun, categories: list[Category]) -> dict[str, Any]:
    """What the run's items hold, per category: its own records due, those past their period
    a legal hold keeps (as the preview counts them), and the rows of each model."""
    rows: dict[str, dict[str, int]] = defaultdict(dict)
    for category, label, n in (
        m.DisposalItem.objects.filter(run=run)
        .values_list("category", "model")
        .annotate(n=Count("id"))
        .order_by("category", "model")
    ):
        rows[category][label] = n
    any_hold = m.LegalHold.objects.active().exists()
    counts = {}
    for category in categories:
        parts = due(category, now=run.as_of)
        own = {part.model._meta.label for part in parts if part.own}
        due_count = sum(n for label, n in rows[category.value].items() if label in own)
        held = 0
        if any_hold:
            unheld = due(category, now=run.as_of, honour_holds=False)
            held = sum(part.rows.count() for part in unheld if part.own) - due_count
        counts[category.value] = {
            "due": due_count,
            "held": max(held, 0),
            "periodDays": period_days(category),
            "rows": dict(rows[category.value]),
        }
    return counts


def _audit_cut(run: m.DisposalRun) -> tuple[int, str] | None:
    """The last audit row the run removes, and its hash (the chain then starts after it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.seq, e.row_hash FROM audit_auditevent e "
            "JOIN backend_disposalitem i ON i.row_id = e.id::text "
            "WHERE i.run_id = %s AND i.model = 'audit.AuditEvent' ORDER BY e.seq DESC LIMIT 1",
            [run.pk],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _locked(run: m.DisposalRun) -> m.DisposalRun:
    return m.DisposalRun.objects.select_for_update().get(pk=run.pk)


@transaction.atomic
def approve_disposal(*, by: m.User, run: m.DisposalRun) -> m.DisposalRun:
    """Approve a requested run and queue it for the worker; ``INVALID_TRANSITION`` unless it
    is requested, or when its requester approves it while a second approver is required."""
    run = _locked(run)
    if run.status != S.REQUESTED:
        raise InvalidTransition(
            f"disposal run {run.pk} is {run.status.lower()}, not waiting for approval", field="id"
        )
    if settings.DISPOSAL_SECOND_APPROVER and run.requested_by_id == by.pk:
        raise InvalidTransition(
            f"disposal run {run.pk} was requested by {by.username}: another program manager "
            "approves it",
            field="id",
        )
    _check_moment(run.as_of)
    run.status = S.APPROVED
    run.approved_by = by
    run.approved_at = timezone.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    from backend.tasks import queue_disposal

    queue_disposal(run.pk)
    return run


@transaction.atomic
def cancel_disposal(*, by: m.User, run: m.DisposalRun, reason: str) -> m.DisposalRun:
    """Cancel a run not finished; a running run stops after its current batch (what was
    disposed of stays disposed of)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("the reason for cancelling is required", field="reason")
    run = _locked(run)
    if run.status not in (S.REQUESTED, S.APPROVED, S.RUNNING, S.FAILED):
        raise InvalidTransition(f"disposal run {run.pk} is {run.status.lower()}", field="id")
    run.status = S.CANCELLED
    run.cancelled_by = by
    run.cancelled_at = timezone.now()
    run.cancel_reason = reason
    run.finished_at = run.cancelled_at
    run.save(
        update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason", "finished_at"]
    )
    return run


# -- the run ---------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What one batch did."""

    items: int = 0
    #: model label -> {state: count}
    states: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    redacted_audit_rows: int = 0
    redacted_history_rows: int = 0
    redacted_query_texts: int = 0

    def count(self, state: str) -> int:
        return sum(by_state.get(state, 0) for by_state in self.states.values())


def _run_event(run: m.DisposalRun, operation: str, variables: dict[str, Any], **extra: Any) -> None:
    write_event(
        using=DISPOSAL_ALIAS,
        kind="ADMIN",
        operation_name=operation,
        outcome=extra.pop("outcome", "ALLOWED"),
        variables={"run": run.pk, **variables},
        records_changed=[f"DisposalRun:{run.pk}"],
        **_ACTOR,
        **extra,
    )


def start_run(run_id: int, *, recheck_size: int = 5000) -> bool:
    """Mark an approved (or failed) run RUNNING, re-check every pending item against the holds
    of the moment, and write the run's started event. True when the run is (now) RUNNING."""
    with transaction.atomic(using=DISPOSAL_ALIAS):
        run = m.DisposalRun.objects.using(DISPOSAL_ALIAS).select_for_update().get(pk=run_id)
        if run.status == S.RUNNING:
            return True
        if run.status not in (S.APPROVED, S.FAILED):
            return False
        run.status = S.RUNNING
        run.attempts += 1
        run.started_at = run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.error = ""
        run.save(
            using=DISPOSAL_ALIAS,
            update_fields=["status", "attempts", "started_at", "heartbeat_at", "error"],
        )
        variables: dict[str, Any] = {
            "attempt": run.attempts,
            "asOf": run.as_of.isoformat(),
            "categories": run.categories,
            "items": run.items_total,
        }
        if run.audit_through_seq is not None:
            variables["audit_log_through"] = {
                "seq": run.audit_through_seq,
                "row_hash": run.audit_through_hash,
            }
        _run_event(run, redaction.STARTED, variables)
    # Holds placed since the request win before anything goes (each batch checks again).
    last_id = 0
    while True:
        with transaction.atomic(using=DISPOSAL_ALIAS):
            items = list(
                m.DisposalItem.objects.using(DISPOSAL_ALIAS)
                .filter(run_id=run_id, state=m.DisposalItemState.PENDING, id__gt=last_id)
                .order_by("id")[:recheck_size]
            )
            if not items:
                return True
            last_id = items[-1].id
            kept = _recheck(run, items)
            _mark(kept)


def _ids(model: type[Model], row_ids: Iterable[str]) -> list[Any]:
    return [model._meta.pk.to_python(row_id) for row_id in row_ids]


def _recheck(run: m.DisposalRun, items: list[m.DisposalItem]) -> dict[str, list[int]]:
    """State -> item ids, for the items no longer to be disposed of: GONE (row gone), HELD
    (a legal hold keeps it now), KEPT (no longer due, by activity since the request)."""
    kept: dict[str, list[int]] = defaultdict(list)
    groups: dict[tuple[str, str, str], list[m.DisposalItem]] = defaultdict(list)
    for item in items:
        groups[(item.category, item.model, item.action)].append(item)
    for (category, label, action), group in groups.items():
        model = apps.get_model(label)
        ids = _ids(model, (item.row_id for item in group))
        present = model._default_manager.using(DISPOSAL_ALIAS).filter(pk__in=ids)
        if action == m.DisposalAction.FILE:
            present = present.exclude(file="")
        existing = {str(pk) for pk in present.values_list("pk", flat=True)}
        still_due = _due_ids(Category(category), model, ids, run.as_of, honour_holds=True)
        unheld = None
        for item in group:
            if item.row_id not in existing:
                kept[m.DisposalItemState.GONE].append(item.id)
            elif item.row_id not in still_due:
                if unheld is None:
                    unheld = _due_ids(Category(category), model, ids, run.as_of, honour_holds=False)
                state = (
                    m.DisposalItemState.HELD if item.row_id in unheld else m.DisposalItemState.KEPT
                )
                kept[state].append(item.id)
    return kept


def _due_ids(
    category: Category,
    model: type[Model],
    ids: list[Any],
    as_of: dt.datetime,
    *,
    honour_holds: bool,
) -> set[str]:
    clocks = Clocks(as_of, honour_holds=honour_holds)
    from backend.services.retention import CLOCKS

    found: set[str] = set()
    for part in CLOCKS[category](clocks):
        if part.model is model:
            rows = part.rows.using(DISPOSAL_ALIAS).filter(pk__in=ids).values_list("pk", flat=True)
            found |= {str(pk) for pk in rows}
    return found


def _mark(states: dict[str, list[int]]) -> None:
    for state, item_ids in states.items():
        if item_ids:
            m.DisposalItem.objects.using(DISPOSAL_ALIAS).filter(pk__in=item_ids).update(state=state)


def run_batch(run_id: int, *, size: int | None = None) -> BatchResult | None:
    """Dispose of the next batch of a RUNNING run, in one transaction; None when nothing is
    pending (or the run is not running: cancelled meanwhile)."""
    size = size or settings.DISPOSAL_BATCH_SIZE
    files: list[str] = []
    with transaction.atomic(using=DISPOSAL_ALIAS), disposal_cursor(run_id) as cursor:
        run = m.DisposalRun.objects.using(DISPOSAL_ALIAS).select_for_update().get(pk=run_id)
        if run.status != S.RUNNING:
            return None
        items = list(
            m.DisposalItem.objects.using(DISPOSAL_ALIAS)
            .select_for_update(skip_locked=True)
            .filter(run_id=run_id, state=m.DisposalItemState.PENDING)
            .order_by("phase", "id")[:size]
        )
        if not items:
            return None
        context = new_context()
        set_context(context, using=DISPOSAL_ALIAS)
        result = BatchResult(items=len(items))
        kept = _recheck(run, items)
        skipped = {item_id for ids in kept.values() for item_id in ids}
        _mark(kept)
        by_id = {item.id: item for item in items}
        for state, ids in kept.items():
            for item_id in ids:
                label = by_id[item_id].model
                result.states[label][state] = result.states[label].get(state, 0) + 1
        todo = [item for item in items if item.id not in skipped]
        redacted_seqs: set[int] = set()
        groups: dict[tuple[int, str, str], list[m.DisposalItem]] = defaultdict(list)
        for item in todo:
            groups[(item.phase, item.model, item.action)].append(item)
        for (_, label, action), group in sorted(groups.items()):
            model = apps.get_model(label)
            ids = _ids(model, (item.row_id for item in group))
            done = _dispose(cursor, run, context, model, action, ids, files, result, redacted_seqs)
            m.DisposalItem.objects.using(DISPOSAL_ALIAS).filter(
                pk__in=[item.id for item in group]
            ).update(state=m.DisposalItemState.DONE)
            result.states[label][m.DisposalItemState.DONE] = (
                result.states[label].get(m.DisposalItemState.DONE, 0) + done
            )
        run.batches += 1
        run.heartbeat_at = timezone.now()
        run.save(using=DISPOSAL_ALIAS, update_fields=["batches", "heartbeat_at"])
        _run_event(
            run,
            redaction.BATCH,
            {
                "batch": run.batches,
                "items": {label: dict(states) for label, states in sorted(result.states.items())},
                "redacted_audit_rows": redaction.seq_ranges(redacted_seqs),
                "redacted_history_rows": result.redacted_history_rows,
                "redacted_query_texts": result.redacted_query_texts,
            },
            context_id=context,
        )
        # Files last, just before the commit: a crash before it leaves the row naming a file
        # that is gone, which the next attempt takes as disposed of; never a file left behind
        # by a row already gone.
        for name in files:
            if name:
                default_storage.delete(name)
    return result


def _dispose(
    cursor: Any,
    run: m.DisposalRun,
    context: uuid.UUID,
    model: type[Model],
    action: str,
    ids: list[Any],
    files: list[str],
    result: BatchResult,
    redacted_seqs: set[int],
) -> int:
    """Delete (or, for an uploaded file, clear) one model's rows of a batch and redact what
    the database keeps elsewhere of them; the number of rows disposed of."""
    table = model._meta.db_table
    pk = model._meta.pk.column
    label = model._meta.label
    if action == m.DisposalAction.FILE:
        cursor.execute(
            f"SELECT file FROM {table} WHERE {pk} = ANY(%s) AND file <> '' FOR UPDATE", [ids]
        )
        files += [name for (name,) in cursor.fetchall()]
        cursor.execute(f"UPDATE {table} SET file = '' WHERE {pk} = ANY(%s)", [ids])
        return cursor.rowcount
    text_ids = [str(i) for i in ids]
    redact = label not in _NO_REDACTION and entry_for(model).tracked
    values: set[str] = set()
    if redact:
        cursor.execute(f"SELECT to_jsonb(t) FROM {table} t WHERE {pk} = ANY(%s)", [ids])
        for (row,) in cursor.fetchall():
            _strings(_json(row), values)
    if label == "backend.ImportJob":
        cursor.execute(f"SELECT file FROM {table} WHERE {pk} = ANY(%s)", [ids])
        files += [name for (name,) in cursor.fetchall()]
    alerts = _alerts_naming(cursor, ids) if label == "backend.Tip" else []
    _set_null_references(cursor, model, ids)
    if alerts:
        # an alert that named a disposed tip keeps its place in the partner's list (and its
        # disclosure row, the accounting) but no longer its text, which quoted the tip
        cursor.execute(
            "UPDATE backend_alert SET message = %s WHERE id = ANY(%s)", [ALERT_REDACTED, alerts]
        )
        _redact(
            cursor, run, context, m.Alert, [str(a) for a in alerts], set(), result, redacted_seqs
        )
    cursor.execute(f"DELETE FROM {table} WHERE {pk} = ANY(%s)", [ids])
    deleted = cursor.rowcount
    if redact:
        _redact(cursor, run, context, model, text_ids, values, result, redacted_seqs)
    if label not in _NO_REDACTION and model in type_names():
        content_type = ContentType.objects.db_manager(DISPOSAL_ALIAS).get_for_model(model)
        cursor.execute(
            "UPDATE django_admin_log SET object_repr = '', change_message = '' "
            "WHERE content_type_id = %s AND object_id = ANY(%s)",
            [content_type.pk, text_ids],
        )
    return deleted


#: The text an alert keeps once the tip it named is disposed of.
ALERT_REDACTED = "The tip this alert named has been disposed of under the retention schedule."


def _alerts_naming(cursor: Any, tip_ids: list[Any]) -> list[int]:
    cursor.execute("SELECT id FROM backend_alert WHERE tip_id = ANY(%s)", [tip_ids])
    return [pk for (pk,) in cursor.fetchall()]


def _set_null_references(cursor: Any, model: type[Model], ids: list[Any]) -> None:
    """Clear the foreign keys that Django would set to NULL on delete (an alert naming a tip):
    the database's keys do not, and would refuse the delete."""
    # include_hidden: the alert's key to its tip has no reverse accessor (related_name="+"),
    # so ``related_objects`` leaves it out
    relations = [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]
    for relation in relations:
        if getattr(relation, "on_delete", None) is not models.SET_NULL:
            continue
        if not relation.field.concrete or relation.many_to_many:
            continue
        other = relation.related_model
        column = relation.field.column
        cursor.execute(
            f"UPDATE {other._meta.db_table} SET {column} = NULL WHERE {column} = ANY(%s)", [ids]
        )


def _redact(
    cursor: Any,
    run: m.DisposalRun,
    context: uuid.UUID,
    model: type[Model],
    row_ids: list[str],
    values: set[str],
    result: BatchResult,
    redacted_seqs: set[int],
) -> None:
    """Remove the disposed rows' values from record history, from the variables of the audit
    events that wrote or returned them, and from query texts of those events that quote them."""
    table = model._meta.db_table
    cursor.execute(
        "SELECT before, after, context_id FROM audit_recordchange "
        "WHERE table_name = %s AND row_id = ANY(%s)",
        [table, row_ids],
    )
    contexts: set[uuid.UUID] = set()
    for before, after, change_context in cursor.fetchall():
        _strings(_json(before), values)
        _strings(_json(after), values)
        if change_context is not None and change_context != context:
            contexts.add(change_context)
    cursor.execute(
        "UPDATE audit_recordchange SET "
        "before = CASE WHEN before IS NULL THEN NULL ELSE jsonb_build_object("
        "  'id', COALESCE(before, after) -> 'id', 'redacted_by_run', %s::bigint) END, "
        "after = CASE WHEN after IS NULL THEN NULL ELSE jsonb_build_object("
        "  'id', COALESCE(before, after) -> 'id', 'redacted_by_run', %s::bigint) END "
        "WHERE table_name = %s AND row_id = ANY(%s) "
        "AND NOT COALESCE(COALESCE(before, after) ? 'redacted_by_run', false)",
        [run.pk, run.pk, table, row_ids],
    )
    result.redacted_history_rows += cursor.rowcount
    type_name = audit_type_names().get(model)
    names = [f"{type_name}:{row_id}" for row_id in row_ids] if type_name else []
    cursor.execute(
        "SELECT seq, query_hash_id, variables, redacted_by_run FROM audit_auditevent "
        "WHERE operation_name <> ALL(%s) AND (context_id = ANY(%s) "
        "OR records_changed && %s::varchar[] OR records_returned && %s::varchar[])",
        [list(redaction.DISPOSAL_OPERATIONS), list(contexts), names, names],
    )
    linked = cursor.fetchall()
    to_redact = []
    texts: set[str] = set()
    for seq, query_hash, variables, redacted_by in linked:
        if query_hash:
            texts.add(query_hash)
        variables = _json(variables)
        if redacted_by is None and variables:
            _strings(variables, values)
            to_redact.append(seq)
    if to_redact:
        cursor.execute(
            "UPDATE audit_auditevent SET variables = '{}'::jsonb, redacted_by_run = %s "
            "WHERE seq = ANY(%s)",
            [run.pk, to_redact],
        )
        redacted_seqs.update(to_redact)
        result.redacted_audit_rows += len(to_redact)
    wanted = _searchable(values)
    if texts and wanted:
        cursor.execute(
            "SELECT hash, text FROM audit_auditquerytext "
            "WHERE hash = ANY(%s) AND redacted_by_run IS NULL",
            [sorted(texts)],
        )
        quoting = [key for key, text in cursor.fetchall() if _quotes(text, wanted)]
        if quoting:
            cursor.execute(
                "UPDATE audit_auditquerytext SET text = '', redacted_by_run = %s "
                "WHERE hash = ANY(%s)",
                [run.pk, quoting],
            )
            result.redacted_query_texts += len(quoting)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _strings(value: Any, into: set[str]) -> None:
    """Every string in ``value`` (a decoded JSON value), recursively."""
    if isinstance(value, str):
        into.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, into)
    elif isinstance(value, list):
        for item in value:
            _strings(item, into)


def _searchable(values: set[str]) -> list[str]:
    return sorted(
        {v.lower() for v in values if len(v) >= _MIN_VALUE and not _CODE_WORD.fullmatch(v)}
    )


def _quotes(text: str, values: list[str]) -> bool:
    folded = text.lower()
    return any(value in folded for value in values)


def finish_run(run_id: int) -> m.DisposalRun | None:
    """Close a RUNNING run with nothing pending: DONE, with its result (per table: rows
    disposed of, kept by a hold, no longer due, gone, and the SHA-256 of the sorted ids
    disposed of) and its finished event."""
    with transaction.atomic(using=DISPOSAL_ALIAS), disposal_cursor(run_id) as cursor:
        run = m.DisposalRun.objects.using(DISPOSAL_ALIAS).select_for_update().get(pk=run_id)
        if run.status != S.RUNNING:
            return None
        if (
            m.DisposalItem.objects.using(DISPOSAL_ALIAS)
            .filter(run_id=run_id, state=m.DisposalItemState.PENDING)
            .exists()
        ):
            return None
        result = _result(cursor, run_id)
        run.status = S.DONE
        run.finished_at = timezone.now()
        run.result = result
        run.save(using=DISPOSAL_ALIAS, update_fields=["status", "finished_at", "result"])
        by_category = dict(
            m.DisposalItem.objects.using(DISPOSAL_ALIAS)
            .filter(run_id=run_id, state=m.DisposalItemState.DONE)
            .values_list("category")
            .annotate(n=Count("id"))
            .order_by()
        )
        _run_event(
            run,
            redaction.FINISHED,
            {
                "asOf": run.as_of.isoformat(),
                "categories": run.categories,
                "disposed": {c: by_category.get(c, 0) for c in run.categories},
                "tables": result,
                "batches": run.batches,
            },
        )
    return run


def _result(cursor: Any, run_id: int) -> dict[str, dict[str, Any]]:
    cursor.execute(
        "SELECT model, state, count(*) FROM backend_disposalitem WHERE run_id = %s "
        "GROUP BY model, state ORDER BY model, state",
        [run_id],
    )
    result: dict[str, dict[str, Any]] = {}
    for label, state, count in cursor.fetchall():
        result.setdefault(label, {})[state.lower()] = count
    for label in result:
        digest = hashlib.sha256()
        cursor.execute(
            "SELECT row_id FROM backend_disposalitem WHERE run_id = %s AND model = %s "
            "AND state = 'DONE' ORDER BY row_id COLLATE \"C\"",
            [run_id, label],
        )
        for (row_id,) in cursor.fetchall():
            digest.update(row_id.encode() + b"\n")
        result[label]["idsDigest"] = digest.hexdigest()
    return result


def fail_run(run_id: int, error: BaseException | str) -> None:
    """Record why the run stopped: FAILED, resumable (``manage.py dispose --run``)."""
    message = str(error)[:2000] or type(error).__name__
    with transaction.atomic(using=DISPOSAL_ALIAS):
        run = m.DisposalRun.objects.using(DISPOSAL_ALIAS).select_for_update().get(pk=run_id)
        if run.status != S.RUNNING:
            return
        run.status = S.FAILED
        run.error = message
        run.save(using=DISPOSAL_ALIAS, update_fields=["status", "error"])
        _run_event(
            run, redaction.FAILED, {"error": message, "batches": run.batches}, outcome="FAILED"
        )


def run_to_end(run_id: int, *, size: int | None = None) -> Iterator[BatchResult]:
    """Start (or resume) a run and carry it out batch by batch in this process, yielding each
    batch's result; the run is DONE at the end (FAILED, and the error raised, if a batch
    fails)."""
    if not start_run(run_id):
        return
    try:
        while (batch := run_batch(run_id, size=size)) is not None:
            yield batch
    except Exception as error:
        connections[DISPOSAL_ALIAS].close()
        fail_run(run_id, error)
        raise
    finish_run(run_id)
