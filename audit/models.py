"""The audit log's tables.

- ``AuditEvent``: one row per GraphQL operation (allowed, denied, invalid or failed) and per
  sign-in event. Rows form a hash chain: a database trigger numbers them (``seq``) and links
  each to the previous one (``prev_hash``, ``row_hash``); ``audit.verify`` proves that no row
  was removed or altered.
- ``AuditQueryText``: each distinct query text once, keyed by its SHA-256.
- ``RecordChange``: the before and after of every write to a domain table, written only by
  database triggers, so that admin edits, services and raw SQL are all recorded.

All three tables are append-only: the database refuses UPDATE and DELETE on them
(``audit/migrations/0002_triggers.py``) to every role but the disposal role during an approved
disposal run, which may delete rows past their period and redact the personal values of the
records it disposes of (``audit/migrations/0004_disposal.py``). Rows are written through
``audit.writer`` only.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now

__all__ = [
    "AuditEvent",
    "AuditEventKind",
    "AuditOutcome",
    "AuditQueryText",
    "OperationType",
    "RecordChange",
    "RecordOperation",
]


class AuditEventKind(models.TextChoices):
    OPERATION = "OPERATION", "GraphQL operation"
    LOGIN = "LOGIN", "Sign-in"
    LOGOUT = "LOGOUT", "Sign-out"
    LOGIN_FAILED = "LOGIN_FAILED", "Failed sign-in"
    LOCKOUT = "LOCKOUT", "Lockout"
    ADMIN = "ADMIN", "Administrative action"


class AuditOutcome(models.TextChoices):
    ALLOWED = "ALLOWED", "Allowed"
    DENIED = "DENIED", "Denied"
    INVALID = "INVALID", "Invalid (refused before execution)"
    FAILED = "FAILED", "Failed"
    SUCCEEDED = "SUCCEEDED", "Succeeded (sign-in events)"


class OperationType(models.TextChoices):
    QUERY = "query", "Query"
    MUTATION = "mutation", "Mutation"
    SUBSCRIPTION = "subscription", "Subscription"
    EXPORT = "export", "Export of the audit log (CSV)"
    ADMIN = "admin", "Django admin request"
    NONE = "", "None (not a GraphQL operation, or unparsable)"


class RecordOperation(models.TextChoices):
    INSERT = "INSERT", "Insert"
    UPDATE = "UPDATE", "Update"
    DELETE = "DELETE", "Delete"


class AuditQueryText(models.Model):
    """A distinct GraphQL query text, stored once and referred to by its SHA-256."""

    hash = models.CharField(
        max_length=64, primary_key=True, help_text="SHA-256 (hex) of the UTF-8 query text."
    )
    text = models.TextField()
    first_seen = models.DateTimeField(db_default=Now())
    redacted_by_run = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The disposal run that blanked this text because it held a disposed value.",
    )

    class Meta:
        verbose_name = "audited query text"

    def __str__(self) -> str:
        return self.hash


class AuditEvent(models.Model):
    """One audited GraphQL operation or sign-in event; a link of the audit hash chain."""

    seq = models.BigIntegerField(
        unique=True,
        db_default=0,
        editable=False,
        help_text="Position in the hash chain (1, 2, 3...), set by the database.",
    )
    occurred_at = models.DateTimeField(db_default=Now())
    kind = models.CharField(
        max_length=16, choices=AuditEventKind.choices, default=AuditEventKind.OPERATION
    )
    user_id = models.BigIntegerField(
        null=True, blank=True, help_text="The account's id; not a foreign key, on purpose."
    )
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=32, blank=True)
    auth_method = models.CharField(
        max_length=64, blank=True, help_text='"session", "token:<id>" or "anonymous".'
    )
    client_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    operation_type = models.CharField(
        max_length=16, choices=OperationType.choices, blank=True, default=""
    )
    operation_name = models.CharField(max_length=200, blank=True)
    query_hash = models.ForeignKey(
        AuditQueryText,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
    )
    variables = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices)
    error_codes = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    records_returned = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text='Records in the answer, as "Type:id" (for example "Tip:12").',
    )
    records_changed = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text='Records created, changed or removed, as "Type:id".',
    )
    context_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="Ties the RecordChange rows of this operation to it.",
    )
    prev_hash = models.CharField(max_length=64, db_default="", editable=False)
    row_hash = models.CharField(max_length=64, db_default="", editable=False)
    payload_digest = models.CharField(
        max_length=64,
        db_default="",
        editable=False,
        help_text="SHA-256 of the variables as stored (set by the database); the chain hashes "
        "this digest, so a disposal run can redact the variables and the chain still verifies.",
    )
    redacted_by_run = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The disposal run that removed the variables (personal values of records it "
        "disposed of); its batch event in the chain names this row.",
    )

    class Meta:
        verbose_name = "audit event"
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["occurred_at"], name="audit_event_occurred_at"),
            models.Index(fields=["user_id", "occurred_at"], name="audit_event_user"),
            models.Index(fields=["role", "occurred_at"], name="audit_event_role"),
            models.Index(fields=["outcome", "occurred_at"], name="audit_event_outcome"),
            models.Index(fields=["operation_name", "occurred_at"], name="audit_event_operation"),
            models.Index(fields=["context_id"], name="audit_event_context"),
            # The disposal events the verifier reads before it walks the chain.
            models.Index(
                fields=["operation_name", "seq"],
                condition=models.Q(kind="ADMIN"),
                name="audit_event_admin_operation",
            ),
            GinIndex(fields=["records_returned"], name="audit_event_returned"),
            GinIndex(fields=["records_changed"], name="audit_event_changed"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.operation_name or ''} {self.outcome}".strip()


class RecordChange(models.Model):
    """The before and after of one row written in a domain table; written by triggers only."""

    occurred_at = models.DateTimeField(db_default=Now())
    table_name = models.CharField(max_length=63)
    row_id = models.TextField(help_text="The row's primary key, as text.")
    operation = models.CharField(max_length=6, choices=RecordOperation.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    context_id = models.UUIDField(
        null=True, blank=True, help_text="The operation (AuditEvent.context_id) that wrote it."
    )
    db_user = models.CharField(max_length=63, help_text="The database role that wrote it.")

    class Meta:
        verbose_name = "record change"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["table_name", "row_id", "id"], name="audit_change_row"),
            models.Index(fields=["context_id"], name="audit_change_context"),
            models.Index(fields=["occurred_at"], name="audit_change_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name} {self.row_id}"
