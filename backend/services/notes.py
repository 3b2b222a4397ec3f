"""Notes: append-only remarks on any record; targeting notes carry travel data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from backend.errors import InvalidInput
from backend.models import (
    Identifier,
    Lead,
    Note,
    NoteKind,
    ResearchResult,
    ScreeningOutcome,
    Subject,
    Tip,
    User,
)
from backend.services.guards import camel, check_lengths, check_text

__all__ = ["NOTABLE_MODELS", "TravelSpec", "add_note"]

NOTABLE_MODELS: tuple[type[models.Model], ...] = (Tip, Subject, Identifier, Lead, ResearchResult)
MAX_NOTE_LENGTH = 20_000


@dataclass(frozen=True, slots=True)
class TravelSpec:
    """Structured travel data of a border-targeting note."""

    screening_outcome: str
    carrier: str = ""
    flight_number: str = ""
    travel_date: date | None = None
    port: str = ""


@transaction.atomic
def add_note(
    *,
    by: User,
    record: models.Model,
    body: str,
    kind: str = NoteKind.GENERAL,
    travel: TravelSpec | None = None,
) -> Note:
    """Append a note to a tip, subject, identifier, lead or research result."""
    if not isinstance(record, NOTABLE_MODELS):
        raise InvalidInput(f"notes cannot be added to a {type(record).__name__}", field="recordId")
    body = body.strip()
    if not body:
        raise InvalidInput("a note needs a body", field="body")
    if len(body) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"a note may be at most {MAX_NOTE_LENGTH} characters", field="body")
    check_text(body, field="body")
    if kind not in NoteKind.values:
        raise InvalidInput(
            f"kind {kind!r} is not one of {', '.join(NoteKind.values)}", field="kind"
        )
    if kind == NoteKind.TARGETING and travel is None:
        raise InvalidInput(
            "a targeting note needs travel data with a screening outcome", field="travel"
        )
    if kind != NoteKind.TARGETING and travel is not None:
        raise InvalidInput("travel data belongs on TARGETING notes only", field="travel")
    fields: dict[str, object] = {}
    if travel is not None:
        if travel.screening_outcome not in ScreeningOutcome.values:
            raise InvalidInput(
                f"screeningOutcome {travel.screening_outcome!r} is not one of "
                f"{', '.join(ScreeningOutcome.values)}",
                field="travel.screeningOutcome",
            )
        fields = {
            "screening_outcome": travel.screening_outcome,
            "carrier": travel.carrier.strip(),
            "flight_number": travel.flight_number.strip().upper().replace(" ", ""),
            "travel_date": travel.travel_date,
            "port": travel.port.strip(),
        }
        check_lengths(
            Note,
            {name: fields[name] for name in ("carrier", "flight_number", "port")},
            fields={name: f"travel.{camel(name)}" for name in ("carrier", "flight_number", "port")},
        )
    return Note.objects.create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        author=by,
        body=body,
        kind=kind,
        **fields,
    )
