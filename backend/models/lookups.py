"""Traveller lookups and what they disclosed.

A partner-agency investigator may see only what a lookup of theirs returned: each record a
lookup returns is written down as a ``Disclosure``, and row scoping for investigators is
"records disclosed to you". The lookup rows also feed the partner-query statistics.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

__all__ = ["Disclosure", "TravellerLookup"]


class TravellerLookup(models.Model):
    """One traveller query: who asked, with what, and how many records matched."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # no index of its own: the statistics index leads with it (every lookup writes a row)
    created_at = models.DateTimeField(auto_now_add=True)
    criteria = models.JSONField(help_text="The normalised criteria of the query.")
    subject_hits = models.PositiveIntegerField(default=0)
    tip_hits = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                include=["subject_hits", "tip_hits"],
                name="lookup_statistics_idx",
            )
        ]

    def __str__(self) -> str:
        return f"lookup {self.pk} by {self.user_id}"


class Disclosure(models.Model):
    """A record a lookup (or a LINKED_TIP alert: ``backend.models.alerts``) returned to its
    user; investigators may see only these, for ``DISCLOSURE_REOPEN_DAYS`` after
    ``created_at`` (``permissions.scoping``). Exactly one of ``lookup`` and ``alert`` made it."""

    lookup = models.ForeignKey(
        TravellerLookup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disclosures",
    )
    alert = models.ForeignKey(
        "backend.Alert",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disclosures",
        help_text="The LINKED_TIP alert that disclosed the tip.",
    )
    # no index of their own: the two indexes below lead with them (a lookup writes a row per
    # record it returns)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, db_index=False)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["user", "content_type", "object_id"]),
            # Who received a record (alerts, corrections, the accounting): one probe.
            models.Index(
                fields=["content_type", "object_id", "created_at"], name="disclosure_record_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lookup__isnull=False, alert__isnull=True)
                | models.Q(lookup__isnull=True, alert__isnull=False),
                name="disclosure_made_by_one",
            )
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} to {self.user_id}"
