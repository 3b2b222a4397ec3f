import django.db.models.deletion
from django.db import migrations, models

# One row per pair: of the two halves of each link (same tips, kind, identifier and subject)
# keep the live one (else the lower-to-higher one, else the lowest id), delete the other, and
# turn every kept row lower-to-higher. The pair stays live when either half was live: the
# clusters joined its tips through the live half, so they stay right as they are. Removal,
# reason and creator come whole from the kept row. The deferred foreign-key checks are run at
# once, before the constraint is added (ALTER TABLE refuses pending trigger events).
ONE_ROW_PER_PAIR = """
WITH ranked AS (
    SELECT id, row_number() OVER (
        PARTITION BY least(from_tip_id, to_tip_id), greatest(from_tip_id, to_tip_id),
                     kind, identifier_id, subject_id
        ORDER BY removed_at IS NOT NULL, from_tip_id > to_tip_id, id
    ) AS n
    FROM backend_tiplink
)
DELETE FROM backend_tiplink l USING ranked r WHERE l.id = r.id AND r.n > 1;
UPDATE backend_tiplink SET from_tip_id = to_tip_id, to_tip_id = from_tip_id
WHERE from_tip_id > to_tip_id;
SET CONSTRAINTS ALL IMMEDIATE;
"""

# Back to both directions: every row gains its mirror, with the same fields.
BOTH_DIRECTIONS = """
INSERT INTO backend_tiplink
    (from_tip_id, to_tip_id, kind, identifier_id, subject_id, reason, created_at,
     created_by_id, removed_at, removed_by_id, removed_reason)
SELECT to_tip_id, from_tip_id, kind, identifier_id, subject_id, reason, created_at,
       created_by_id, removed_at, removed_by_id, removed_reason
FROM backend_tiplink;
SET CONSTRAINTS ALL IMMEDIATE;
"""


class Migration(migrations.Migration):
    """Bulk intake (issue 14): each link between two tips is stored once, from the tip with
    the lower id to the one with the higher id, instead of once per direction; a tip's links
    are read from either end (the unique constraint's index from the lower end, the ``to_tip``
    index from the higher end). See ``backend.models.TipLink``."""

    dependencies = [
        ("backend", "0013_bulk_intake"),
    ]

    operations = [
        migrations.RunSQL(ONE_ROW_PER_PAIR, BOTH_DIRECTIONS),
        migrations.RemoveConstraint(
            model_name="tiplink",
            name="tip_link_not_self",
        ),
        migrations.AlterField(
            model_name="tiplink",
            name="from_tip",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="links_from",
                to="backend.tip",
            ),
        ),
        migrations.AlterField(
            model_name="tiplink",
            name="to_tip",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="links_to",
                to="backend.tip",
            ),
        ),
        migrations.AddConstraint(
            model_name="tiplink",
            constraint=models.CheckConstraint(
                condition=models.Q(("from_tip__lt", models.F("to_tip"))),
                name="tip_link_ordered",
            ),
        ),
    ]
