"""Removal of records by the program manager: a soft delete with a reason, audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from backend import models as m
from backend.errors import InvalidInput
from backend.services.alerts import raise_correction_alerts
from backend.services.guards import check_text

__all__ = ["remove_record"]


@transaction.atomic
def remove_record(*, by: m.User, record: m.Removable, reason: str) -> m.Removable:
    """Hide ``record`` from everyone but the program manager, keeping it and the reason."""
    reason = reason.strip()
    check_text(reason, field="reason")
    if not reason:
        raise InvalidInput("removing a record needs a reason", field="reason")
    if record.removed_at is not None:
        raise InvalidInput(f"{type(record).__name__} {record.pk} is already removed", field="id")
    record.removed_at = timezone.now()
    record.removed_by = by
    record.removed_reason = reason
    record.save(update_fields=["removed_at", "removed_by", "removed_reason"])
    raise_correction_alerts(type(record), [record.pk], removed=True)
    return record
