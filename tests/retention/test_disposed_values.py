"""After a disposal run the disposed values appear nowhere in the database: not in any table,
not in record history, not in the variables of the audit events that wrote or read the
records, not in the query texts that quoted them; and ``manage.py verify_audit_log`` still
verifies the whole chain, the redacted rows included."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEvent, AuditQueryText
from backend import models as m
from backend.retention import Category, period_days
from tests.factories import SourceFactory
from tests.retention.helpers import approved_run, carry_out
from tests.schema.mutation_helpers import gid

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "disposal"])

#: Values that exist nowhere but in the records disposed of (and what was written about them).
MARKERS = (
    "Quaxworth",
    "1961-07-04",
    "zq.marker@example.com",
    "Marker narrative 8812",
    "Note marker 4471",
    "Xanthippe",
    "1958-02-03",
    "xv.marker@example.org",
)


def where(value: str) -> list[str]:
    """Every table and column of the database whose text holds ``value`` (any case)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb', 'ARRAY', 'date')"
        )
        columns = cursor.fetchall()
        for table, column in columns:
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',
                [f"%{value}%"],
            )
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


def test_disposed_values_appear_nowhere_and_the_chain_verifies(gql, clock):
    # given records written through the API: a person, a tip naming them with an e-mail
    # address, a note, a lookup that matched nothing, and a query quoting the address inline
    source = SourceFactory()
    subject = gql(
        """mutation($input: CreateSubjectInput!) {
             createSubject(input: $input) { subject { id } errors { code } } }""",
        {"input": {"fullName": "Zebulon Quaxworth", "dateOfBirth": "1961-07-04"}},
    )["data"]["createSubject"]["subject"]["id"]
    tip = gql(
        """mutation($input: CreateTipInput!) {
             createTip(input: $input) { tip { id } errors { code message } } }""",
        {
            "input": {
                "sourceId": gid("Source", source.pk),
                "sourceReference": "DISPOSE-1",
                "receivedAt": "2024-05-01T10:00:00+00:00",
                "category": "DISTRIBUTION",
                "narrative": "Marker narrative 8812",
                "identifiers": [
                    {"identifier": {"kind": "EMAIL", "value": "zq.marker@example.com"}}
                ],
                "subjects": [{"subjectId": subject, "role": "SUSPECT"}],
            }
        },
    )["data"]["createTip"]["tip"]["id"]
    note = gql(
        """mutation($input: AddNoteInput!) { addNote(input: $input) { note { id } } }""",
        {"input": {"recordId": tip, "body": "Note marker 4471"}},
    )
    assert note["data"]["addNote"]["note"]
    looked_up = gql(
        """query($input: TravellerLookupInput!) {
             travellerLookup(input: $input) { matchedOn } }""",
        {
            "input": {
                "name": "Xanthippe Vorlauf",
                "dateOfBirth": "1958-02-03",
                "email": "xv.marker@example.org",
            }
        },
    )
    assert "errors" not in looked_up, looked_up
    inline = gql(
        '{ identifierByValue(identifier: {kind: EMAIL, value: "zq.marker@example.com"}) { id } }'
    )
    assert inline["data"]["identifierByValue"]["id"]
    assert m.TravellerLookup.objects.count() == 1
    for value in MARKERS:
        assert where(value), value  # the test's values are really there to begin with
    # when the clock passes the tips' period and a run disposes of tips and empty lookups
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = carry_out(approved_run(Category.TIPS, Category.LOOKUPS_WITHOUT_HITS), size=4)
    assert run.status == "DONE", run.error
    # then no table holds any of the values any more
    for value in MARKERS:
        assert where(value) == [], value
    # and the audit rows of those operations are still there, their variables redacted
    redacted = AuditEvent.objects.filter(redacted_by_run=run.pk)
    assert redacted.count() >= 4
    assert all(row.variables == {} for row in redacted)
    assert AuditQueryText.objects.filter(redacted_by_run=run.pk, text="").count() == 1
    # and the whole chain still verifies
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    assert "audit log OK" in out.getvalue()
