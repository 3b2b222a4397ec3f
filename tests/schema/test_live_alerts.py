"""Live alerts to an office's analysts, in-process over the real consumer and the PostgreSQL
channel layer (``tests/websocket.py``): a lead referred to an office reaches its analysts
subscribed, and no one else's subscription; each delivery is audited. Two servers, partners,
refusals and Redis are in tests/backend/test_subscriptions.py."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from backend import models as m
from backend.services.leads import change_lead_status
from tests.factories import LeadFactory, OfficeFactory, TipFactory, UserFactory
from tests.websocket import events_after

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = "subscription Desk { alerts { id kind message lead { id title } } }"


def _refer(lead: m.Lead) -> None:
    change_lead_status(lead=lead, status=m.LeadStatus.REFERRED)


@pytest.mark.parametrize(("office_of_analyst", "delivered"), [("Miami", True), ("Boston", False)])
def test_a_referral_reaches_the_subscribed_analysts_of_its_office_only(
    office_of_analyst: str, delivered: bool
) -> None:
    # given a lead of Miami's, and an analyst of Miami or of Boston subscribed
    offices = {name: OfficeFactory(name=name) for name in ("Miami", "Boston")}
    lead = LeadFactory(office=offices["Miami"], title="Operation Reef")
    lead.tips.add(TipFactory(status=m.TipStatus.ACTIONABLE))
    analyst = UserFactory(role=m.Role.ANALYST, office=offices[office_of_analyst])

    # when the lead is referred
    events = events_after(analyst, LIVE, lambda: _refer(lead), timeout=5 if delivered else 1.5)

    # then Miami's analyst receives the referral alert, Boston's nothing
    alerts = [e["payload"]["data"]["alerts"] for e in events if e["type"] == "next"]
    if delivered:
        assert [(a["kind"], a["lead"]["title"]) for a in alerts] == [("REFERRAL", "Operation Reef")]
        [alert] = m.Alert.objects.filter(kind=m.AlertKind.REFERRAL)
        rows = AuditEvent.objects.filter(
            username=analyst.username, operation_type="subscription", outcome="ALLOWED"
        )
        assert [r for r in rows if f"Alert:{alert.pk}" in r.records_returned]
    else:
        assert alerts == []
        assert m.Alert.objects.filter(kind=m.AlertKind.REFERRAL).count() == 1
