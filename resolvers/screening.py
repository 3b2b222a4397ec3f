"""Passenger-list screening."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphql import GraphQLError
from strawberry.types import Info

from backend.errors import DomainError
from backend.services import screening as service
from backend.services.lookups import LookupCriteria
from backend.services.screening import Screening
from resolvers.common import acting_user

__all__ = ["screen_passengers"]


def screen_passengers(
    info: Info, *, reference: str, travellers: Sequence[Mapping[str, Any]]
) -> Screening:
    """Screen the list for the caller. ``travellers``: each traveller's criteria, by the names
    of ``LookupCriteria``. A list refused as a whole (no reference, no traveller, too many) is
    a GraphQL error with the service's code and field; a traveller refused on their own is in
    the screening, with their error."""
    criteria = [LookupCriteria(**traveller) for traveller in travellers]
    try:
        return service.screen_passengers(
            by=acting_user(info), reference=reference, travellers=criteria
        )
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc
