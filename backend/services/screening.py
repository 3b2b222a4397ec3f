"""Passenger-list screening: a whole flight's or crossing's travellers looked up at once.

Each traveller is a traveller lookup (``backend.services.lookups``): the same criteria and
checks, the same reach (``permissions.partner``: an investigator learns only about suspects on
tips they may see), the same ranking and reasons, the same tip cap, one ``TravellerLookup`` row
and its disclosures each. A traveller whose criteria are refused (a name without a date of
birth, a malformed e-mail...) or who matches too much gets an error of their own; the others
are screened all the same.

What a screening does differently is to do it for all travellers together, so that its
statements do not grow with the list: one statement finds every name (with the
transaction's similarity threshold set before it), one reads everything else for every
traveller, one finds the cleared travellers' redress cases (``backend.services.redress``: the
mark shown first), one writes every lookup row and every disclosure, one asks whether any of it
touches another office's active lead (only then is each traveller deconflicted on its
own), all in one transaction.

Each lookup row's criteria keep the screening beside the traveller's normalised criteria:
``{"screening": {"id": <uuid>, "reference": "BA 0117", "traveller": <index in the list>}}``
(``backend.services.disclosures`` reads the reference as the disclosure's purpose).

What one screening may answer over all its travellers is bounded (``SCREENING_MAX_*``
settings; the cost limit of ``schema.limits`` counts on them): past them, the travellers
matching most are left out, each with an error saying to look them up one at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from backend import models as m
from backend.errors import DomainError, InvalidInput
from backend.services.guards import check_text
from backend.services.lookups import (
    Found,
    LookupCriteria,
    LookupOutcome,
    LookupRow,
    MatchReason,
    Prepared,
    Recorded,
    deconflict_lookup,
    evaluate,
    name_matches,
    prepare,
    read_all,
    record_lookups,
    traveller_redress,
)
from backend.services.redress import apply_marks
from permissions.partner import lookup_reach_sql

__all__ = [
    "MAX_REFERENCE_LENGTH",
    "ScreenedTraveller",
    "Screening",
    "normalise_reference",
    "screen_passengers",
]

#: The longest flight or crossing reference (carrier, number, date, port...).
MAX_REFERENCE_LENGTH = 64


@dataclass(frozen=True)
class ScreenedTraveller:
    """One traveller of a screening: their place in the list, their normalised criteria
    (None when those were refused), and the lookup's outcome or the error that stopped it."""

    index: int
    criteria: dict[str, Any] | None
    outcome: LookupOutcome | None = None
    error: DomainError | None = None


@dataclass(frozen=True)
class Screening:
    """A screened passenger list: its id, its reference and every traveller in list order."""

    id: str
    reference: str
    travellers: list[ScreenedTraveller]

    @property
    def screened(self) -> int:
        """Travellers looked up (and recorded)."""
        return sum(1 for t in self.travellers if t.outcome is not None)

    @property
    def with_matches(self) -> int:
        return sum(1 for t in self.travellers if t.outcome is not None and t.outcome.matches)

    @property
    def errors(self) -> int:
        return sum(1 for t in self.travellers if t.error is not None)


def normalise_reference(reference: str) -> str:
    """A flight or crossing reference as recorded: spaces collapsed, upper case; refused
    (``reference``) when empty, too long or holding control characters."""
    check_text(reference, field="reference")
    text = " ".join(reference.split()).upper()
    if not text:
        raise InvalidInput("give the flight or crossing reference", field="reference")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise InvalidInput(
            f"reference may be at most {MAX_REFERENCE_LENGTH} characters, got {len(text)}",
            field="reference",
        )
    if not text.isprintable():
        raise InvalidInput("reference holds a control character", field="reference")
    return text


def screen_passengers(
    *, by: m.User, reference: str, travellers: Sequence[LookupCriteria]
) -> Screening:
    """Screen a passenger list: look every traveller up within the caller's reach, as
    ``traveller_lookup`` would, and record one lookup (with its disclosures) per traveller
    screened. Refused as a whole (``InvalidInput``) only for the list itself: no or a
    malformed reference, no traveller, more than ``SCREENING_MAX_TRAVELLERS``."""
    reference = normalise_reference(reference)
    most = int(settings.SCREENING_MAX_TRAVELLERS)
    if not travellers:
        raise InvalidInput("give at least one traveller", field="travellers")
    if len(travellers) > most:
        raise InvalidInput(
            f"a screening takes at most {most} travellers, got {len(travellers)}: split the list",
            field="travellers",
        )
    screening_id = str(uuid.uuid4())
    prepared: dict[int, Prepared] = {}
    errors: dict[int, DomainError] = {}
    for index, criteria in enumerate(travellers):
        try:
            prepared[index] = prepare(criteria)
        except DomainError as exc:
            errors[index] = exc
    reach = lookup_reach_sql(by)
    max_tips = int(settings.LOOKUP_MAX_TIPS)
    found: dict[int, Found] = {}
    with transaction.atomic(savepoint=False):
        hits = name_matches(prepared, reach)
        reads = read_all(reach, prepared, hits, max_tips)
        for index, one in prepared.items():
            try:
                found[index] = evaluate(one, hits.get(index, {}), reads[index], max_tips)
            except DomainError as exc:
                errors[index] = exc
        for index in _over_budget(found):
            del found[index]
            errors[index] = InvalidInput(
                "this traveller matches too much to screen in a list (the screening's "
                "answer is bounded): look them up on their own with travellerLookup",
                field="input",
            )
        order = sorted(found)
        marks = traveller_redress({index: prepared[index] for index in order})
        for index in order:
            apply_marks(found[index].matches, marks.get(index, []), MatchReason)
        rows = [
            LookupRow(
                criteria={
                    **prepared[index].normalised,
                    "screening": {"id": screening_id, "reference": reference, "traveller": index},
                },
                subject_hits=len(found[index].subject_ids),
                tip_hits=len(found[index].tip_ids),
                disclosed=found[index].disclosed,
            )
            for index in order
        ]
        recorded = dict(zip(order, record_lookups(by, rows), strict=True))
        lookups = {index: one.lookup for index, one in recorded.items()}
        _deconflict(by, {index: (found[index], recorded[index]) for index in order})
    return Screening(
        id=screening_id,
        reference=reference,
        travellers=[
            ScreenedTraveller(
                index=index,
                criteria=prepared[index].normalised if index in prepared else None,
                outcome=(
                    found[index].outcome(lookups[index], marks.get(index))
                    if index in found
                    else None
                ),
                error=errors.get(index),
            )
            for index in range(len(travellers))
        ],
    )


def _deconflict(by: m.User, recorded: dict[int, tuple[Found, Recorded]]) -> None:
    """Deconflict every traveller's lookup on its own (its notices name it)."""
    for one, lookup in recorded.values():
        deconflict_lookup(by, one, lookup)


def _sizes(one: Found) -> tuple[int, int, int, int, int]:
    """What one traveller's answer holds, as the screening's bounds count it: matches,
    people, identifiers, tips, and tips listed under the matches."""
    return (
        len(one.matches),
        len(one.subject_ids),
        len(one.identifier_ids),
        len(one.tip_ids),
        sum(len(match.tip_ids) for match in one.matches),
    )


def _over_budget(found: dict[int, Found]) -> list[int]:
    """The travellers to leave out so that the screening's answer stays within its bounds:
    those matching most (the earlier in the list first among equals), as few as will do."""
    matches = int(settings.SCREENING_MAX_MATCHES)
    caps = (
        matches,
        matches,
        matches,
        int(settings.SCREENING_MAX_TIPS),
        int(settings.SCREENING_MAX_MATCH_TIPS),
    )
    sizes = {index: _sizes(one) for index, one in found.items()}
    totals = [sum(size[k] for size in sizes.values()) for k in range(len(caps))]
    left_out: list[int] = []
    for index in sorted(sizes, key=lambda i: (-sum(sizes[i]), i)):
        if all(total <= cap for total, cap in zip(totals, caps, strict=True)):
            break
        left_out.append(index)
        totals = [total - size for total, size in zip(totals, sizes[index], strict=True)]
    return left_out
