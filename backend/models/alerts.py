"""Alerts: what the platform tells an account or an office without being asked.

An alert is a row, written when the event happens (``backend.services.alerts``) and delivered
afterwards (``backend.services.alert_delivery``: the GraphQL subscription); a client that
cannot hold a socket reads the same rows from the ``alerts`` query and acknowledges them.

- to a partner account (``recipient``): a new or changed tip that links to a record a lookup
  of theirs returned within the disclosure period (``LINKED_TIP``: itself a disclosure of that
  tip, ``Disclosure.alert``), a correction or removal of a record they received
  (``CORRECTION``), the decision on a redissemination request of theirs
  (``REDISSEMINATION_DECIDED``);
- to the analysts of an office (``office``): a deconfliction notice for the office
  (``DECONFLICTION``) and a lead referred to it (``REFERRAL``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

__all__ = ["Alert", "AlertKind"]


class AlertKind(models.TextChoices):
    LINKED_TIP = "LINKED_TIP", "A new or changed tip links to a record you received"
    CORRECTION = "CORRECTION", "A record you received was corrected or removed"
    REDISSEMINATION_DECIDED = "REDISSEMINATION_DECIDED", "Your redissemination request was decided"
    DECONFLICTION = "DECONFLICTION", "A deconfliction notice for your office"
    REFERRAL = "REFERRAL", "A lead was referred to your office"


#: Kinds addressed to one partner account, and kinds addressed to an office's analysts.
ACCOUNT_KINDS = (AlertKind.LINKED_TIP, AlertKind.CORRECTION, AlertKind.REDISSEMINATION_DECIDED)
OFFICE_KINDS = (AlertKind.DECONFLICTION, AlertKind.REFERRAL)


class Alert(models.Model):
    """One alert to one account or to the analysts of one office."""

    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The account alerted (partner alerts).",
    )
    office = models.ForeignKey(
        "backend.Office",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The office whose analysts are alerted (office alerts).",
    )
    tip = models.ForeignKey(
        "backend.Tip",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="LINKED_TIP: the new or changed tip.",
    )
    # The record the alert is about, as a disclosure names it (no foreign key: a correction
    # alert outlives the removal of its record).
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.BigIntegerField(null=True, blank=True)
    lead = models.ForeignKey(
        "backend.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notice = models.ForeignKey(
        "backend.NoticeRecipient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    redissemination = models.ForeignKey(
        "backend.RedisseminationRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.TextField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="alert_recipient_idx"),
            models.Index(fields=["office", "-created_at"], name="alert_office_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient__isnull=False, office__isnull=True)
                | models.Q(recipient__isnull=True, office__isnull=False),
                name="alert_one_addressee",
            ),
            # A tip raises one open LINKED_TIP alert per account and record it touches, however
            # often it changes before the account acknowledges it.
            models.UniqueConstraint(
                fields=["recipient", "tip", "content_type", "object_id"],
                condition=models.Q(kind="LINKED_TIP", acknowledged_at__isnull=True),
                name="alert_open_link_unique",
            ),
        ]

    def __str__(self) -> str:
        to = f"account {self.recipient_id}" if self.recipient_id else f"office {self.office_id}"
        return f"{self.kind} alert {self.pk} to {to}"
