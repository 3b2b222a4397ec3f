"""Removal of records by the program manager."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.services.removal import remove_record
from permissions.classes import allow
from permissions.matrix import describe
from resolvers.common import load, run
from schema.base import MutationError

__all__ = ["RemovalMutation", "RemovalPayload"]

REMOVABLE = {
    "Tip": m.Tip,
    "Subject": m.Subject,
    "Identifier": m.Identifier,
    "Lead": m.Lead,
    "ResearchResult": m.ResearchResult,
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
            record = load(info, id, model, type_name=id.type_name, field="id")
            remove_record(by=info.context.request.user, record=record, reason=reason)
            return id

        removed, errors = run(action)
        return RemovalPayload(removed_id=removed, errors=errors)
