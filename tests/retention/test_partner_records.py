"""What the partner loop adds to disposal (issue 16's rows under issue 15's clocks): an alert and a
redissemination request go with the disclosure they belong to, and a disposed tip's reference
does not survive in the text of an alert that named it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType

from backend import models as m
from backend.retention import Category, period_days
from backend.services.disposal import ALERT_REDACTED
from tests.factories import UserFactory
from tests.retention.helpers import approved_run, carry_out, exists, tip_family
from tests.retention.test_disposed_values import where

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "disposal"])


def alerted_partner(tip: m.Tip) -> dict[str, Any]:
    """A partner alerted of ``tip`` (a LINKED_TIP alert, which disclosed the tip) who then
    asked to pass it on."""
    partner = UserFactory(username="pat", role=m.Role.INVESTIGATOR, agency="CBP")
    alert = m.Alert.objects.create(
        kind=m.AlertKind.LINKED_TIP,
        recipient=partner,
        tip=tip,
        message=f"Tip {tip.source_reference} was received and links to an identifier.",
    )
    disclosure = m.Disclosure.objects.create(
        alert=alert,
        user=partner,
        content_type=ContentType.objects.get_for_model(m.Tip),
        object_id=tip.pk,
    )
    request = m.RedisseminationRequest.objects.create(
        disclosure=disclosure, requested_by=partner, recipient="CBSA", purpose="joint case"
    )
    return {"alert": alert, "disclosure": disclosure, "request": request}


def test_an_alert_and_a_redissemination_request_go_with_their_disclosure(clock):
    # given a tip a partner was alerted of and asked to pass on
    family = tip_family("ALERTED")
    partner = alerted_partner(family["tip"])
    # when every clock has run out (the tips' period is the longest) and a run of every
    # category is carried out
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = carry_out(approved_run())
    # then the run finished (the request no longer stops its disclosure from going), and the
    # alert, the request and the disclosure are gone with the tip
    assert run.status == "DONE", run.error
    assert not any(exists(record) for record in partner.values())
    assert not exists(family["tip"])
    assert run.result["backend.Alert"]["done"] == 1


def test_a_disposed_tips_reference_does_not_survive_in_an_alert_that_named_it(clock):
    # given a tip a partner was alerted of
    family = tip_family("QUIBBLE")
    partner = alerted_partner(family["tip"])
    # when only the tips' clock has run (the alert and its disclosure are kept for the
    # accounting of disclosures)
    clock.forward(days=period_days(Category.TIPS) + 1)
    run = carry_out(approved_run(Category.TIPS))
    assert run.status == "DONE", run.error
    assert not exists(family["tip"])
    # then the alert stays, without the tip and without its text, and the tip's reference
    # appears nowhere in the database, the alert's record history included
    alert = m.Alert.objects.get(pk=partner["alert"].pk)
    assert (alert.tip_id, alert.message) == (None, ALERT_REDACTED)
    assert exists(partner["disclosure"])
    assert where("REF-QUIBBLE") == []
