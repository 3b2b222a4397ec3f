"""Partners in the loop (issue 16): alerts (``Alert``: to a partner account or an office's
analysts), redress cases on the cleared traveller (``RedressCase``), redissemination requests
(``RedisseminationRequest``), and a disclosure made by an alert (``Disclosure.alert``, the
lookup now optional: exactly one of the two), with an index on the record disclosed (who
received a record: alerts, corrections and the accounting in one probe)."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backend", "0011_disposal"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RedisseminationRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "recipient",
                    models.CharField(
                        help_text="To whom the partner would pass it.", max_length=200
                    ),
                ),
                ("purpose", models.TextField(help_text="Why.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("PENDING", "Awaiting the owning agency's decision"),
                            ("APPROVED", "Approved"),
                            ("REFUSED", "Refused"),
                        ],
                        default="PENDING",
                        max_length=16,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_reason", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="RedressCase",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "case_number",
                    models.CharField(help_text="The TRIP case number.", max_length=40, unique=True),
                ),
                ("full_name", models.CharField(max_length=200)),
                ("date_of_birth", models.DateField()),
                (
                    "document_numbers",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=64),
                        blank=True,
                        default=list,
                        help_text="Travel document numbers, normalised as passport identifiers are.",
                        size=None,
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("PENDING", "Under review"),
                            ("CLEARED", "Cleared: the traveller is not the person sought"),
                            ("NOT_CLEARED", "Not cleared"),
                        ],
                        default="PENDING",
                        max_length=16,
                    ),
                ),
                ("opened_on", models.DateField(help_text="When the traveller asked for redress.")),
                (
                    "decided_on",
                    models.DateField(blank=True, help_text="When TRIP decided.", null=True),
                ),
                (
                    "names_folded",
                    models.TextField(blank=True, help_text="The name folded (for matching)."),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["-opened_on", "-id"],
            },
        ),
        migrations.AlterField(
            model_name="disclosure",
            name="lookup",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="disclosures",
                to="backend.travellerlookup",
            ),
        ),
        migrations.CreateModel(
            name="Alert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("LINKED_TIP", "A new or changed tip links to a record you received"),
                            ("CORRECTION", "A record you received was corrected or removed"),
                            ("REDISSEMINATION_DECIDED", "Your redissemination request was decided"),
                            ("DECONFLICTION", "A deconfliction notice for your office"),
                            ("REFERRAL", "A lead was referred to your office"),
                        ],
                        max_length=32,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("object_id", models.BigIntegerField(blank=True, null=True)),
                ("message", models.TextField()),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                (
                    "acknowledged_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "content_type",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                ),
                (
                    "lead",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="backend.lead",
                    ),
                ),
                (
                    "notice",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="backend.noticerecipient",
                    ),
                ),
                (
                    "office",
                    models.ForeignKey(
                        blank=True,
                        help_text="The office whose analysts are alerted (office alerts).",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="backend.office",
                    ),
                ),
                (
                    "recipient",
                    models.ForeignKey(
                        blank=True,
                        help_text="The account alerted (partner alerts).",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tip",
                    models.ForeignKey(
                        blank=True,
                        help_text="LINKED_TIP: the new or changed tip.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="backend.tip",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="disclosure",
            name="alert",
            field=models.ForeignKey(
                blank=True,
                help_text="The LINKED_TIP alert that disclosed the tip.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="disclosures",
                to="backend.alert",
            ),
        ),
        migrations.AddIndex(
            model_name="disclosure",
            index=models.Index(
                fields=["content_type", "object_id", "created_at"], name="disclosure_record_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="disclosure",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("alert__isnull", True), ("lookup__isnull", False)),
                    models.Q(("alert__isnull", False), ("lookup__isnull", True)),
                    _connector="OR",
                ),
                name="disclosure_made_by_one",
            ),
        ),
        migrations.AddField(
            model_name="redisseminationrequest",
            name="decided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="redisseminationrequest",
            name="disclosure",
            field=models.ForeignKey(
                help_text="The disclosure of the record to the partner who asks.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="redisseminations",
                to="backend.disclosure",
            ),
        ),
        migrations.AddField(
            model_name="redisseminationrequest",
            name="requested_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="redissemination",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="backend.redisseminationrequest",
            ),
        ),
        migrations.AddField(
            model_name="redresscase",
            name="recorded_by",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="redisseminationrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("decided_at__isnull", True), ("status", "PENDING")),
                    models.Q(
                        models.Q(("status", "PENDING"), _negated=True),
                        ("decided_at__isnull", False),
                        ("decided_by__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="redissemination_decided",
            ),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["recipient", "-created_at"], name="alert_recipient_idx"),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["office", "-created_at"], name="alert_office_idx"),
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("office__isnull", True), ("recipient__isnull", False)),
                    models.Q(("office__isnull", False), ("recipient__isnull", True)),
                    _connector="OR",
                ),
                name="alert_one_addressee",
            ),
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.UniqueConstraint(
                condition=models.Q(("acknowledged_at__isnull", True), ("kind", "LINKED_TIP")),
                fields=("recipient", "tip", "content_type", "object_id"),
                name="alert_open_link_unique",
            ),
        ),
        migrations.AddIndex(
            model_name="redresscase",
            index=models.Index(fields=["date_of_birth"], name="redress_dob_idx"),
        ),
        migrations.AddConstraint(
            model_name="redresscase",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("outcome", "PENDING"), ("decided_on__isnull", False), _connector="OR"
                ),
                name="redress_decided_has_date",
            ),
        ),
    ]
