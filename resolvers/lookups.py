"""The traveller lookup."""

from __future__ import annotations

import datetime

from graphql import GraphQLError
from strawberry.types import Info

from backend.errors import DomainError
from backend.services import lookups as service
from backend.services.lookups import LookupCriteria, LookupOutcome
from resolvers.common import acting_user

__all__ = ["traveller_lookup"]


def traveller_lookup(
    info: Info,
    *,
    name: str,
    date_of_birth: datetime.date | None,
    email: str,
    username: str,
    platform: str,
    phone: str,
    passport: str,
    passport_country: str,
) -> LookupOutcome:
    """Run and record the lookup for the caller; a refused one (empty or too broad) is a
    GraphQL error with the service's code and field."""
    criteria = LookupCriteria(
        name=name,
        date_of_birth=date_of_birth,
        email=email,
        username=username,
        platform=platform,
        phone=phone,
        passport=passport,
        passport_country=passport_country,
    )
    try:
        return service.traveller_lookup(by=acting_user(info), criteria=criteria)
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc
