"""Deconfliction mutations."""

from __future__ import annotations

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import deconfliction as service
from resolvers.common import Outcome, acting_user, load, run

__all__ = ["acknowledge_notice"]


def acknowledge_notice(info: Info, recipient_id: relay.GlobalID) -> Outcome:
    """Acknowledge the caller's office's copy of a notice."""

    def action() -> m.NoticeRecipient:
        recipient = load(info, recipient_id, m.NoticeRecipient, field="recipientId")
        return service.acknowledge(recipient=recipient, by=acting_user(info))

    return run(action)
