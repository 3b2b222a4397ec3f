"""Bulk intake jobs: a file queued for import, its progress and its report."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["ImportJob", "ImportJobStatus"]


class ImportJobStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"


class ImportJob(models.Model):
    """A file of tips imported in the background by ``manage.py run_import_worker``."""

    status = models.CharField(
        max_length=16, choices=ImportJobStatus.choices, default=ImportJobStatus.QUEUED
    )
    file = models.FileField(upload_to="intake/%Y/%m/%d/", max_length=300)
    filename = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    size = models.BigIntegerField(default=0, help_text="The file's size in bytes.")
    format = models.CharField(max_length=8, help_text="CSV, JSON or XML.")
    mode = models.CharField(max_length=16, help_text="ALL_OR_NOTHING or ACCEPT_VALID.")
    source = models.ForeignKey("backend.Source", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="import_jobs",
    )
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows read so far.")
    rows_rejected = models.PositiveIntegerField(default=0, help_text="Rows rejected so far.")
    new_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="Rejected rows (row, field, reason), the first ones."
    )
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True, help_text="Why the job failed as a whole.")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportJobStatus.values),
                name="importjob_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"import job {self.pk} ({self.status})"
