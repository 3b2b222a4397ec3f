"""Identifier queries and mutations."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.identifiers import InvalidIdentifier, normalise
from backend.services import identifiers as service
from permissions.scoping import scope_queryset
from resolvers.common import Failure, Outcome, acting_user, load, run

__all__ = ["by_value", "create", "update"]


def by_value(info: Info, *, kind: str, value: str, qualifier: str) -> m.Identifier | None:
    """Exact lookup on the normalised value; a malformed value is an INVALID_IDENTIFIER error."""
    try:
        norm = normalise(kind, value, qualifier=qualifier)
    except (InvalidIdentifier, ValueError) as exc:
        raise GraphQLError(str(exc), extensions={"code": "INVALID_IDENTIFIER"}) from exc
    queryset = m.Identifier.objects.filter(
        kind=norm.kind.value, qualifier=norm.qualifier, value=norm.value
    )
    return scope_queryset(queryset, acting_user(info)).first()


def create(info: Info, *, kind: str, value: str, qualifier: str) -> tuple[Any, bool, list[Failure]]:
    result, errors = run(
        lambda: service.resolve_identifier(kind=kind, value=value, qualifier=qualifier)
    )
    if result is None:
        return None, False, errors
    return result[0], result[1], errors


def update(info: Info, gid: relay.GlobalID, *, kind: str, value: str, qualifier: str) -> Outcome:
    return run(
        lambda: service.update_identifier(
            identifier=load(info, gid, m.Identifier, field="id"),
            kind=kind,
            value=value,
            qualifier=qualifier,
        )
    )
