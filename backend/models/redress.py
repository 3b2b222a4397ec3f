"""Redress on the cleared traveller, and requests to pass a disclosed record on.

A **redress case** belongs to the traveller who sought redress through the DHS Traveler Redress
Inquiry Program (TRIP): their name, date of birth and document numbers, the TRIP case number
and its outcome. A later traveller lookup or passenger screening whose traveller matches a
CLEARED case shows the mark first (``backend.services.redress``).

A **redissemination request** is a partner's request for the owning agency's authorisation to
pass a record they received on to someone else; an analyst approves or refuses it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from backend.names import fold_names
from backend.vocabulary import MAX_NAME

__all__ = [
    "RedisseminationRequest",
    "RedisseminationStatus",
    "RedressCase",
    "RedressOutcome",
]


class RedressOutcome(models.TextChoices):
    PENDING = "PENDING", "Under review"
    CLEARED = "CLEARED", "Cleared: the traveller is not the person sought"
    NOT_CLEARED = "NOT_CLEARED", "Not cleared"


class RedressCase(models.Model):
    """A DHS TRIP redress case, recorded on the traveller it is about."""

    case_number = models.CharField(max_length=40, unique=True, help_text="The TRIP case number.")
    full_name = models.CharField(max_length=MAX_NAME)
    date_of_birth = models.DateField()
    document_numbers = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text="Travel document numbers, normalised as passport identifiers are.",
    )
    outcome = models.CharField(
        max_length=16, choices=RedressOutcome.choices, default=RedressOutcome.PENDING
    )
    opened_on = models.DateField(help_text="When the traveller asked for redress.")
    decided_on = models.DateField(null=True, blank=True, help_text="When TRIP decided.")
    names_folded = models.TextField(blank=True, help_text="The name folded (for matching).")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_on", "-id"]
        indexes = [models.Index(fields=["date_of_birth"], name="redress_dob_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome="PENDING") | models.Q(decided_on__isnull=False),
                name="redress_decided_has_date",
            )
        ]

    def __str__(self) -> str:
        return f"TRIP {self.case_number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.names_folded = fold_names(self.full_name, [])
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "full_name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "names_folded"}
        super().save(*args, **kwargs)


class RedisseminationStatus(models.TextChoices):
    PENDING = "PENDING", "Awaiting the owning agency's decision"
    APPROVED = "APPROVED", "Approved"
    REFUSED = "REFUSED", "Refused"


class RedisseminationRequest(models.Model):
    """A partner asks to pass a record they received on: to whom, and why."""

    disclosure = models.ForeignKey(
        "backend.Disclosure",
        on_delete=models.PROTECT,
        related_name="redisseminations",
        help_text="The disclosure of the record to the partner who asks.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recipient = models.CharField(max_length=200, help_text="To whom the partner would pass it.")
    purpose = models.TextField(help_text="Why.")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=16,
        choices=RedisseminationStatus.choices,
        default=RedisseminationStatus.PENDING,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="PENDING", decided_at__isnull=True)
                | models.Q(
                    ~models.Q(status="PENDING"),
                    decided_at__isnull=False,
                    decided_by__isnull=False,
                ),
                name="redissemination_decided",
            )
        ]

    def __str__(self) -> str:
        return f"redissemination {self.pk} ({self.status})"
