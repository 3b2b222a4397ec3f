"""Reading record history: what happened to one row, and what one operation changed."""

from __future__ import annotations

import uuid

from django.db import models

from audit.models import RecordChange

__all__ = ["changes_for", "changes_in_context"]


def changes_for(
    table_name: str | type[models.Model], row_id: int | str
) -> models.QuerySet[RecordChange]:
    """Every recorded change of one row, oldest first.

    ``table_name`` is a table name (``"backend_tip"``) or a model class (``Tip``).
    """
    if not isinstance(table_name, str):
        table_name = table_name._meta.db_table
    return RecordChange.objects.filter(table_name=table_name, row_id=str(row_id)).order_by("id")


def changes_in_context(context_id: uuid.UUID | str) -> models.QuerySet[RecordChange]:
    """Every record change made under one context id (one operation), in the order made."""
    return RecordChange.objects.filter(context_id=context_id).order_by("id")
