from django.db import migrations

STATEMENT_CAPTURE_SQL = """
CREATE FUNCTION audit_capture_statement() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Record history per statement, from its transition tables (old_rows, new_rows): one row
-- per changed row, with the same before and after as audit_capture_change() writes per row.
-- Attached beside the row trigger to the tables whose key is ``id`` (audit.protections); the
-- two fire on complementary conditions of the ``tipgraph.history`` setting, which bulk
-- writers (backend.intake.importer) set to 'statement' for their own transaction.
DECLARE
    hidden text[] := COALESCE(TG_ARGV, '{}'::text[]);
    context uuid := NULLIF(current_setting('tipgraph.audit_context', true), '')::uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_recordchange
            (occurred_at, table_name, row_id, operation, before, after, context_id, db_user)
        SELECT clock_timestamp(), TG_TABLE_NAME, COALESCE(a ->> 'id', ''), TG_OP, NULL, a,
               context, current_user
        FROM (SELECT n.id, to_jsonb(n) - hidden AS a FROM new_rows n) r
        ORDER BY id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_recordchange
            (occurred_at, table_name, row_id, operation, before, after, context_id, db_user)
        SELECT clock_timestamp(), TG_TABLE_NAME, COALESCE(a ->> 'id', ''), TG_OP, b, a,
               context, current_user
        FROM (SELECT o.id, to_jsonb(o) - hidden AS b FROM old_rows o) bo
        JOIN (SELECT n.id, to_jsonb(n) - hidden AS a FROM new_rows n) an USING (id)
        ORDER BY id;
    ELSE
        INSERT INTO audit_recordchange
            (occurred_at, table_name, row_id, operation, before, after, context_id, db_user)
        SELECT clock_timestamp(), TG_TABLE_NAME, COALESCE(b ->> 'id', ''), TG_OP, b, NULL,
               context, current_user
        FROM (SELECT o.id, to_jsonb(o) - hidden AS b FROM old_rows o) r
        ORDER BY id;
    END IF;
    RETURN NULL;
END;
$$;
"""


class Migration(migrations.Migration):
    """Bulk intake (issue 14): record history per statement. ``audit_capture_statement()``
    writes, from a statement's transition tables, the same before/after rows that the per-row
    ``audit_capture_change()`` writes; ``audit.protections.sync_history_triggers`` attaches it
    (after every migrate, from the registry) as AFTER ... FOR EACH STATEMENT triggers, which
    fire only while the transaction's ``tipgraph.history`` setting is 'statement' (the row
    trigger fires in every other case)."""

    dependencies = [
        ("audit", "0004_disposal"),
        ("backend", "0013_bulk_intake"),
    ]

    operations = [
        migrations.RunSQL(
            STATEMENT_CAPTURE_SQL,
            reverse_sql="DROP FUNCTION IF EXISTS audit_capture_statement() CASCADE;",
        ),
    ]
