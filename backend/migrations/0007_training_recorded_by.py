import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Who recorded an account's annual training: another person, never the account itself
    (the admin sets it whenever someone changes the training date)."""

    dependencies = [
        ("backend", "0006_statistics"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="annual_training_recorded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who recorded the last annual training (never the account itself).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
