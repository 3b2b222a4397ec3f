"""The traveller lookup: the partner agency's one way into the data."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
import strawberry_django
from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment

from audit.operations import carries
from backend import models as m
from backend.services.lookups import LookupMatch, LookupOutcome
from permissions.classes import allow
from permissions.compiled import compiles_for, scoped_records
from permissions.markings import load_markings, marking_prefetches
from permissions.matrix import describe
from permissions.scoping import scope_queryset
from resolvers import lookups as resolve
from schema.base import HandlingCaveatEnum
from schema.caveat import CAVEAT

if TYPE_CHECKING:
    from schema.identifier import IdentifierType
    from schema.subject import SubjectType
    from schema.tip import TipType

__all__ = [
    "LookupQuery",
    "MatchReasonType",
    "RedressMark",
    "SharedRecords",
    "TravellerLookupInput",
    "TravellerLookupResult",
    "TravellerMatch",
    "lookup_result",
]

TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
SubjectRef = Annotated["SubjectType", strawberry.lazy("schema.subject")]
IdentifierRef = Annotated["IdentifierType", strawberry.lazy("schema.identifier")]


@strawberry.input(
    description="Who to look for: an e-mail, a username with its platform, a phone number, a "
    "passport number, or a name together with a date of birth (any combination)."
)
class TravellerLookupInput:
    name: str = ""
    date_of_birth: datetime.date | None = None
    email: str = ""
    username: str = ""
    platform: str = ""
    phone: str = ""
    passport: str = ""
    passport_country: str = ""


def _rows(info: Info, model: type, ids: list[int]) -> QuerySet:
    return scope_queryset(model.objects.filter(pk__in=ids), info.context.request.user)


def _selects(selections: list[Any], path: tuple[str, ...]) -> bool:
    """Whether the selection (fragments looked through) asks for the field at ``path``."""
    name, *rest = path
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            if _selects(selection.selections, path):
                return True
        elif selection.name == name and (not rest or _selects(selection.selections, tuple(rest))):
            return True
    return False


def _returned(
    info: Info, model: type, ids: list[int], field: str, selections: list[Any]
) -> dict[int, Any]:
    """The records of ``ids`` a lookup returned, row-scoped, with what their handling markings
    need only when the answer asks for those (the prefetches cost more than the rest of the
    lookup's Python together)."""
    return _loaded(info, model, ids, marked=_selects(selections, (field, "handlingMarkings")))


def _loaded(info: Info, model: type, ids: list[int], *, marked: bool) -> dict[int, Any]:
    if not ids:
        return {}
    user = info.context.request.user
    if compiles_for(user):  # the same scoping and markings, compiled once per process
        found = scoped_records(model, ids, user)
        if marked:
            load_markings(model, found, user)
        return found
    records = _rows(info, model, ids)
    if marked:
        user = info.context.request.user
        records = records.prefetch_related(*marking_prefetches(model, user))
    return {record.pk: record for record in records}


_IDS_OF = {m.Subject: "subject_ids", m.Identifier: "identifier_ids", m.Tip: "tip_ids"}
#: What the lookup's statement reads of each tip it returns.
_READ_TIP_FIELDS = ["id", "handling_caveat"]


def _only_ids(selections: list[Any]) -> bool:
    """Whether the selection (fragments looked through) asks for nothing but ``id`` (and
    ``__typename``)."""
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            if not _only_ids(selection.selections):
                return False
        elif selection.name not in ("id", "__typename"):
            return False
    return True


class SharedRecords:
    """The records of several lookup results answered together (a passenger screening's):
    each model's, for all the results at once, loaded (row-scoped) on first ask, so that the
    answer's queries do not grow with the number of results."""

    def __init__(self, results: list[TravellerLookupResult]) -> None:
        self.results = results
        self.loaded: dict[tuple[type, bool], dict[int, Any]] = {}

    def records(self, info: Info, model: type, *, marked: bool) -> dict[int, Any]:
        """Every result's records of ``model`` (with their markings' prefetches if
        ``marked``), by id, in the model's order."""
        key = (model, marked)
        if key not in self.loaded:
            ids = sorted({pk for r in self.results for pk in getattr(r, _IDS_OF[model])})
            self.loaded[key] = _loaded(info, model, ids, marked=marked)
        return self.loaded[key]


@strawberry.type(
    name="MatchReason",
    description="Why a match was made: which field matched and how.",
)
class MatchReasonType:
    field: str = strawberry.field(
        description="NAME, DATE_OF_BIRTH, EMAIL, USERNAME, PHONE or PASSPORT."
    )
    how: str = strawberry.field(description="EXACT, or FUZZY for a similar name.")
    detail: str = strawberry.field(
        description="The matched value, or the name similarity and the name it matched."
    )


def _matched_record(match: TravellerMatch) -> list[tuple[type, int | None]]:
    """The person (or identifier) a match is about: its score, reasons (the name matched),
    redress mark and markings are that record's data, whichever of them an answer holds."""
    return [(m.Subject, match.subject_id), (m.Identifier, match.identifier_id)]


def _matched_records(result: TravellerLookupResult) -> list[tuple[type, int]]:
    return [(m.Subject, pk) for pk in result.subject_ids] + [
        (m.Identifier, pk) for pk in result.identifier_ids
    ]


def _matched_records_and_tips(result: TravellerLookupResult) -> list[tuple[type, int]]:
    return _matched_records(result) + [(m.Tip, pk) for pk in result.tip_ids]


@carries({"*": _matched_record})
@strawberry.type(
    description="One ranked hit of a traveller lookup: a person, or an identifier no returned "
    "person holds, with the reasons it matched and the tips it leads to."
)
class TravellerMatch:
    score: float = strawberry.field(
        description="How strongly the criteria point at this record, 0 to 1; matches come best "
        "first."
    )
    reasons: list[MatchReasonType] = strawberry.field(description="Why it matched.")
    known_misidentification: bool = strawberry.field(
        description="The person is marked through redress as wrongly matched before: treat "
        "the match with care."
    )
    redress_case_number: str | None = strawberry.field(
        description="The redress (DHS TRIP) case number of that mark; null when unmarked."
    )
    handling_markings: list[HandlingCaveatEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The handling caveats of this match's tips, which travel with it (e.g. "
        "LAW_ENFORCEMENT_SENSITIVE); empty when none. The response's "
        "extensions.handlingMarkings gives each one's handling rule."
    )
    subject: SubjectRef | None = strawberry.field(
        description="The person matched; null for an identifier-only match."
    )
    identifier: IdentifierRef | None = strawberry.field(
        description="The identifier matched, for an identifier-only match; else null."
    )
    tips: list[TipRef] = strawberry.field(
        description="The returned tips naming this person or containing this identifier."
    )
    subject_id: strawberry.Private[int | None] = None
    identifier_id: strawberry.Private[int | None] = None


@strawberry.type(
    description="A DHS TRIP redress case on the traveller looked up: they were cleared, so a "
    "match may be the misidentification the case resolved."
)
class RedressMark:
    case_number: str = strawberry.field(description="The TRIP case number.")
    decided_on: datetime.date = strawberry.field(description="When the traveller was cleared.")
    matched_by: str = strawberry.field(
        description="How the traveller matches the case: NAME_AND_DATE_OF_BIRTH or PASSPORT."
    )


# Which criteria matched tells that the returned people and identifiers exist; whether a
# returned tip is under active investigation, and whose, tells it of them and of the tips.
@carries(
    {
        "matchedOn": _matched_records,
        "relevantToInvestigation": _matched_records_and_tips,
        "investigationContacts": _matched_records_and_tips,
    }
)
@strawberry.type(description="What a traveller lookup found, as far as the caller may see it.")
class TravellerLookupResult:
    redress: list[RedressMark] = strawberry.field(
        description="Read this first: the CLEARED DHS TRIP redress cases the traveller "
        "matches (by name and date of birth, or passport), newest decision first; empty when "
        "none. Every match's first reason (field REDRESS) repeats it."
    )
    lookup_id: relay.GlobalID = strawberry.field(description="The recorded lookup.")
    matched_on: list[str] = strawberry.field(
        description="Which criteria matched a returned record: EMAIL, USERNAME, PHONE, "
        "PASSPORT, NAME_AND_DATE_OF_BIRTH. A criterion that matched only records the caller "
        "may not learn is not named. Empty when nothing matched."
    )
    relevant_to_investigation: bool = strawberry.field(
        description="True when a returned tip belongs to an active lead."
    )
    investigation_contacts: list[str] = strawberry.field(
        description="Contact points of the offices whose active leads the match touches."
    )
    dissemination_caveat: str = strawberry.field(
        description="The rule that comes with every result shown to the partner agency."
    )
    tip_ids: strawberry.Private[list[int]]
    subject_ids: strawberry.Private[list[int]]
    identifier_ids: strawberry.Private[list[int]]
    found: strawberry.Private[list[LookupMatch]]
    #: The caveat of each returned tip, NONE included (read by schema.caveat for the
    #: response's extensions.handlingMarkings: the tips need no markings query of their own).
    marked_tips: strawberry.Private[dict[int, str]]
    #: The records of all the results answered with this one (a screening's), loaded together.
    shared: strawberry.Private[SharedRecords | None] = None

    def _records(
        self, info: Info, model: type, ids: list[int], field: str, selections: list[Any]
    ) -> dict[int, Any]:
        """The records of ``ids`` (some of this result's), from the shared records if any."""
        if self.shared is None:
            return _returned(info, model, ids, field, selections)
        marked = _selects(selections, (field, "handlingMarkings"))
        records = self.shared.records(info, model, marked=marked)
        return {pk: records[pk] for pk in ids if pk in records}

    def _listed(self, info: Info, model: type, ids: list[int]) -> Any:
        """A flat list's records: a queryset for the optimizer, or the shared records."""
        if self.shared is None:
            if not ids:
                return []  # nothing returned: no scoping to build, no query
            asked = [selection for field in info.selected_fields for selection in field.selections]
            if model is m.Tip and _only_ids(asked):
                return self._tips_as_read(ids)
            # the type's get_queryset (schema.base.ScopedNode) row-scopes it, once
            return model.objects.filter(pk__in=ids)
        records = self.shared.records(
            info,
            model,
            marked=_selects(info.selected_fields, (info.field_name, "handlingMarkings")),
        )
        mine = set(ids)
        return [record for pk, record in records.items() if pk in mine]

    def _tips_as_read(self, ids: list[int]) -> list[m.Tip]:
        """The tips of ``ids`` as the lookup's statement read them (id and caveat, the rest
        deferred), for an answer that asks only their ids: that statement returned only tips
        within the caller's reach, and the lookup has just disclosed each one to them, so a
        query row-scoping the ids again would name the same tips. Only the tips it read
        (``marked_tips``) are listed."""
        return [
            m.Tip.from_db(DEFAULT_DB_ALIAS, _READ_TIP_FIELDS, (pk, self.marked_tips[pk]))
            for pk in ids
            if pk in self.marked_tips
        ]

    @strawberry.field(
        description="Every hit ranked by score, best first, each with its reasons, redress "
        "marks and tips (as far as the caller may see them)."
    )
    def matches(self, info: Info) -> list[TravellerMatch]:
        # one query per model asked for, for all matches together, however many there are
        asked = info.selected_fields[0].selections
        # (a person's match is about the person; only identifier-only matches need theirs)
        subject_ids = [x.subject_id for x in self.found if x.subject_id is not None]
        identifier_ids = [x.identifier_id for x in self.found if x.identifier_id is not None]
        subjects = self._records(info, m.Subject, subject_ids, "subject", asked)
        identifiers = self._records(info, m.Identifier, identifier_ids, "identifier", asked)
        tips = (
            self._records(info, m.Tip, self.tip_ids, "tips", asked)
            if _selects(asked, ("tips",))
            else {}
        )
        return [
            TravellerMatch(
                score=match.score,
                reasons=[
                    MatchReasonType(field=r.field, how=r.how, detail=r.detail)
                    for r in match.reasons
                ],
                known_misidentification=match.known_misidentification,
                redress_case_number=match.redress_case_number or None,
                handling_markings=[
                    HandlingCaveatEnum(caveat)  # type: ignore[misc]
                    for caveat in match.handling_markings
                ],
                subject=subjects.get(match.subject_id),  # type: ignore[arg-type]
                identifier=identifiers.get(match.identifier_id),  # type: ignore[arg-type]
                tips=[tips[pk] for pk in match.tip_ids if pk in tips],
                subject_id=match.subject_id,
                identifier_id=match.identifier_id,
            )
            for match in self.found
            if match.subject_id in subjects or match.identifier_id in identifiers
        ]

    @strawberry_django.field(
        description="People matched (for investigators, only suspects on tips they may see)."
    )
    def subjects(self, info: Info) -> list[SubjectRef]:
        return self._listed(info, m.Subject, self.subject_ids)

    @strawberry_django.field(description="Identifiers matched.")
    def identifiers(self, info: Info) -> list[IdentifierRef]:
        return self._listed(info, m.Identifier, self.identifier_ids)

    @strawberry_django.field(description="Tips naming the people or containing the identifiers.")
    def tips(self, info: Info) -> list[TipRef]:
        return self._listed(info, m.Tip, self.tip_ids)


def lookup_result(outcome: LookupOutcome) -> TravellerLookupResult:
    """The answer of a recorded lookup."""
    return TravellerLookupResult(
        redress=[
            RedressMark(
                case_number=mark.case_number, decided_on=mark.decided_on, matched_by=mark.matched_by
            )
            for mark in outcome.redress
        ],
        lookup_id=relay.GlobalID("TravellerLookup", str(outcome.lookup.pk)),
        matched_on=outcome.matched_on,
        relevant_to_investigation=outcome.relevant_to_investigation,
        investigation_contacts=outcome.investigation_contacts,
        dissemination_caveat=CAVEAT,
        tip_ids=outcome.tip_ids,
        subject_ids=outcome.subject_ids,
        identifier_ids=outcome.identifier_ids,
        found=outcome.matches,
        marked_tips={
            pk: outcome.tip_caveats.get(pk, m.HandlingCaveat.NONE) for pk in outcome.tip_ids
        },
    )


@strawberry.type
class LookupQuery:
    @strawberry.field(
        extensions=allow("Query.travellerLookup"),
        description=describe(
            "Query.travellerLookup",
            "Look a traveller up by exact identifiers, or by name (fuzzy: case, accents and "
            "scripts folded, similar spellings and aliases) with the exact date of birth. "
            "Refused with INVALID_INPUT when empty or too broad: no criteria, a name without "
            "date of birth or with fewer than 3 letters, or more matching tips than the cap. "
            "Every lookup is recorded; an investigator may afterwards open only what it "
            "returned, for DISCLOSURE_REOPEN_DAYS (default 30 days), then must look it up "
            "again. Investigators learn about people only where they are a suspect on a tip "
            "they may see: victims, witnesses, reporting persons and others are never "
            "matched, counted or named in matchedOn or reasons, by name, alias or identifier; "
            "an identifier is found when it was seen in a tip they may see or belongs to such "
            "a suspect.",
        ),
    )
    def traveller_lookup(self, info: Info, input: TravellerLookupInput) -> TravellerLookupResult:
        outcome = resolve.traveller_lookup(
            info,
            name=input.name,
            date_of_birth=input.date_of_birth,
            email=input.email,
            username=input.username,
            platform=input.platform,
            phone=input.phone,
            passport=input.passport,
            passport_country=input.passport_country,
        )
        return lookup_result(outcome)
