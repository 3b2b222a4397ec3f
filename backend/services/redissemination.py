"""Redissemination requests: a partner asks the owning agency's authorisation to pass a record
they received on to someone else; an analyst approves or refuses it.

Records shown to a partner carry the rule that they may not be passed on without the owning
agency's authorisation (the dissemination caveat). The request names the record (which must
be one a lookup or alert of theirs disclosed to them, still within the reopening window: one
they can open), the recipient and the purpose; it is tied to their latest disclosure of the
record, so the accounting of disclosures lists it beside that disclosure. The decision (who,
when, why) is recorded on the request and the partner is alerted of it
(``backend.services.alerts``). Both are changes like any other: the record history keeps
them and the operations' audit rows name the request.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from backend import models as m
from backend.errors import InvalidInput, InvalidTransition, RecordNotFound
from backend.services.alerts import raise_redissemination_alerts
from backend.services.guards import check_lengths, check_text
from permissions.scoping import disclosure_cutoff

__all__ = ["MAX_PURPOSE_LENGTH", "decide_redissemination", "request_redissemination"]

#: The longest purpose a request may give.
MAX_PURPOSE_LENGTH = 2000


@transaction.atomic
def request_redissemination(
    *, by: m.User, record: Model, recipient: str, purpose: str
) -> m.RedisseminationRequest:
    """Ask to pass ``record`` (a tip, person or identifier disclosed to ``by`` within the
    reopening window) on to ``recipient`` for ``purpose``."""
    recipient = " ".join(recipient.split())
    purpose = purpose.strip()
    check_lengths(m.RedisseminationRequest, {"recipient": recipient})
    check_text(purpose, field="purpose", max_length=MAX_PURPOSE_LENGTH)
    if not recipient:
        raise InvalidInput("name the agency or person to pass the record on to", field="recipient")
    if not purpose:
        raise InvalidInput("give the purpose of passing the record on", field="purpose")
    disclosure = (
        m.Disclosure.objects.filter(
            user=by,
            content_type=ContentType.objects.get_for_model(type(record)),
            object_id=record.pk,
            created_at__gt=disclosure_cutoff(),
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if disclosure is None:
        raise RecordNotFound(
            "that record was not disclosed to you within the reopening window", field="recordId"
        )
    return m.RedisseminationRequest.objects.create(
        disclosure=disclosure, requested_by=by, recipient=recipient, purpose=purpose
    )


@transaction.atomic
def decide_redissemination(
    *, request: m.RedisseminationRequest, by: m.User, approve: bool, reason: str = ""
) -> m.RedisseminationRequest:
    """Approve or refuse a pending request (a refusal needs its reason), and alert the
    partner who made it."""
    reason = reason.strip()
    check_text(reason, field="reason", max_length=MAX_PURPOSE_LENGTH)
    if not approve and not reason:
        raise InvalidInput("a refusal needs its reason", field="reason")
    request = m.RedisseminationRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != m.RedisseminationStatus.PENDING:
        raise InvalidTransition(
            f"the request was already {request.status.lower()}", field="requestId"
        )
    request.status = (
        m.RedisseminationStatus.APPROVED if approve else m.RedisseminationStatus.REFUSED
    )
    request.decided_by = by
    request.decided_at = timezone.now()
    request.decision_reason = reason
    request.save()
    raise_redissemination_alerts([request.pk])
    return request
