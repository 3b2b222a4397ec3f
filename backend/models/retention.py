"""Legal holds: a tip, lead or subject that must survive its retention period.

A program manager places a hold, with the reason and the reference of the legal matter
(litigation, a preservation letter, an investigation), and lifts it when the matter ends. While
any hold on it is active, the record and everything linked to it are never due for disposal
(``backend.services.retention``). A record may carry several active holds, one per matter: lifting
one matter's hold leaves the others. A lifted hold is kept, with who lifted it, when and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from backend.vocabulary import MAX_REFERENCE

__all__ = ["LegalHold"]

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
