from django.db import migrations, models


class Migration(migrations.Migration):
    """The documents partner tools may run (``schema/documents/``, loaded by
    ``manage.py load_documents``); the record-history trigger is attached after migrate from
    ``backend/registry.py``, like every tracked table's."""

    dependencies = [
        ("backend", "0007_training_recorded_by"),
    ]

    operations = [
        migrations.CreateModel(
            name="TrustedDocument",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "hash",
                    models.CharField(
                        help_text="SHA-256 of the document's UTF-8 text, lowercase hex (as Apollo's persisted queries compute it).",
                        max_length=64,
                        unique=True,
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="The name of its file in schema/documents/.",
                        max_length=100,
                        unique=True,
                    ),
                ),
                (
                    "document",
                    models.TextField(help_text="The document's text, exactly as registered."),
                ),
                ("registered_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("hash__regex", "^[0-9a-f]{64}$")),
                        name="trusteddocument_hash_is_sha256_hex",
                    )
                ],
            },
        ),
    ]
