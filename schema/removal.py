"""Removal of records by the program manager."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.registry import removable_models, type_name
from backend.services.removal import remove_record
from permissions.classes import allow
from permissions.matrix import describe
from resolvers.common import load, run
from schema.base import MutationError, mutation_errors

__all__ = ["RemovalMutation", "RemovalPayload"]

#: Type name -> model of every removable record (``backend.registry.removable_models``).
REMOVABLE: dict[str, type[m.Removable]] = {
    type_name(model): model  # type: ignore[misc]
    for model in removable_models()
}


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
        def action() -> relay.GlobalID:
            model = REMOVABLE.get(id.type_name)
            if model is None:
                raise RecordNotFound(
                    f"only {', '.join(REMOVABLE)} records can be removed", field="id"
                )
            record = load(info, id, model, field="id")
            remove_record(by=info.context.request.user, record=record, reason=reason)
            return id

        removed, errors = run(action)
        return RemovalPayload(removed_id=removed, errors=mutation_errors(errors))
