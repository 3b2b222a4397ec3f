"""Notes are append-only: the database itself refuses UPDATE and DELETE on them."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION backend_note_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'notes are append-only: % refused on backend_note', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER backend_note_append_only
    BEFORE UPDATE OR DELETE ON backend_note
    FOR EACH ROW EXECUTE FUNCTION backend_note_append_only();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS backend_note_append_only ON backend_note;
DROP FUNCTION IF EXISTS backend_note_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("backend", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
