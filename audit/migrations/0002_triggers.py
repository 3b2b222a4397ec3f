"""The database protections of the audit log.

1. ``audit_event_chain``: a BEFORE INSERT trigger on ``audit_auditevent`` numbers each row
   (``seq``) and links it to the previous one (``prev_hash``, ``row_hash``). Writers are
   serialised by a transaction-level advisory lock, so concurrent writers never fork the chain.
   ``audit_event_digest(row)`` is the one definition of a row's hash; ``audit.verify`` calls
   it too, so the verifier recomputes exactly what the trigger stored.
2. ``audit_refuse_change``: BEFORE UPDATE OR DELETE triggers on the three audit tables refuse
   every change, for every role (superusers included), and fire even with
   ``session_replication_role = replica`` (ENABLE ALWAYS). Only a table owner or superuser who
   disables the triggers can get past them, and ``audit.verify`` detects what they did.
   There is deliberately no TRUNCATE trigger: the test runner empties the database between
   transactional tests with TRUNCATE (``manage.py flush``), and TRUNCATE needs a privilege
   the application never uses in production.
3. ``audit_capture_change``: an AFTER INSERT OR UPDATE OR DELETE trigger on every domain table
   writes the row's before and after into ``audit_recordchange``, with the operation's
   context id (``audit.writer.set_context``). Its arguments name columns that are never
   copied (password hashes, token hashes). The tables below were those of 2026-11; since then
   ``audit.protections`` attaches the trigger after every migrate to every table that
   ``backend.registry`` tracks, so no migration names tables any more.
"""

from django.db import migrations

#: The advisory lock key of the chain's writers: the bytes of "tgaudit" as a bigint.
CHAIN_LOCK_KEY = 32764765577439604

#: Domain tables whose rows are recorded, with the columns left out of before/after.
CAPTURED_TABLES: dict[str, tuple[str, ...]] = {
    "backend_user": ("password",),
    "backend_user_groups": (),
    "backend_user_user_permissions": (),
    "backend_apitoken": ("key_hash",),
    "backend_office": (),
    "backend_source": (),
    "backend_tip": (),
    "backend_subject": (),
    "backend_identifier": (),
    "backend_tipidentifier": (),
    "backend_tipsubject": (),
    "backend_subjectidentifier": (),
    "backend_tiplink": (),
    "backend_lead": (),
    "backend_lead_tips": (),
    "backend_lead_subjects": (),
    "backend_note": (),  # insert-only (backend 0002), so only INSERTs are ever recorded
    "backend_researchresult": (),
    "backend_travellerlookup": (),
    "backend_disclosure": (),
}

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_recordchange", "audit_auditquerytext")

DIGEST_SQL = """
-- The hash of one audit event: sha256 over the previous row's hash, a newline, and a
-- canonical JSON text of the row's content (jsonb prints its keys in a fixed order). Times
-- are printed in UTC with microseconds and floats with the shortest exact digits, whatever
-- the session's TimeZone or extra_float_digits. "v" is the version of this format.
CREATE FUNCTION audit_event_digest(e audit_auditevent) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET extra_float_digits = 1
AS $$
    SELECT encode(sha256(convert_to(
        e.prev_hash || E'\\n' || jsonb_build_object(
            'v', 1,
            'seq', e.seq,
            'occurred_at',
                to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'kind', e.kind,
            'user_id', e.user_id,
            'username', e.username,
            'role', e.role,
            'auth_method', e.auth_method,
            'client_address', host(e.client_address),
            'user_agent', e.user_agent,
            'operation_type', e.operation_type,
            'operation_name', e.operation_name,
            'query_hash', e.query_hash_id,
            'variables', e.variables,
            'outcome', e.outcome,
            'error_codes', to_jsonb(e.error_codes),
            'duration_ms', e.duration_ms,
            'records_returned', to_jsonb(e.records_returned),
            'records_changed', to_jsonb(e.records_changed),
            'context_id', e.context_id
        )::text,
        'UTF8')), 'hex')
$$;
"""

CHAIN_SQL = f"""
CREATE FUNCTION audit_event_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    -- Under REPEATABLE READ the snapshot could predate the previous writer's commit.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit events must be written in READ COMMITTED transactions, not %',
            current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    -- One writer at a time, until its transaction ends; the SELECT below takes a new snapshot
    -- after the lock is granted, so it sees the row of the writer that held it.
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    SELECT seq, row_hash INTO last_seq, last_hash
        FROM audit_auditevent ORDER BY seq DESC LIMIT 1;
    NEW.seq := COALESCE(last_seq, 0) + 1;
    NEW.prev_hash := COALESCE(last_hash, '');
    NEW.row_hash := audit_event_digest(NEW);
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_event_chain
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_chain();
"""

REFUSE_SQL = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
""" + "".join(
    f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only;
"""
    for table in APPEND_ONLY_TABLES
)

CAPTURE_SQL = """
CREATE FUNCTION audit_capture_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hidden text[] := COALESCE(TG_ARGV, '{}'::text[]);
    context text := NULLIF(current_setting('tipgraph.audit_context', true), '');
    before_row jsonb;
    after_row jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        before_row := to_jsonb(OLD) - hidden;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        after_row := to_jsonb(NEW) - hidden;
    END IF;
    INSERT INTO audit_recordchange
        (occurred_at, table_name, row_id, operation, before, after, context_id, db_user)
    VALUES (
        clock_timestamp(), TG_TABLE_NAME, COALESCE(COALESCE(after_row, before_row) ->> 'id', ''),
        TG_OP, before_row, after_row, context::uuid, current_user
    );
    RETURN NULL;
END;
$$;
""" + "".join(
    f"""
CREATE TRIGGER audit_capture_change
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_capture_change({", ".join(f"'{c}'" for c in hidden)});
"""
    for table, hidden in CAPTURED_TABLES.items()
)

REVERSE_CAPTURE_SQL = (
    "".join(
        f"DROP TRIGGER IF EXISTS audit_capture_change ON {table};\n" for table in CAPTURED_TABLES
    )
    + "DROP FUNCTION IF EXISTS audit_capture_change();\n"
)

REVERSE_REFUSE_SQL = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in APPEND_ONLY_TABLES
    )
    + "DROP FUNCTION IF EXISTS audit_refuse_change();\n"
)

REVERSE_CHAIN_SQL = """
DROP TRIGGER IF EXISTS audit_event_chain ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_chain();
"""

REVERSE_DIGEST_SQL = "DROP FUNCTION IF EXISTS audit_event_digest(audit_auditevent);\n"


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("backend", "0003_access_lifecycle_removal_lookups"),
    ]

    operations = [
        migrations.RunSQL(DIGEST_SQL, REVERSE_DIGEST_SQL),
        migrations.RunSQL(CHAIN_SQL, REVERSE_CHAIN_SQL),
        migrations.RunSQL(REFUSE_SQL, REVERSE_REFUSE_SQL),
        migrations.RunSQL(CAPTURE_SQL, REVERSE_CAPTURE_SQL),
    ]
