"""/audit/export.csv refuses malformed parameters in its own words, never the decoder's."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from backend.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("record_id=not-base64!", "record_id must be a record's global id, got 'not-base64!'"),
        ("occurred_from=yesterday", "occurred_from must be an ISO 8601 date-time"),
        ("occurred_to=2026-13-45T00:00:00", "occurred_to must be an ISO 8601 date-time"),
    ],
)
def test_a_malformed_parameter_is_refused_with_our_message(client, user_of, query, message):
    # given a signed-in auditor
    client.force_login(user_of(Role.AUDITOR))
    # when the export is asked with a malformed parameter
    response = client.get(f"/audit/export.csv?{query}")
    # then it is refused with a coded error that names the parameter, and audited as INVALID
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_INPUT"
    assert body["error"].startswith(message)
    event = AuditEvent.objects.get(operation_name="auditExportCsv")
    assert (event.outcome, event.error_codes) == ("INVALID", ["INVALID_INPUT"])
