"""Note mutations."""

from __future__ import annotations

from django.db.models import Model
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.registry import type_name
from backend.services import notes as service
from backend.services.notes import TravelSpec
from resolvers.common import Outcome, acting_user, load, run

__all__ = ["TYPE_NAMES", "TravelSpec", "add"]

#: GraphQL type name of every model a note may be attached to.
TYPE_NAMES: dict[type[Model], str] = {model: type_name(model) for model in service.NOTABLE_MODELS}
_MODELS = {name: model for model, name in TYPE_NAMES.items()}


def add(
    info: Info, *, record_id: relay.GlobalID, body: str, kind: str, travel: TravelSpec | None
) -> Outcome:
    def action() -> m.Note:
        model = _MODELS.get(record_id.type_name)
        if model is None:
            raise RecordNotFound(
                f"notes go on {', '.join(_MODELS)}; got a {record_id.type_name}",
                field="recordId",
            )
        record = load(info, record_id, model, field="recordId")
        return service.add_note(
            by=acting_user(info), record=record, body=body, kind=kind, travel=travel
        )

    return run(action)
