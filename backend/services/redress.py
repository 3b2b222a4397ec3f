"""Redress on the cleared traveller: DHS TRIP cases, recorded by analysts, and the mark a
later lookup shows when its traveller matches a cleared case.

A redress case belongs to the traveller who sought redress (``backend.models.RedressCase``):
the TRIP case number, their name, date of birth and travel document numbers, the outcome and
its dates. Any later traveller lookup or passenger screening (``backend.services.lookups``,
``screening``) whose traveller matches a CLEARED case, by name (folded and fuzzy, as a lookup
matches names, at the lookup's threshold) with the exact date of birth, or by a passport
number among the case's documents, carries the mark above everything else: the result's
``redress`` lists the cases, and every match's first reason (field REDRESS) says that the
traveller was cleared under that case number, so an officer reads it before the score.

The score is not lowered: a cleared traveller can still be a suspect through an identifier of
their own, and the ranking explains rather than hides. The older suspect-side mark
(``Subject.known_misidentification`` with its case number: this *suspect record* was wrongly
matched before) stays beside it; the two answer different questions (docs/partners.md).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend import models as m
from backend.errors import DuplicateRecord, InvalidInput
from backend.identifiers import IdentifierKind
from backend.names import fold_name
from backend.services.guards import check_lengths, refusing_duplicates
from backend.services.identifiers import normalise_or_raise

__all__ = [
    "MAX_DOCUMENTS",
    "MAX_MARKS",
    "RedressMark",
    "apply_marks",
    "record_redress_case",
    "redress_marks",
    "update_redress_case",
]

#: The most travel document numbers one case holds.
MAX_DOCUMENTS = 10
#: The most redress marks one traveller's result shows (the most recently decided cases): it
#: bounds the result's ``redress`` list and the REDRESS reasons of each match.
MAX_MARKS = 2
_MIN_LETTERS = 3
_UNSET: Any = object()


def _clean_number(case_number: str) -> str:
    number = " ".join(case_number.split()).upper()
    check_lengths(m.RedressCase, {"case_number": number})
    if not number or not number.isprintable():
        raise InvalidInput("give the TRIP case number (printable text)", field="caseNumber")
    return number


def _clean_name(full_name: str) -> str:
    name = " ".join(full_name.split())
    check_lengths(m.RedressCase, {"full_name": name})
    if sum(c.isalpha() for c in fold_name(name)) < _MIN_LETTERS:
        raise InvalidInput(
            f"the traveller's name needs at least {_MIN_LETTERS} letters", field="fullName"
        )
    return name


def _clean_documents(numbers: Sequence[str]) -> list[str]:
    if len(numbers) > MAX_DOCUMENTS:
        raise InvalidInput(
            f"at most {MAX_DOCUMENTS} document numbers, got {len(numbers)}",
            field="documentNumbers",
        )
    cleaned: list[str] = []
    for index, raw in enumerate(numbers):
        norm = normalise_or_raise(
            kind=IdentifierKind.PASSPORT, value=raw, field=f"documentNumbers[{index}]"
        )
        if norm.value not in cleaned:
            cleaned.append(norm.value)
    return cleaned


def _check(case: m.RedressCase) -> None:
    today = timezone.localdate()
    if case.outcome not in m.RedressOutcome.values:
        raise InvalidInput(f"outcome {case.outcome!r} is not a known outcome", field="outcome")
    if case.date_of_birth > today:
        raise InvalidInput("the date of birth is in the future", field="dateOfBirth")
    if case.opened_on > today:
        raise InvalidInput("the case cannot open in the future", field="openedOn")
    if case.outcome == m.RedressOutcome.PENDING:
        if case.decided_on is not None:
            raise InvalidInput("a PENDING case has no decision date", field="decidedOn")
        return
    if case.decided_on is None:
        raise InvalidInput(f"a {case.outcome} case needs its decision date", field="decidedOn")
    if case.decided_on < case.opened_on or case.decided_on > today:
        raise InvalidInput(
            "the decision date must fall between the opening and today", field="decidedOn"
        )


def _duplicate(number: str) -> dict[str, tuple[str, str]]:
    message = f"TRIP case {number} is already recorded"
    return {"backend_redresscase_case_number_key": (message, "caseNumber")}


@transaction.atomic
def record_redress_case(
    *,
    by: m.User,
    case_number: str,
    full_name: str,
    date_of_birth: dt.date,
    document_numbers: Sequence[str] = (),
    outcome: str = m.RedressOutcome.PENDING,
    opened_on: dt.date,
    decided_on: dt.date | None = None,
) -> m.RedressCase:
    """Record a TRIP redress case on the traveller it is about."""
    number = _clean_number(case_number)
    case = m.RedressCase(
        case_number=number,
        full_name=_clean_name(full_name),
        date_of_birth=date_of_birth,
        document_numbers=_clean_documents(document_numbers),
        outcome=outcome,
        opened_on=opened_on,
        decided_on=decided_on,
        recorded_by=by,
    )
    _check(case)
    if m.RedressCase.objects.filter(case_number=number).exists():
        raise DuplicateRecord(f"TRIP case {number} is already recorded", field="caseNumber")
    with refusing_duplicates(_duplicate(number)):
        case.save()
    return case


@transaction.atomic
def update_redress_case(
    *,
    case: m.RedressCase,
    full_name: str | None = None,
    date_of_birth: dt.date | None = None,
    document_numbers: Sequence[str] | None = None,
    outcome: str | None = None,
    opened_on: dt.date | None = None,
    decided_on: dt.date | None = _UNSET,
) -> m.RedressCase:
    """Correct a case or record its outcome (``decided_on``: None clears it, left out keeps
    it). Refused as a whole when the result would be inconsistent."""
    case = m.RedressCase.objects.select_for_update().get(pk=case.pk)
    if full_name is not None:
        case.full_name = _clean_name(full_name)
    if date_of_birth is not None:
        case.date_of_birth = date_of_birth
    if document_numbers is not None:
        case.document_numbers = _clean_documents(document_numbers)
    if outcome is not None:
        case.outcome = outcome
    if opened_on is not None:
        case.opened_on = opened_on
    if decided_on is not _UNSET:
        case.decided_on = decided_on
    _check(case)
    case.save()
    return case


# -- the mark on a later lookup --------------------------------------------------------------


@dataclass(frozen=True)
class RedressMark:
    """A CLEARED redress case the traveller of a lookup matches, and how."""

    case_id: int
    case_number: str
    decided_on: dt.date
    matched_by: str  # NAME_AND_DATE_OF_BIRTH or PASSPORT

    @property
    def reason_detail(self) -> str:
        how = "name and date of birth" if self.matched_by != "PASSPORT" else "passport number"
        return (
            f"the traveller matches, by {how}, DHS TRIP redress case {self.case_number}, "
            f"cleared on {self.decided_on.isoformat()}: this match may be the "
            "misidentification that case resolved; confirm identity against the traveller's "
            "documents before acting on it"
        )


_MARKS_SQL = f"""
WITH q AS (
    SELECT * FROM unnest(%s::integer[], %s::text[], %s::date[]) AS q(ord, name, dob)
), p AS (
    SELECT * FROM unnest(%s::integer[], %s::text[]) AS p(ord, doc)
), hits AS (
    SELECT q.ord, r.id, 'NAME_AND_DATE_OF_BIRTH' AS how
    FROM q JOIN {m.RedressCase._meta.db_table} r
      ON r.date_of_birth = q.dob AND r.outcome = 'CLEARED'
     AND similarity(q.name, r.names_folded) >= %s
    UNION
    SELECT p.ord, r.id, 'PASSPORT'
    FROM p JOIN {m.RedressCase._meta.db_table} r
      ON r.outcome = 'CLEARED' AND p.doc = ANY(r.document_numbers)
)
SELECT h.ord, r.id, r.case_number, r.decided_on, MIN(h.how)
FROM hits h JOIN {m.RedressCase._meta.db_table} r ON r.id = h.id
GROUP BY h.ord, r.id, r.case_number, r.decided_on
ORDER BY h.ord, r.decided_on DESC, r.id
"""


def redress_marks(
    travellers: dict[int, tuple[str, dt.date | None, list[str]]],
) -> dict[int, list[RedressMark]]:
    """The CLEARED cases each traveller matches (``{index: (folded name, date of birth,
    passport numbers)}``), in one statement for all of them; travellers matching none are
    left out; at most ``MAX_MARKS`` each, the most recently decided. A case matched both ways
    says NAME_AND_DATE_OF_BIRTH."""
    named = [(i, name, dob) for i, (name, dob, _) in travellers.items() if name and dob]
    documents = [(i, doc) for i, (_, _, docs) in travellers.items() for doc in docs]
    if not named and not documents:
        return {}
    params = [
        [i for i, _, _ in named],
        [name for _, name, _ in named],
        [dob for _, _, dob in named],
        [i for i, _ in documents],
        [doc for _, doc in documents],
        float(settings.LOOKUP_NAME_THRESHOLD),
    ]
    marks: dict[int, list[RedressMark]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(_MARKS_SQL, params)
        for index, pk, number, decided_on, how in cursor.fetchall():
            if len(marks[index]) < MAX_MARKS:
                marks[index].append(RedressMark(pk, number, decided_on, how))
    return dict(marks)


def apply_marks(matches: list[Any], marks: list[RedressMark], reason: type) -> None:
    """Put the redress reason first in every match's reasons (``reason``: the lookup's
    ``MatchReason``), one per case."""
    if not marks:
        return
    first = [reason(field="REDRESS", how="CLEARED", detail=mark.reason_detail) for mark in marks]
    for match in matches:
        match.reasons[:0] = first
