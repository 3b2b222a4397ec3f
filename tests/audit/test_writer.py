"""audit.writer: the one writer of audit rows, the chain the database builds, the context id."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from django.db import connection

from audit.models import AuditEvent, AuditQueryText
from audit.writer import (
    REDACTED,
    current_context,
    new_context,
    query_text_hash,
    set_context,
    write_event,
)
from tests.audit.helpers import operation

pytestmark = pytest.mark.django_db

QUERY = "query TipQuery($id: ID!) { tip(id: $id) { id narrative } }"


def _digest_of(seq: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_event_digest(e) FROM audit_auditevent e WHERE seq = %s", [seq])
        return cursor.fetchone()[0]


def test_rows_are_numbered_and_chained_by_the_database():
    # given an empty audit log
    assert AuditEvent.objects.count() == 0
    # when three rows are written
    first, second, third = operation("A"), operation("B"), operation("C")
    # then the database numbered them 1, 2, 3 and chained each to the previous one
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == ""
    assert second.prev_hash == first.row_hash
    assert third.prev_hash == second.row_hash
    # and each row_hash is the digest of the row, 64 hex digits, all different
    for event in (first, second, third):
        assert event.row_hash == _digest_of(event.seq)
        assert len(event.row_hash) == 64
        assert int(event.row_hash, 16) >= 0
    assert len({first.row_hash, second.row_hash, third.row_hash}) == 3
    # and the returned objects are what the database stored
    stored = AuditEvent.objects.get(seq=2)
    assert (stored.pk, stored.prev_hash, stored.row_hash, stored.occurred_at) == (
        second.pk,
        second.prev_hash,
        second.row_hash,
        second.occurred_at,
    )


def _jsonb_order(value: Any) -> Any:
    """``value`` with object keys in jsonb's output order: shorter keys first, then bytewise."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_jsonb_order(v) for v in value]
    return value


def test_row_hash_can_be_recomputed_outside_the_database():
    # given a row with known content, as the first row of the chain
    context_id = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    event = write_event(
        occurred_at=dt.datetime(2024, 3, 1, 10, 34, 56, 789012, tzinfo=dt.UTC),
        kind="OPERATION",
        outcome="ALLOWED",
        user_id=42,
        username="analyst-user",
        role="ANALYST",
        auth_method="token:3",
        client_address="2001:db8::1",
        user_agent='ua "quoted"',
        operation_type="query",
        operation_name="Op",
        query="{ tips { id } }",
        variables={"b": [1, {"z": None}], "a": "x"},
        error_codes=["A"],
        duration_ms=12.25,
        records_returned=["Tip:1"],
        records_changed=[],
        context_id=context_id,
    )
    # when an external verifier rebuilds the canonical text (see audit_event_digest)
    variables = {"b": [1, {"z": None}], "a": "x"}
    payload = json.dumps(_jsonb_order(variables), separators=(", ", ": "), ensure_ascii=False)
    content = {
        "v": 2,
        "seq": 1,
        "occurred_at": "2024-03-01T10:34:56.789012Z",
        "kind": "OPERATION",
        "user_id": 42,
        "username": "analyst-user",
        "role": "ANALYST",
        "auth_method": "token:3",
        "client_address": "2001:db8::1",
        "user_agent": 'ua "quoted"',
        "operation_type": "query",
        "operation_name": "Op",
        "query_hash": hashlib.sha256(b"{ tips { id } }").hexdigest(),
        "payload_digest": hashlib.sha256(payload.encode()).hexdigest(),
        "outcome": "ALLOWED",
        "error_codes": ["A"],
        "duration_ms": 12.25,
        "records_returned": ["Tip:1"],
        "records_changed": [],
        "context_id": str(context_id),
    }
    text = json.dumps(_jsonb_order(content), separators=(", ", ": "), ensure_ascii=False)
    # then its hash over "prev_hash + newline + text" is the stored row_hash
    assert event.prev_hash == ""
    assert event.row_hash == hashlib.sha256(("" + "\n" + text).encode()).hexdigest()


def test_all_fields_are_stored_as_given():
    # given every field of an operation row
    context_id = new_context()
    # when it is written
    event = write_event(
        kind="OPERATION",
        outcome="DENIED",
        user_id=42,
        username="investigator-user",
        role="INVESTIGATOR",
        auth_method="token:9",
        client_address="2001:db8::1",
        user_agent="curl/8",
        operation_type="mutation",
        operation_name="AddNote",
        query="mutation AddNote { addNote { id } }",
        variables={"body": "seen at port", "n": 1.5},
        error_codes=["FORBIDDEN"],
        duration_ms=12.25,
        records_returned=["Tip:3", "Subject:4"],
        records_changed=["Note:5"],
        context_id=context_id,
    )
    # then reading it back gives the same values
    stored = AuditEvent.objects.select_related("query_hash").get(pk=event.pk)
    assert (stored.kind, stored.outcome, stored.user_id, stored.username, stored.role) == (
        "OPERATION",
        "DENIED",
        42,
        "investigator-user",
        "INVESTIGATOR",
    )
    assert (stored.auth_method, stored.client_address, stored.user_agent) == (
        "token:9",
        "2001:db8::1",
        "curl/8",
    )
    assert (stored.operation_type, stored.operation_name) == ("mutation", "AddNote")
    assert stored.query_hash.text == "mutation AddNote { addNote { id } }"
    assert stored.variables == {"body": "seen at port", "n": 1.5}
    assert stored.error_codes == ["FORBIDDEN"]
    assert stored.duration_ms == 12.25
    assert stored.records_returned == ["Tip:3", "Subject:4"]
    assert stored.records_changed == ["Note:5"]
    assert stored.context_id == context_id


def test_defaults_of_a_sign_in_row():
    # given only the fields of a failed sign-in
    # when it is written
    event = write_event(kind="LOGIN_FAILED", outcome="DENIED", username="mallory")
    # then the other fields are empty and the time is the database's
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.user_id, stored.role, stored.auth_method, stored.client_address) == (
        None,
        "",
        "",
        None,
    )
    assert (stored.query_hash_id, stored.variables, stored.error_codes) == (None, {}, [])
    assert (stored.records_returned, stored.records_changed, stored.duration_ms) == ([], [], None)
    assert stored.occurred_at == event.occurred_at
    assert stored.occurred_at is not None


def test_query_text_is_stored_once_and_referred_to_by_hash():
    # given two operations with the same query text and one without text
    # when they are written
    first = operation(query=QUERY)
    second = operation(query=QUERY)
    third = operation(query="")
    # then the text is stored once, under its SHA-256
    expected = hashlib.sha256(QUERY.encode()).hexdigest()
    assert query_text_hash(QUERY) == expected
    assert list(AuditQueryText.objects.values_list("hash", "text")) == [(expected, QUERY)]
    assert (first.query_hash_id, second.query_hash_id, third.query_hash_id) == (
        expected,
        expected,
        None,
    )


def test_chain_fields_cannot_be_given():
    # given an attempt to choose the position in the chain
    # when it is written, then it is refused before reaching the database
    with pytest.raises(TypeError, match=r"\['prev_hash', 'seq'\] are set by the database"):
        write_event(kind="LOGIN", outcome="SUCCEEDED", seq=99, prev_hash="")
    assert AuditEvent.objects.count() == 0


def test_seq_and_hashes_given_in_sql_are_overwritten_by_the_trigger():
    # given a first row, and a raw INSERT that tries to choose seq and hashes
    first = operation()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (seq, prev_hash, row_hash, kind, username, role, "
            "auth_method, user_agent, operation_type, operation_name, variables, outcome, "
            "error_codes, records_returned, records_changed) VALUES (1000, 'x', 'y', 'LOGIN', "
            "'u', '', 'session', '', '', '', '{}', 'SUCCEEDED', '{}', '{}', '{}') "
            "RETURNING seq, prev_hash, row_hash"
        )
        seq, prev_hash, row_hash = cursor.fetchone()
    # then the database still appended it as the next link
    assert (seq, prev_hash, row_hash) == (2, first.row_hash, _digest_of(2))


def test_hostile_values_are_made_storable_and_secrets_redacted():
    # given variables with NUL characters and secret-looking names
    variables = {
        "name\x00": "a\x00b",
        "password": "hunter2hunter2",
        "input": {"newPassword": "x", "api_key": "k", "clientSecret": "s", "token": "t"},
        "list": [{"secret": "s", "body": "kept"}],
    }
    # when the row is written
    event = operation(variables=variables, query="{ tip }\x00", user_agent="ua\x00")
    # then NULs became U+FFFD and secret values were replaced
    stored = AuditEvent.objects.select_related("query_hash").get(pk=event.pk)
    assert stored.variables == {
        "name\ufffd": "a\ufffdb",
        "password": REDACTED,
        "input": {"newPassword": REDACTED, "api_key": REDACTED, "clientSecret": REDACTED,
                  "token": REDACTED},
        "list": [{"secret": REDACTED, "body": "kept"}],
    }  # fmt: skip
    assert stored.query_hash.text == "{ tip }\ufffd"
    assert stored.user_agent == "ua\ufffd"


def test_lone_surrogates_and_overlong_text_are_made_storable():
    # given text no client should send: lone UTF-16 surrogates, a name longer than its column
    name = "Op" + "x" * 300
    # when the row is written
    event = operation(
        name=name,
        variables={"\ud800key": "a\udfffb"},
        query="{ tip } # \ud83d",
        error_codes=["C" * 100],
    )
    # then the surrogates became U+FFFD and the text was cut to its column
    stored = AuditEvent.objects.select_related("query_hash").get(pk=event.pk)
    assert stored.variables == {"\ufffdkey": "a\ufffdb"}
    assert stored.query_hash.text == "{ tip } # \ufffd"
    assert stored.operation_name == name[:200]
    assert stored.error_codes == ["C" * 64]


def test_digest_does_not_depend_on_session_settings():
    # given a row with a time, a float and an address
    event = operation(duration_ms=0.1 + 0.2, client_address="192.0.2.1")
    # when the digest is recomputed under another time zone and float format
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TimeZone = 'America/New_York'")
        cursor.execute("SET LOCAL extra_float_digits = 0")
        cursor.execute("SET LOCAL DateStyle = 'SQL, DMY'")
        digest = _digest_of(event.seq)
    # then it is the same
    assert digest == event.row_hash


def test_context_is_set_read_and_cleared():
    # given no context on the connection
    assert current_context() is None
    # when one is set
    context_id = new_context()
    set_context(context_id)
    # then it is the connection's
    assert current_context() == context_id
    # and clearing it leaves none
    set_context(None)
    assert current_context() is None


def test_new_contexts_are_distinct_uuids():
    # given / when two context ids are made
    first, second = new_context(), new_context()
    # then they are different version-4 UUIDs
    assert isinstance(first, uuid.UUID)
    assert first != second
    assert (first.version, second.version) == (4, 4)
