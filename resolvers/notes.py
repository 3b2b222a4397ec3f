"""Note mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Model
from strawberry.types import Info

from backend import models as m
from backend.errors import RecordNotFound
from backend.registry import type_name
from backend.services import notes as service
from resolvers.common import Outcome, acting_user, load, run

if TYPE_CHECKING:
    from schema.note import AddNoteInput

__all__ = ["TYPE_NAMES", "add"]

#: GraphQL type name of every model a note may be attached to.
TYPE_NAMES: dict[type[Model], str] = {model: type_name(model) for model in service.NOTABLE_MODELS}
_MODELS = {name: model for model, name in TYPE_NAMES.items()}


def add(info: Info, data: AddNoteInput) -> Outcome:
    def action() -> m.Note:
        model = _MODELS.get(data.record_id.type_name)
        if model is None:
            raise RecordNotFound(
                f"notes go on {', '.join(_MODELS)}; got a {data.record_id.type_name}",
                field="recordId",
            )
        record = load(info, data.record_id, model, field="recordId")
        travel = data.travel
        return service.add_note(
            by=acting_user(info),
            record=record,
            body=data.body,
            kind=data.kind.value,
            travel=None
            if travel is None
            else service.TravelSpec(
                screening_outcome=travel.screening_outcome.value,
                carrier=travel.carrier,
                flight_number=travel.flight_number,
                travel_date=travel.travel_date,
                port=travel.port,
            ),
        )

    return run(action)
