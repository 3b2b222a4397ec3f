from django.db import migrations, models


class Migration(migrations.Migration):
    """Bulk intake (issue 14): linking reads the first tips of each identifier in tip order
    through an (identifier, tip) index, so its cost follows the batch's identifiers, not how
    many tips each identifier has (``backend.services.linking``)."""

    dependencies = [
        ("backend", "0012_partner_loop"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="tipidentifier",
            index=models.Index(fields=["identifier", "tip"], name="tip_identifier_by_identifier"),
        ),
    ]
