import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Legal holds (``backend.models.retention``): a tip, lead or subject kept past its
    retention period, with everything linked to it, while a hold is active; several matters may
    hold one record, one active hold per matter's reference. The record-history trigger is
    attached after migrate from ``backend/registry.py``, like every tracked table's."""

    dependencies = [
        ("backend", "0009_tip_raw_record"),
    ]

    operations = [
        migrations.CreateModel(
            name="LegalHold",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reason", models.TextField(help_text="Why the record must be kept.")),
                (
                    "reference",
                    models.CharField(
                        help_text="The legal matter's reference: case number, preservation letter, order.",
                        max_length=200,
                    ),
                ),
                ("placed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("lifted_at", models.DateTimeField(blank=True, null=True)),
                ("lift_reason", models.TextField(blank=True)),
                (
                    "lead",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="legal_holds",
                        to="backend.lead",
                    ),
                ),
                (
                    "lifted_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "placed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "subject",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="legal_holds",
                        to="backend.subject",
                    ),
                ),
                (
                    "tip",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="legal_holds",
                        to="backend.tip",
                    ),
                ),
            ],
            options={
                "ordering": ["-placed_at", "-id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("lifted_at__isnull", True)),
                        fields=["tip"],
                        name="hold_tip",
                    ),
                    models.Index(
                        condition=models.Q(("lifted_at__isnull", True)),
                        fields=["lead"],
                        name="hold_lead",
                    ),
                    models.Index(
                        condition=models.Q(("lifted_at__isnull", True)),
                        fields=["subject"],
                        name="hold_subject",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("lead__isnull", True),
                                ("subject__isnull", True),
                                ("tip__isnull", False),
                            ),
                            models.Q(
                                ("lead__isnull", False),
                                ("subject__isnull", True),
                                ("tip__isnull", True),
                            ),
                            models.Q(
                                ("lead__isnull", True),
                                ("subject__isnull", False),
                                ("tip__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="legalhold_one_target",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("reason", ""), _negated=True),
                            models.Q(("reference", ""), _negated=True),
                        ),
                        name="legalhold_reason_and_reference",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("lift_reason", ""),
                                ("lifted_at__isnull", True),
                                ("lifted_by__isnull", True),
                            ),
                            models.Q(
                                ("lifted_at__gte", models.F("placed_at")),
                                ("lifted_at__isnull", False),
                                ("lifted_by__isnull", False),
                                models.Q(("lift_reason", ""), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="legalhold_lifted_with_reason",
                    ),
                    models.UniqueConstraint(
                        models.F("tip"),
                        django.db.models.functions.text.Lower("reference"),
                        condition=models.Q(("lifted_at__isnull", True), ("tip__isnull", False)),
                        name="legalhold_active_tip_reference",
                    ),
                    models.UniqueConstraint(
                        models.F("lead"),
                        django.db.models.functions.text.Lower("reference"),
                        condition=models.Q(("lead__isnull", False), ("lifted_at__isnull", True)),
                        name="legalhold_active_lead_reference",
                    ),
                    models.UniqueConstraint(
                        models.F("subject"),
                        django.db.models.functions.text.Lower("reference"),
                        condition=models.Q(("lifted_at__isnull", True), ("subject__isnull", False)),
                        name="legalhold_active_subject_reference",
                    ),
                ],
            },
        ),
    ]
