"""Row scoping: the one function every GraphQL type's ``get_queryset`` calls.

Lists, node fetches and nested relations all pass through here, so a rule added here
applies everywhere at once.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from permissions.roles import GRAPH_READERS

__all__ = ["scope_queryset"]

M = TypeVar("M", bound=Model)


def scope_queryset(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Return the rows of ``queryset`` that ``user`` may see."""
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if getattr(user, "role", None) not in GRAPH_READERS:
        return queryset.none()
    return queryset
