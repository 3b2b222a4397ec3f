"""Disposal (issue 15, second half): the one exception to append-only, and a chain that still
verifies after the personal values of disposed records are redacted.

1. ``tipgraph_disposal_run()``: the disposal run the current transaction carries out, or NULL.
   It is a run only when the transaction set ``tipgraph.disposal_run`` to the id of a RUNNING
   ``backend_disposalrun`` and the current role is a member of ``tipgraph_disposal``
   (``backend.disposal_database``; the application role is none). Every other role, the
   application's included, gets NULL whatever it sets.
2. ``backend_note_append_only`` and ``audit_refuse_change`` (the triggers of notes and of the
   three audit tables) still refuse every UPDATE and DELETE, except within a run:
   - DELETE of a note, a history row or a query text; DELETE of an audit event only up to the
     run's ``audit_through_seq`` (the chain is cut only at its start, at the point the run's
     started event names);
   - UPDATE only into the redacted form naming the run, every other column unchanged: an
     audit event's variables become ``{}`` with ``redacted_by_run``; a history row's before
     and after become ``{"id", "redacted_by_run"}``; a query text becomes empty with
     ``redacted_by_run``.
3. The chain's digest, version 2: instead of the variables themselves, it hashes
   ``payload_digest``, the SHA-256 of the variables' jsonb text, which the chain trigger
   stores in the row. ``audit.verify`` checks the variables against it unless a disposal
   batch event later in the chain names the row as redacted. The record-history trigger
   (``audit_capture_change``) is not changed: the disposal worker redacts the history rows its
   deletes write in the same transaction.
4. Rows written before this migration are re-chained once, by the owner: the version 1 chain is
   verified first (the migration stops if it does not verify, so nothing tampered with is
   re-hashed into a valid chain), then every row gets its payload digest and version 2 hashes,
   and a checkpoint event names the old head (seq and row_hash), so that a head recorded
   before the migration can still be matched to this one.
"""

from django.db import migrations, models

#: The bytes of "tgaudit" as a bigint: the chain's writers' advisory lock (0002).
CHAIN_LOCK_KEY = 32764765577439604

RUN_FUNCTION_SQL = """
CREATE FUNCTION tipgraph_disposal_run() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    named text := NULLIF(current_setting('tipgraph.disposal_run', true), '');
    run bigint;
BEGIN
    IF named IS NULL OR named !~ '^[0-9]{1,18}$' THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tipgraph_disposal') THEN
        RETURN NULL;
    END IF;
    IF NOT pg_has_role(current_user, 'tipgraph_disposal', 'MEMBER') THEN
        RETURN NULL;
    END IF;
    SELECT id INTO run FROM backend_disposalrun WHERE id = named::bigint AND status = 'RUNNING';
    RETURN run;
END;
$$;
"""

NOTE_SQL = """
CREATE OR REPLACE FUNCTION backend_note_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND tipgraph_disposal_run() IS NOT NULL THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'notes are append-only: % refused on backend_note', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

NOTE_REVERSE_SQL = """
CREATE OR REPLACE FUNCTION backend_note_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'notes are append-only: % refused on backend_note', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

REFUSE_SQL = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    run bigint := tipgraph_disposal_run();
    redacted jsonb;
BEGIN
    IF run IS NOT NULL THEN
        IF TG_OP = 'DELETE' THEN
            IF TG_TABLE_NAME <> 'audit_auditevent' THEN
                RETURN OLD;
            END IF;
            -- (nested: OLD.seq exists on the audit events only)
            IF OLD.seq <= (SELECT audit_through_seq FROM backend_disposalrun WHERE id = run) THEN
                RETURN OLD;
            END IF;
        ELSIF TG_TABLE_NAME = 'audit_auditevent' THEN
            IF NEW.variables = '{}'::jsonb AND NEW.redacted_by_run = run
               AND (to_jsonb(NEW) - 'variables' - 'redacted_by_run')
                   = (to_jsonb(OLD) - 'variables' - 'redacted_by_run') THEN
                RETURN NEW;
            END IF;
        ELSIF TG_TABLE_NAME = 'audit_recordchange' THEN
            redacted := jsonb_build_object('id', COALESCE(OLD.before, OLD.after) -> 'id',
                                           'redacted_by_run', run);
            IF NEW.before IS NOT DISTINCT FROM
                   (CASE WHEN OLD.before IS NULL THEN NULL ELSE redacted END)
               AND NEW.after IS NOT DISTINCT FROM
                   (CASE WHEN OLD.after IS NULL THEN NULL ELSE redacted END)
               AND (to_jsonb(NEW) - 'before' - 'after') = (to_jsonb(OLD) - 'before' - 'after') THEN
                RETURN NEW;
            END IF;
        ELSIF TG_TABLE_NAME = 'audit_auditquerytext' THEN
            IF NEW.text = '' AND NEW.redacted_by_run = run
               AND (to_jsonb(NEW) - 'text' - 'redacted_by_run')
                   = (to_jsonb(OLD) - 'text' - 'redacted_by_run') THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

REFUSE_REVERSE_SQL = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

#: Version 1 of the digest (0002), kept under another name while the old chain is verified.
DIGEST_V1_SQL = """
CREATE FUNCTION audit_event_digest_v1(e audit_auditevent) RETURNS text
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

DIGEST_V2_SQL = """
-- The digest of a payload: sha256 of the jsonb text of the variables (jsonb prints its keys
-- in a fixed order: shorter first, then bytewise; ", " and ": " separators).
CREATE FUNCTION audit_payload_digest(variables jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT encode(sha256(convert_to(variables::text, 'UTF8')), 'hex') $$;

-- Version 2 of the hash of one audit event: as version 1, with the payload's digest in place
-- of the variables, so that the variables can be redacted and the row still verifies.
CREATE OR REPLACE FUNCTION audit_event_digest(e audit_auditevent) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET extra_float_digits = 1
AS $$
    SELECT encode(sha256(convert_to(
        e.prev_hash || E'\\n' || jsonb_build_object(
            'v', 2,
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
            'payload_digest', e.payload_digest,
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

DIGEST_V2_REVERSE_SQL = (
    DIGEST_V1_SQL.replace(
        "CREATE FUNCTION audit_event_digest_v1", "CREATE OR REPLACE FUNCTION audit_event_digest"
    )
    + "DROP FUNCTION IF EXISTS audit_payload_digest(jsonb);\n"
)

CHAIN_SQL = f"""
CREATE OR REPLACE FUNCTION audit_event_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit events must be written in READ COMMITTED transactions, not %',
            current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    SELECT seq, row_hash INTO last_seq, last_hash
        FROM audit_auditevent ORDER BY seq DESC LIMIT 1;
    NEW.seq := COALESCE(last_seq, 0) + 1;
    NEW.prev_hash := COALESCE(last_hash, '');
    NEW.payload_digest := audit_payload_digest(NEW.variables);
    NEW.redacted_by_run := NULL;
    NEW.row_hash := audit_event_digest(NEW);
    RETURN NEW;
END;
$$;
"""

CHAIN_REVERSE_SQL = f"""
CREATE OR REPLACE FUNCTION audit_event_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit events must be written in READ COMMITTED transactions, not %',
            current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    SELECT seq, row_hash INTO last_seq, last_hash
        FROM audit_auditevent ORDER BY seq DESC LIMIT 1;
    NEW.seq := COALESCE(last_seq, 0) + 1;
    NEW.prev_hash := COALESCE(last_hash, '');
    NEW.row_hash := audit_event_digest(NEW);
    RETURN NEW;
END;
$$;
"""

#: The operation name of the checkpoint event the re-chaining writes.
REHASHED = "audit chain re-hashed (digest v2)"


def rechain(apps, schema_editor):
    """Verify the version 1 chain, then re-chain every row with version 2 hashes and append a
    checkpoint event naming the old head. Nothing to do on an empty log."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        (count,) = cursor.fetchone()
        if not count:
            return
        cursor.execute(DIGEST_V1_SQL)
        cursor.execute(
            """
            SELECT seq FROM (
                SELECT seq, prev_hash, row_hash, audit_event_digest_v1(e) AS digest,
                       lag(row_hash, 1, '') OVER (ORDER BY seq) AS previous,
                       row_number() OVER (ORDER BY seq) AS position
                FROM audit_auditevent e
            ) AS chain
            WHERE seq <> position OR prev_hash <> previous OR row_hash <> digest
            ORDER BY seq LIMIT 1
            """
        )
        broken = cursor.fetchone()
        if broken is not None:
            raise RuntimeError(
                f"the audit log does not verify at seq {broken[0]} (manage.py "
                "verify_audit_log says why): it is not re-chained with version 2 hashes "
                "until that is resolved"
            )
        cursor.execute("SELECT seq, row_hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1")
        old_seq, old_hash = cursor.fetchone()
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cursor.execute(
            """
            DO $$
            DECLARE
                row record;
                previous text := '';
            BEGIN
                FOR row IN SELECT id FROM audit_auditevent ORDER BY seq LOOP
                    UPDATE audit_auditevent e
                       SET payload_digest = audit_payload_digest(e.variables),
                           prev_hash = previous
                     WHERE id = row.id;
                    UPDATE audit_auditevent e SET row_hash = audit_event_digest(e)
                     WHERE id = row.id
                    RETURNING e.row_hash INTO previous;
                END LOOP;
            END;
            $$
            """
        )
        cursor.execute(
            "ALTER TABLE audit_auditevent ENABLE ALWAYS TRIGGER audit_auditevent_append_only"
        )
        cursor.execute(
            """
            INSERT INTO audit_auditevent
                (kind, username, role, auth_method, user_agent, operation_type, operation_name,
                 variables, outcome, error_codes, records_returned, records_changed)
            VALUES ('ADMIN', '', '', 'migration', '', '', %s,
                    jsonb_build_object('old_head', jsonb_build_object('seq', %s::bigint,
                                                                      'row_hash', %s::text),
                                       'rows', %s::bigint),
                    'ALLOWED', '{}', '{}', '{}')
            """,
            [REHASHED, old_seq, old_hash, count],
        )
        cursor.execute("DROP FUNCTION audit_event_digest_v1(audit_auditevent)")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_operation_types"),
        ("backend", "0011_disposal"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="payload_digest",
            field=models.CharField(
                db_default="",
                editable=False,
                help_text="SHA-256 of the variables as stored (set by the database); the chain "
                "hashes this digest, so a disposal run can redact the variables and the chain "
                "still verifies.",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="redacted_by_run",
            field=models.BigIntegerField(
                blank=True,
                editable=False,
                help_text="The disposal run that removed the variables (personal values of "
                "records it disposed of); its batch event in the chain names this row.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="auditquerytext",
            name="redacted_by_run",
            field=models.BigIntegerField(
                blank=True,
                editable=False,
                help_text="The disposal run that blanked this text because it held a disposed "
                "value.",
                null=True,
            ),
        ),
        migrations.RunSQL(RUN_FUNCTION_SQL, "DROP FUNCTION IF EXISTS tipgraph_disposal_run();"),
        migrations.RunSQL(NOTE_SQL, NOTE_REVERSE_SQL),
        migrations.RunSQL(REFUSE_SQL, REFUSE_REVERSE_SQL),
        migrations.RunSQL(DIGEST_V2_SQL, DIGEST_V2_REVERSE_SQL),
        migrations.RunSQL(CHAIN_SQL, CHAIN_REVERSE_SQL),
        migrations.RunPython(rechain, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("kind", "ADMIN")),
                fields=["operation_name", "seq"],
                name="audit_event_admin_operation",
            ),
        ),
    ]
