import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Disposal runs (issue 15, second half; ``backend.models.retention``): a run a program
    manager requests and a second one approves, and its work list, one item per row, filled
    from the retention clocks when it is requested. The record-history trigger is attached to
    ``backend_disposalrun`` after migrate from ``backend/registry.py``; the items are exempt.
    The database role that may carry a run out, and the triggers that let it, are in
    ``audit/migrations/0004_disposal.py``."""

    dependencies = [
        ("backend", "0010_retention"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DisposalRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("REQUESTED", "Requested, waiting for approval"),
                            ("APPROVED", "Approved, waiting for the worker"),
                            ("RUNNING", "Running"),
                            ("DONE", "Done"),
                            ("FAILED", "Failed (resumable)"),
                            ("CANCELLED", "Cancelled"),
                        ],
                        default="REQUESTED",
                        max_length=16,
                    ),
                ),
                ("as_of", models.DateTimeField(help_text="The moment the clocks were read at.")),
                (
                    "categories",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=32),
                        help_text="Categories disposed of.",
                        size=None,
                    ),
                ),
                (
                    "counts",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="The preview reviewed: per category, due, held and rows per kind.",
                    ),
                ),
                ("items_total", models.PositiveIntegerField(default=0)),
                (
                    "reason",
                    models.TextField(
                        blank=True, help_text="The requester's note for the approver."
                    ),
                ),
                ("requested_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("cancelled_at", models.DateTimeField(blank=True, null=True)),
                ("cancel_reason", models.TextField(blank=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                (
                    "heartbeat_at",
                    models.DateTimeField(
                        blank=True, help_text="The last batch committed.", null=True
                    ),
                ),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("batches", models.PositiveIntegerField(default=0, help_text="Batches committed.")),
                (
                    "attempts",
                    models.PositiveSmallIntegerField(default=0, help_text="Times the run started."),
                ),
                ("error", models.TextField(blank=True, help_text="Why the last attempt failed.")),
                (
                    "result",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="Per table: rows disposed of, kept by a hold, no longer due, and the digest of the ids disposed of.",
                    ),
                ),
                (
                    "audit_through_seq",
                    models.BigIntegerField(
                        blank=True,
                        help_text="The audit log's rows up to this seq are disposed of (AUDIT_LOG): the chain then starts after it, vouched for by the run's audit event.",
                        null=True,
                    ),
                ),
                ("audit_through_hash", models.CharField(blank=True, max_length=64)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "cancelled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="Null for a run the nightly task prepared for review.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="DisposalItem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("phase", models.PositiveSmallIntegerField()),
                ("category", models.CharField(max_length=32)),
                (
                    "model",
                    models.CharField(
                        help_text='The model\'s label ("backend.Tip").', max_length=100
                    ),
                ),
                ("row_id", models.TextField(help_text="The row's primary key, as text.")),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("DELETE", "Delete the row (and its file)"),
                            ("FILE", "Delete the uploaded file only"),
                        ],
                        default="DELETE",
                        max_length=8,
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("PENDING", "Pending"),
                            ("DONE", "Disposed of"),
                            ("HELD", "Kept: a legal hold placed since the request"),
                            ("KEPT", "Kept: no longer due (activity since the request)"),
                            ("GONE", "Already gone"),
                        ],
                        default="PENDING",
                        max_length=8,
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="items",
                        to="backend.disposalrun",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="disposalrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["REQUESTED", "APPROVED", "RUNNING", "DONE", "FAILED", "CANCELLED"],
                    )
                ),
                name="disposalrun_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="disposalrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["REQUESTED", "CANCELLED"]),
                    models.Q(("approved_at__isnull", False), ("approved_by__isnull", False)),
                    _connector="OR",
                ),
                name="disposalrun_approved_before_running",
            ),
        ),
        migrations.AddConstraint(
            model_name="disposalrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "CANCELLED"), _negated=True),
                    models.Q(
                        ("cancelled_at__isnull", False),
                        models.Q(("cancel_reason", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="disposalrun_cancelled_with_reason",
            ),
        ),
        migrations.AddIndex(
            model_name="disposalitem",
            index=models.Index(
                condition=models.Q(("state", "PENDING")),
                fields=["run", "phase", "id"],
                name="disposalitem_pending",
            ),
        ),
        migrations.AddIndex(
            model_name="disposalitem",
            index=models.Index(fields=["model", "row_id"], name="disposalitem_row"),
        ),
        migrations.AddConstraint(
            model_name="disposalitem",
            constraint=models.UniqueConstraint(
                fields=("run", "model", "row_id", "action"), name="disposalitem_once_per_run"
            ),
        ),
    ]
