"""Legal holds, and disposal runs: what the retention schedule keeps, and what it disposes of.

**Legal holds.** A tip, lead or subject that must survive its retention period.

A program manager places a hold, with the reason and the reference of the legal matter
(litigation, a preservation letter, an investigation), and lifts it when the matter ends. While
any hold on it is active, the record and everything linked to it are never due for disposal
(``backend.services.retention``). A record may carry several active holds, one per matter: lifting
one matter's hold leaves the others. A lifted hold is kept, with who lifted it, when and why.

**Disposal runs** (``DisposalRun``, ``DisposalItem``): a program manager requests a run, which
freezes the moment the clocks are read at (``as_of``), the categories and the work list (one
item per row, filled from the clocks in one statement); another program manager approves it;
a background worker then disposes of the items in batches (``backend.services.disposal``). The
run and its items hold ids only, never a disposed value.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from backend.vocabulary import MAX_REFERENCE

__all__ = [
    "DisposalAction",
    "DisposalItem",
    "DisposalItemState",
    "DisposalRun",
    "DisposalStatus",
    "LegalHold",
]

#: The fields a hold's target can be in; exactly one is set.
HOLD_TARGETS = ("tip", "lead", "subject")


class LegalHoldQuerySet(models.QuerySet["LegalHold"]):
    def active(self) -> LegalHoldQuerySet:
        """The holds not lifted."""
        return self.filter(lifted_at__isnull=True)


class LegalHold(models.Model):
    """A legal hold on one tip, lead or subject: it is kept, with what is linked to it, until
    the hold is lifted."""

    tip = models.ForeignKey(
        "backend.Tip", null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    lead = models.ForeignKey(
        "backend.Lead", null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    subject = models.ForeignKey(
        "backend.Subject",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="legal_holds",
    )
    reason = models.TextField(help_text="Why the record must be kept.")
    reference = models.CharField(
        max_length=MAX_REFERENCE,
        help_text="The legal matter's reference: case number, preservation letter, order.",
    )
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(tip__isnull=False, lead__isnull=True, subject__isnull=True)
                    | models.Q(tip__isnull=True, lead__isnull=False, subject__isnull=True)
                    | models.Q(tip__isnull=True, lead__isnull=True, subject__isnull=False)
                ),
                name="legalhold_one_target",
            ),
            models.CheckConstraint(
                condition=~models.Q(reason="") & ~models.Q(reference=""),
                name="legalhold_reason_and_reference",
            ),
            models.CheckConstraint(
                condition=models.Q(lifted_at__isnull=True, lifted_by__isnull=True, lift_reason="")
                | (
                    models.Q(
                        lifted_at__isnull=False,
                        lifted_by__isnull=False,
                        lifted_at__gte=models.F("placed_at"),
                    )
                    & ~models.Q(lift_reason="")
                ),
                name="legalhold_lifted_with_reason",
            ),
            # One active hold per record and legal matter (the reference, ignoring case).
            *(
                models.UniqueConstraint(
                    models.F(target),
                    Lower("reference"),
                    condition=models.Q(lifted_at__isnull=True, **{f"{target}__isnull": False}),
                    name=f"legalhold_active_{target}_reference",
                )
                for target in HOLD_TARGETS
            ),
        ]
        indexes = [
            models.Index(
                fields=[target], condition=models.Q(lifted_at__isnull=True), name=f"hold_{target}"
            )
            for target in HOLD_TARGETS
        ]

    def __str__(self) -> str:
        state = "lifted" if self.lifted_at else "active"
        return f"legal hold {self.pk} on {self.target_label} ({state})"

    @property
    def target(self) -> models.Model:
        """The tip, lead or subject held."""
        return self.tip or self.lead or self.subject  # type: ignore[return-value]

    @property
    def target_label(self) -> str:
        for name in HOLD_TARGETS:
            if (pk := getattr(self, f"{name}_id")) is not None:
                return f"{name} {pk}"
        return "nothing"


class DisposalStatus(models.TextChoices):
    """Where a disposal run stands: REQUESTED -> APPROVED -> RUNNING -> DONE (or FAILED, from
    which it can be resumed); REQUESTED or APPROVED -> CANCELLED."""

    REQUESTED = "REQUESTED", "Requested, waiting for approval"
    APPROVED = "APPROVED", "Approved, waiting for the worker"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed (resumable)"
    CANCELLED = "CANCELLED", "Cancelled"


class DisposalRun(models.Model):
    """One reviewed disposal: what is due at ``as_of`` in ``categories``, fixed in its items
    when requested, approved by a program manager (a second one unless the agency allows the
    requester: ``DISPOSAL_SECOND_APPROVER``), then carried out by the worker."""

    status = models.CharField(
        max_length=16, choices=DisposalStatus.choices, default=DisposalStatus.REQUESTED
    )
    as_of = models.DateTimeField(help_text="The moment the clocks were read at.")
    categories = ArrayField(models.CharField(max_length=32), help_text="Categories disposed of.")
    counts = models.JSONField(
        default=dict,
        blank=True,
        help_text="The preview reviewed: per category, due, held and rows per kind.",
    )
    items_total = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True, help_text="The requester's note for the approver.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Null for a run the nightly task prepared for review.",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The last batch committed."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    batches = models.PositiveIntegerField(default=0, help_text="Batches committed.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times the run started.")
    error = models.TextField(blank=True, help_text="Why the last attempt failed.")
    result = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per table: rows disposed of, kept by a hold, no longer due, and the digest "
        "of the ids disposed of.",
    )
    audit_through_seq = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The audit log's rows up to this seq are disposed of (AUDIT_LOG): the chain "
        "then starts after it, vouched for by the run's audit event.",
    )
    audit_through_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DisposalStatus.values),
                name="disposalrun_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["REQUESTED", "CANCELLED"])
                | models.Q(approved_by__isnull=False, approved_at__isnull=False),
                name="disposalrun_approved_before_running",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="CANCELLED")
                | (models.Q(cancelled_at__isnull=False) & ~models.Q(cancel_reason="")),
                name="disposalrun_cancelled_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"disposal run {self.pk} ({self.status})"


class DisposalAction(models.TextChoices):
    DELETE = "DELETE", "Delete the row (and its file)"
    FILE = "FILE", "Delete the uploaded file only"


class DisposalItemState(models.TextChoices):
    PENDING = "PENDING", "Pending"
    DONE = "DONE", "Disposed of"
    HELD = "HELD", "Kept: a legal hold placed since the request"
    KEPT = "KEPT", "Kept: no longer due (activity since the request)"
    GONE = "GONE", "Already gone"


class DisposalItem(models.Model):
    """One row a disposal run disposes of: its model, id and phase (children before parents)."""

    run = models.ForeignKey(DisposalRun, on_delete=models.PROTECT, related_name="items")
    phase = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=32)
    model = models.CharField(max_length=100, help_text='The model\'s label ("backend.Tip").')
    row_id = models.TextField(help_text="The row's primary key, as text.")
    action = models.CharField(
        max_length=8, choices=DisposalAction.choices, default=DisposalAction.DELETE
    )
    state = models.CharField(
        max_length=8, choices=DisposalItemState.choices, default=DisposalItemState.PENDING
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "model", "row_id", "action"], name="disposalitem_once_per_run"
            ),
        ]
        indexes = [
            models.Index(
                fields=["run", "phase", "id"],
                condition=models.Q(state="PENDING"),
                name="disposalitem_pending",
            ),
            models.Index(fields=["model", "row_id"], name="disposalitem_row"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.row_id} ({self.state}) in run {self.run_id}"
