"""The accounting of disclosures: every disclosure of a record or a person, by global id."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.accounting import accounted_record
from backend import models as m
from backend.services import disclosures as service

__all__ = ["accounting_of_disclosures"]


def accounting_of_disclosures(record_id: str) -> QuerySet[m.Disclosure]:
    """The disclosures of the record ``record_id`` (a global id) names, oldest first (the
    connection pages them; ``service.entry_of`` makes each a line of the accounting). The id is
    read as the CSV download reads it (``audit.accounting.accounted_record``): INVALID_ID or
    NOT_FOUND alike."""
    return service.accounting(accounted_record(record_id))
