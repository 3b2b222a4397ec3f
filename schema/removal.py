"""Removal of records by the program manager."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from permissions.classes import allow
from permissions.matrix import describe
from resolvers import removal as resolve
from schema.base import MutationError, mutation_errors

__all__ = ["RemovalMutation", "RemovalPayload"]


@strawberry.type(description="The record removed, or why it was not.")
class RemovalPayload:
    removed_id: relay.GlobalID | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class RemovalMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.removeRecord"),
        description=describe(
            "Mutation.removeRecord",
            "Remove a tip, subject, identifier, lead or research result, with a reason. The "
            "record is kept, hidden from everyone but program managers.",
        ),
    )
    def remove_record(self, info: Info, id: relay.GlobalID, reason: str) -> RemovalPayload:
        removed, errors = resolve.remove_record(info, id, reason)
        return RemovalPayload(removed_id=removed, errors=mutation_errors(errors))
