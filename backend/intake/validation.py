"""Row validation shared by the CSV, JSON and XML parsers.

Every format reads one record into plain values (:class:`RawTip`, :class:`RawIdentifier`,
:class:`RawSubject`), and :func:`build_tip` turns it into an :class:`IntakeTip` or into one
:class:`RowError` per problem. Field names in errors are the format's own (a CSV column, a JSON
path such as ``identifiers[2].value``, an XML element path), so a user can find the cell.

This module needs no database: the choice values and limits are ``backend.vocabulary``'s, the
same the models, the services and the importer use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from backend.identifiers import IdentifierKind, InvalidIdentifier
from backend.intake.records import (
    DeferredTip,
    IntakeIdentifier,
    IntakeSubject,
    IntakeTip,
    RowError,
)
from backend.services.identifiers import normalise_cached
from backend.vocabulary import (
    MAX_IDENTIFIER_VALUE,
    MAX_NAME,
    MAX_QUALIFIER,
    MAX_REFERENCE,
    HandlingCaveat,
    SightingEvent,
    SubjectRole,
    TipCategory,
)

__all__ = [
    "CATEGORIES",
    "HANDLING_CAVEATS",
    "SIGHTING_EVENTS",
    "SUBJECT_ROLES",
    "RawIdentifier",
    "RawSubject",
    "RawTip",
    "build_tip",
    "built",
    "event_for",
    "parse_category",
    "parse_datetime",
]

CATEGORIES: tuple[str, ...] = tuple(TipCategory.values)
HANDLING_CAVEATS: tuple[str, ...] = tuple(HandlingCaveat.values)
SIGHTING_EVENTS: tuple[str, ...] = tuple(SightingEvent.values)
SUBJECT_ROLES: tuple[str, ...] = tuple(SubjectRole.values)
#: Characters no PostgreSQL text can hold: NUL and unpaired surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _key(text: str) -> str:
    """Compare labels loosely: case-insensitive, any run of punctuation/space is one space."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


# Synonyms, including every CyberTipline incidentType. Keys are passed through _key().
_CATEGORY_SYNONYMS_RAW: dict[str, str] = {
    "child pornography (possession, manufacture, and distribution)": "DISTRIBUTION",
    "child pornography": "DISTRIBUTION",
    "csam": "DISTRIBUTION",
    "csam distribution": "DISTRIBUTION",
    "csam possession": "POSSESSION",
    "csam production": "PRODUCTION",
    "manufacture": "PRODUCTION",
    "online enticement of children for sexual acts": "ENTICEMENT",
    "online enticement": "ENTICEMENT",
    "child sex tourism": "CHILD_SEX_TOURISM",
    "child sex tourism / travel": "CHILD_SEX_TOURISM",
    "travel": "CHILD_SEX_TOURISM",
    "child sex trafficking": "OTHER",
    "child prostitution": "OTHER",
    "child sexual molestation": "OTHER",
    "child sexual molestation (not by family member)": "OTHER",
    "unsolicited obscene material sent to a child": "OTHER",
    "misleading domain name": "OTHER",
    "misleading words or digital images on the internet": "OTHER",
}
_CATEGORIES_BY_KEY: dict[str, str] = {_key(value): value for value in CATEGORIES}
_CATEGORIES_BY_KEY.update({_key(k): v for k, v in _CATEGORY_SYNONYMS_RAW.items()})

# CyberTipline eventName values and other spellings of sighting events.
_EVENT_SYNONYMS: dict[str, str] = {
    "log in": "LOGIN",
    "logon": "LOGIN",
    "sign in": "LOGIN",
    "signin": "LOGIN",
    "registration": "REGISTRATION",
    "register": "REGISTRATION",
    "account registration": "REGISTRATION",
    "signup": "REGISTRATION",
    "sign up": "REGISTRATION",
    "upload": "UPLOAD",
    "message": "MESSAGE",
    "purchase": "PAYMENT",
}
_EVENTS_BY_KEY: dict[str, str] = {_key(value): value for value in SIGHTING_EVENTS}
_EVENTS_BY_KEY.update({_key(k): v for k, v in _EVENT_SYNONYMS.items()})

_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})

_DATETIME_HINT = "expected an ISO 8601 date-time such as 2024-05-01T12:30:00Z"


class _Invalid(ValueError):
    """Internal: a value is wrong; the message is the reason shown to the user."""


def parse_category(value: str) -> str:
    """A TipCategory value for ``value`` (case-insensitive, synonyms and CyberTipline types)."""
    found = _CATEGORIES_BY_KEY.get(_key(value))
    if found is None:
        allowed = ", ".join(CATEGORIES)
        raise _Invalid(f"unknown category {value!r} (expected one of: {allowed})")
    return found


def event_for(value: str) -> str | None:
    """The SightingEvent value for ``value`` (case-insensitive, with synonyms), or None."""
    return _EVENTS_BY_KEY.get(_key(value))


def parse_datetime(value: str) -> datetime:
    """An aware datetime from ISO 8601 text; a naive time is taken as UTC."""
    text = value.strip()
    if len(text) < 11 or text[10] not in "Tt ":
        raise _Invalid(f"{text!r} is not a date-time: {_DATETIME_HINT}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{text!r} is not a date-time: {_DATETIME_HINT}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_date(value: str) -> date:
    text = value.strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise _Invalid(f"{text!r} is not a date: expected YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(text)
    except ValueError as exc:
        raise _Invalid(f"{text!r} is not a valid date ({exc})") from None
    if parsed.year < 1900:
        raise _Invalid(f"{text!r} is before 1900")
    if parsed > datetime.now(UTC).date():
        raise _Invalid(f"{text!r} is in the future")
    return parsed


def _text(value: object) -> str | None:
    """A stripped string, or None when absent/empty. Numbers are accepted as text."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid("must be a string, not a boolean")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {type(value).__name__}")
    if found := _UNSTORABLE.search(value):
        what = "a NUL character" if found.group() == "\x00" else "an unpaired surrogate"
        raise _Invalid(f"contains {what}, which text may not contain")
    value = value.strip()
    return value or None


def _at_most(value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise _Invalid(f"is longer than {limit} characters")


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    key = _key(value).replace(" ", "_").upper()
    if key not in allowed:
        raise _Invalid(f"unknown {what} {value!r} (expected one of: {', '.join(allowed)})")
    return key


class _FieldNames:
    """How a raw part names its fields in errors: an explicit ``<part>_field`` (CSV columns),
    else ``<where>.<part>``."""

    __slots__ = ()
    where: str

    def name(self, part: str) -> str:
        explicit = getattr(self, f"{part}_field")
        if explicit:
            return explicit
        return f"{self.where}.{part}" if self.where else part


@dataclass(slots=True)
class RawIdentifier(_FieldNames):
    """An identifier as read from a file, before validation.

    ``where`` is the prefix used in error field names (``identifiers[2]`` gives
    ``identifiers[2].value``); a format may instead name each field itself (CSV columns).
    """

    kind: object
    value: object
    qualifier: object = None
    event: object = None
    captured_at: object = None
    where: str = ""
    kind_field: str | None = None
    value_field: str | None = None
    event_field: str | None = None
    captured_at_field: str | None = None


@dataclass(slots=True)
class RawSubject(_FieldNames):
    full_name: object
    date_of_birth: object = None
    role: object = None
    aliases: object = None
    nationality: object = None
    where: str = ""
    full_name_field: str | None = None
    date_of_birth_field: str | None = None
    role_field: str | None = None
    aliases_field: str | None = None
    nationality_field: str | None = None


@dataclass(slots=True)
class RawTip:
    row: int
    source_reference: object = None
    received_at: object = None
    category: object = None
    narrative: object = None
    priority: object = None
    handling_caveat: object = None
    escalated: object = None
    identifiers: list[RawIdentifier] = field(default_factory=list)
    subjects: list[RawSubject] = field(default_factory=list)
    # error field names for the top-level fields, when the format calls them otherwise
    names: dict[str, str] = field(default_factory=dict)
    # problems the format reader found itself (e.g. a JSON value of the wrong type)
    errors: list[RowError] = field(default_factory=list)
    # the record as received, passed on unchecked as IntakeTip.raw_record
    raw_record: dict[str, Any] | None = None


class _Collector:
    def __init__(self, row: int) -> None:
        self.row = row
        self.errors: list[RowError] = []

    def add(self, name: str, reason: str) -> None:
        self.errors.append(RowError(self.row, name, reason))


def _build_identifier(raw: RawIdentifier, out: _Collector) -> IntakeIdentifier | None:
    ok = True
    try:
        kind_text = _text(raw.kind)
    except _Invalid as exc:
        out.add(raw.name("kind"), str(exc))
        return None
    if kind_text is None:
        out.add(raw.name("kind"), "required")
        return None
    kind_key = _key(kind_text).replace(" ", "_").upper()
    try:
        kind = IdentifierKind(kind_key)
    except ValueError:
        allowed = ", ".join(k.value for k in IdentifierKind)
        out.add(raw.name("kind"), f"unknown identifier kind {kind_text!r} (expected: {allowed})")
        return None
    value: str | None = None
    qualifier = ""
    try:
        value = _text(raw.value)
        _at_most(value, MAX_IDENTIFIER_VALUE)
        qualifier = _text(raw.qualifier) or ""
        _at_most(qualifier, MAX_QUALIFIER)
    except _Invalid as exc:
        out.add(raw.name("value"), str(exc))
        ok = False
    if ok:
        if value is None:
            out.add(raw.name("value"), "required")
            ok = False
        else:
            try:
                normalise_cached(kind, value, qualifier=qualifier)
            except InvalidIdentifier as exc:
                out.add(raw.name("value"), str(exc))
                ok = False
    event = "REPORTED"
    try:
        event_text = _text(raw.event)
        if event_text is not None:
            event = event_for(event_text) or ""
            if not event:
                allowed = ", ".join(SIGHTING_EVENTS)
                raise _Invalid(f"unknown event {event_text!r} (expected one of: {allowed})")
    except _Invalid as exc:
        out.add(raw.name("event"), str(exc))
        ok = False
    captured_at = None
    try:
        captured_text = _text(raw.captured_at)
        if captured_text is not None:
            captured_at = parse_datetime(captured_text)
    except _Invalid as exc:
        out.add(raw.name("captured_at"), str(exc))
        ok = False
    if not ok or value is None:
        return None
    return IntakeIdentifier(
        kind=kind.value, value=value, qualifier=qualifier, event=event, captured_at=captured_at
    )


def _build_subject(raw: RawSubject, out: _Collector) -> IntakeSubject | None:
    ok = True
    name = None
    try:
        name = _text(raw.full_name)
        if name is None:
            raise _Invalid("required")
        name = " ".join(name.split())
        if len(name) > MAX_NAME:
            raise _Invalid(f"is longer than {MAX_NAME} characters")
    except _Invalid as exc:
        out.add(raw.name("full_name"), str(exc))
        ok = False
    dob = None
    try:
        dob_text = _text(raw.date_of_birth)
        if dob_text is not None:
            dob = parse_date(dob_text)
    except _Invalid as exc:
        out.add(raw.name("date_of_birth"), str(exc))
        ok = False
    role = "SUSPECT"
    try:
        role_text = _text(raw.role)
        if role_text is not None:
            role = _choice(role_text, SUBJECT_ROLES, "role")
    except _Invalid as exc:
        out.add(raw.name("role"), str(exc))
        ok = False
    aliases: tuple[str, ...] = ()
    try:
        if raw.aliases is not None:
            if isinstance(raw.aliases, str):
                items: list[object] = [raw.aliases]
            elif isinstance(raw.aliases, list | tuple):
                items = list(raw.aliases)
            else:
                raise _Invalid("must be a list of strings")
            cleaned = [_text(item) for item in items]
            aliases = tuple(" ".join(a.split()) for a in cleaned if a)
            for alias in aliases:
                _at_most(alias, MAX_NAME)
    except _Invalid as exc:
        out.add(raw.name("aliases"), str(exc))
        ok = False
    nationality = ""
    try:
        nat_text = _text(raw.nationality)
        if nat_text is not None:
            if not re.fullmatch(r"[A-Za-z]{2}", nat_text):
                raise _Invalid(f"{nat_text!r} is not an ISO 3166-1 alpha-2 country code")
            nationality = nat_text.upper()
    except _Invalid as exc:
        out.add(raw.name("nationality"), str(exc))
        ok = False
    if not ok or name is None:
        return None
    return IntakeSubject(
        full_name=name, date_of_birth=dob, role=role, aliases=aliases, nationality=nationality
    )


def build_tip(raw: RawTip) -> IntakeTip | list[RowError]:
    """Validate one record: an IntakeTip, or every problem found (one RowError each)."""
    out = _Collector(raw.row)
    out.errors.extend(raw.errors)

    def name(part: str) -> str:
        return raw.names.get(part, part)

    reference = None
    try:
        reference = _text(raw.source_reference)
        if reference is None:
            raise _Invalid("required")
        if len(reference) > MAX_REFERENCE:
            raise _Invalid(f"is longer than {MAX_REFERENCE} characters")
    except _Invalid as exc:
        out.add(name("source_reference"), str(exc))
    received_at = None
    try:
        received_text = _text(raw.received_at)
        if received_text is None:
            raise _Invalid("required")
        received_at = parse_datetime(received_text)
    except _Invalid as exc:
        out.add(name("received_at"), str(exc))
    category = None
    try:
        category_text = _text(raw.category)
        if category_text is None:
            raise _Invalid("required")
        category = parse_category(category_text)
    except _Invalid as exc:
        out.add(name("category"), str(exc))
    narrative = ""
    try:
        narrative = _text(raw.narrative) or ""
    except _Invalid as exc:
        out.add(name("narrative"), str(exc))
    priority = None
    try:
        if raw.priority is not None and raw.priority != "":
            priority_value = raw.priority
            if isinstance(priority_value, str):
                priority_value = priority_value.strip()
                if not priority_value.isdigit():
                    raise _Invalid(f"{priority_value!r} is not a whole number from 1 to 5")
                priority_value = int(priority_value)
            if isinstance(priority_value, bool) or not isinstance(priority_value, int):
                raise _Invalid(f"{raw.priority!r} is not a whole number from 1 to 5")
            if not 1 <= priority_value <= 5:
                raise _Invalid(f"{priority_value} is out of range (1 highest to 5 lowest)")
            priority = priority_value
    except _Invalid as exc:
        out.add(name("priority"), str(exc))
    caveat = "NONE"
    try:
        caveat_text = _text(raw.handling_caveat)
        if caveat_text is not None:
            caveat = _choice(caveat_text, HANDLING_CAVEATS, "handling caveat")
    except _Invalid as exc:
        out.add(name("handling_caveat"), str(exc))
    escalated = False
    try:
        if isinstance(raw.escalated, bool):
            escalated = raw.escalated
        else:
            escalated_text = _text(raw.escalated)
            if escalated_text is not None:
                lowered = escalated_text.lower()
                if lowered in _TRUE:
                    escalated = True
                elif lowered not in _FALSE:
                    raise _Invalid(f"{escalated_text!r} is not a boolean (true/false, yes/no)")
    except _Invalid as exc:
        out.add(name("escalated"), str(exc))

    identifiers = [_build_identifier(item, out) for item in raw.identifiers]
    subjects = [_build_subject(item, out) for item in raw.subjects]

    if out.errors:
        return out.errors
    assert reference is not None and received_at is not None and category is not None
    return IntakeTip(
        row=raw.row,
        source_reference=reference,
        received_at=received_at,
        category=category,
        narrative=narrative,
        priority=priority,
        handling_caveat=caveat,
        escalated=escalated,
        identifiers=tuple(i for i in identifiers if i is not None),
        subjects=tuple(s for s in subjects if s is not None),
        raw_record=raw.raw_record,
    )


#: Part of every record digest: raise it when what a record means changes (a format maps an
#: element it did not, a rule rejects what it accepted), so that a re-sent record the last
#: version skipped is read again.
DIGEST_VERSION = 1


def record_digest(raw: RawTip) -> str:
    """A hash of everything ``raw`` says (the row number left out: the same record elsewhere in
    a file is the same record): the format's fields as read, its identifiers and subjects, the
    raw record. ``repr`` is exact for the values a reader gives (text, numbers, booleans, None,
    lists and dicts in file order) and escapes what UTF-8 cannot hold."""
    said = (
        DIGEST_VERSION,
        raw.source_reference,
        raw.received_at,
        raw.category,
        raw.narrative,
        raw.priority,
        raw.handling_caveat,
        raw.escalated,
        raw.identifiers,
        raw.subjects,
        raw.names,
        raw.raw_record,
    )
    return hashlib.blake2b(repr(said).encode(), digest_size=16).hexdigest()


def _reference(raw: RawTip) -> str | None:
    """The source reference ``build_tip`` gives ``raw``'s tip, or None when it rejects it."""
    try:
        reference = _text(raw.source_reference)
    except _Invalid:
        return None
    if reference is None or len(reference) > MAX_REFERENCE:
        return None
    return reference


def built(raw: RawTip, *, deferred: bool = False) -> Iterator[IntakeTip | RowError | DeferredTip]:
    """What a parser yields for one record: its IntakeTip or its RowErrors (``build_tip``), or,
    when ``deferred``, a ``DeferredTip`` that builds it on demand (a record whose reader already
    found a problem is built at once: it is rejected whatever is stored)."""
    if deferred and not raw.errors:
        yield DeferredTip(raw.row, _reference(raw), record_digest(raw), partial(build_tip, raw))
        return
    result = build_tip(raw)
    if isinstance(result, list):
        yield from result
    else:
        yield result
