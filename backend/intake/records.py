"""What a parser hands to the importer: one tip per row, or the reasons a row was rejected.

Parsers stream: they yield ``IntakeTip`` or ``RowError`` one at a time and never hold the
whole file. A problem with the file as a whole (wrong encoding, not well-formed XML, entity
expansion, too large, too many rows) raises ``FileRejected`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO, Protocol

__all__ = [
    "DeferredTip",
    "FileRejected",
    "IntakeIdentifier",
    "IntakeSubject",
    "IntakeTip",
    "Parser",
    "RowError",
]


@dataclass(frozen=True, slots=True)
class IntakeIdentifier:
    """An identifier as given in the file (raw; the importer stores the normalised form)."""

    kind: str  # an IdentifierKind value: EMAIL, USERNAME, PHONE, IP_ADDRESS, URL, ...
    value: str
    qualifier: str = ""  # platform, hash algorithm, passport country, payment provider
    event: str = "REPORTED"  # a SightingEvent value
    captured_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IntakeSubject:
    """A person named in the tip."""

    full_name: str
    date_of_birth: date | None = None
    role: str = "SUSPECT"  # a SubjectRole value
    aliases: tuple[str, ...] = ()
    nationality: str = ""


@dataclass(frozen=True, slots=True)
class IntakeTip:
    """One tip of a file, validated and ready to import. ``row`` counts from 1 (CSV: the
    line's data row number, header excluded; JSON: the index in the tips array + 1; XML: the
    report element's position + 1)."""

    row: int
    source_reference: str
    received_at: datetime  # timezone-aware
    category: str  # a TipCategory value
    narrative: str = ""
    priority: int | None = None
    handling_caveat: str = "NONE"
    escalated: bool = False
    identifiers: tuple[IntakeIdentifier, ...] = field(default_factory=tuple)
    subjects: tuple[IntakeSubject, ...] = field(default_factory=tuple)
    #: The record as the source sent it, stored as the tip's ``raw_record`` (a JSON object);
    #: None when the format keeps none (CSV, JSON). Not compared: two tips are equal when
    #: what they say is.
    raw_record: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was rejected: its number, the field at fault, the reason."""

    row: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeferredTip:
    """A record read from the file but not validated yet (``parse(..., deferred=True)``): the
    importer skips a record whose ``digest`` is the one stored with its tip (the source sent
    it before, unchanged), and calls ``build`` for the others. ``reference`` is the source
    reference ``build`` would give the tip (None when it would reject it); ``digest`` is a
    hash of everything the record says, its row number left out."""

    row: int
    reference: str | None
    digest: str
    build: Callable[[], IntakeTip | list[RowError]]


class FileRejected(Exception):
    """The file as a whole cannot be read; nothing of it is imported."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # e.g. BAD_ENCODING, MALFORMED_XML, ENTITIES_FORBIDDEN, TOO_LARGE, ...
        self.message = message


class Parser(Protocol):
    def __call__(
        self, stream: BinaryIO, *, max_rows: int, deferred: bool = False
    ) -> Iterator[IntakeTip | RowError | DeferredTip]: ...
