from django.db import migrations, models


class Migration(migrations.Migration):
    """A tip keeps the report as its source sent it (CyberTipline XML intake: every element,
    mapped or not), so nothing of a report is dropped; existing tips get an empty record."""

    dependencies = [
        ("backend", "0008_trusted_documents"),
    ]

    operations = [
        migrations.AddField(
            model_name="tip",
            name="raw_record",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The report as the source sent it, when a bulk format keeps it "
                "(CyberTipline XML: every element, mapped or not, and the paths of those not "
                "mapped); empty otherwise.",
            ),
        ),
    ]
