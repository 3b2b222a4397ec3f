"""Removal of records by the program manager."""

from __future__ import annotations

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.registry import removable_models, type_name
from backend.services.removal import remove_record as service_remove
from resolvers.common import Failure, acting_user, load, run

__all__ = ["REMOVABLE", "remove_record"]

#: Type name -> model of every removable record (``backend.registry.removable_models``).
REMOVABLE: dict[str, type[m.Removable]] = {
    type_name(model): model  # type: ignore[misc]
    for model in removable_models()
}


def remove_record(
    info: Info, record_id: relay.GlobalID, reason: str
) -> tuple[relay.GlobalID | None, list[Failure]]:
    """Remove (soft delete) the record ``record_id`` names, with the program manager's reason;
    the removed id, or why it was not removed."""

    def action() -> relay.GlobalID:
        model = REMOVABLE.get(record_id.type_name)
        if model is None:
            raise RecordNotFound(f"only {', '.join(REMOVABLE)} records can be removed", field="id")
        record = load(info, record_id, model, field="id")
        service_remove(by=acting_user(info), record=record, reason=reason)
        return record_id

    return run(action)
