"""Passenger-list screening: every traveller of a flight or crossing looked up at once."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.services.screening import MAX_REFERENCE_LENGTH, ScreenedTraveller
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import screening as resolve
from schema.base import ErrorCode
from schema.caveat import CAVEAT
from schema.lookup import SharedRecords, TravellerLookupInput, TravellerLookupResult, lookup_result

__all__ = [
    "PassengerError",
    "PassengerResult",
    "ScreenPassengersInput",
    "ScreenPassengersResult",
    "ScreenedCriteria",
    "ScreeningQuery",
]


@strawberry.input(description="A passenger list to screen: its flight or crossing, its travellers.")
class ScreenPassengersInput:
    reference: str = strawberry.field(
        description="The flight or crossing the list is for (carrier and number, date, port: "
        f"free text, at most {MAX_REFERENCE_LENGTH} characters). Recorded with every "
        "traveller's lookup."
    )
    travellers: list[TravellerLookupInput] = strawberry.field(
        description="The travellers, 1 to SCREENING_MAX_TRAVELLERS (default 500), each as for "
        "travellerLookup: a name with the date of birth, and any identifiers (passport, "
        "e-mail, phone, username with platform). Answered in this order."
    )


@strawberry.type(
    description="The criteria a traveller was looked up by, normalised as their lookup records "
    "them: the name folded (case, accents and script), identifiers as they are matched. "
    "Criteria not given are null."
)
class ScreenedCriteria:
    name: str | None = None
    date_of_birth: datetime.date | None = None
    email: str | None = None
    username: str | None = None
    platform: str | None = None
    phone: str | None = None
    passport: str | None = None
    passport_country: str | None = None


def _echo(normalised: dict[str, Any]) -> ScreenedCriteria:
    def pair(key: str) -> tuple[str | None, str | None]:
        value = normalised.get(key)
        if isinstance(value, list):
            return value[0], value[1]
        return value, None

    username, platform = pair("username")
    passport, country = pair("passport")
    born = normalised.get("dateOfBirth")
    return ScreenedCriteria(
        name=normalised.get("name"),
        date_of_birth=datetime.date.fromisoformat(born) if born else None,
        email=normalised.get("email"),
        username=username,
        platform=platform,
        phone=normalised.get("phone"),
        passport=passport,
        passport_country=country,
    )


@strawberry.type(
    description="Why a traveller of a screened list was not screened: nothing was looked up or "
    "recorded for them. The rest of the list was screened all the same."
)
class PassengerError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None,
        description="The traveller's input field at fault (as in TravellerLookupInput), or "
        "input for the traveller as a whole.",
    )


@strawberry.type(description="One traveller of a screened list, in the list's order.")
class PassengerResult:
    index: int = strawberry.field(description="The traveller's place in the list, from 0.")
    criteria: ScreenedCriteria | None = strawberry.field(
        description="What the traveller was looked up by, normalised; null when their "
        "criteria were refused (see error)."
    )
    lookup: TravellerLookupResult | None = strawberry.field(
        description="The traveller's lookup, as travellerLookup answers it (ranked matches "
        "with their reasons, within the same limits of what the caller may learn); null when "
        "the traveller was not screened."
    )
    error: PassengerError | None = strawberry.field(
        description="Why the traveller was not screened: criteria refused as travellerLookup "
        "refuses them (INVALID_INPUT, INVALID_IDENTIFIER, with the field), more tips than "
        "the lookup cap, or more than the screening's bounds allow for the list (look them "
        "up on their own); null when screened."
    )


@strawberry.type(description="A screened passenger list.")
class ScreenPassengersResult:
    screening_id: strawberry.ID = strawberry.field(
        description="The screening: every traveller's recorded lookup carries it, with the "
        "reference and the traveller's place in the list."
    )
    reference: str = strawberry.field(
        description="The flight or crossing reference as recorded (spaces collapsed, upper case)."
    )
    screened: int = strawberry.field(description="Travellers looked up (each recorded).")
    with_matches: int = strawberry.field(description="Screened travellers with any match.")
    with_errors: int = strawberry.field(description="Travellers not screened (see error).")
    dissemination_caveat: str = strawberry.field(
        description="The rule that comes with every result shown to the partner agency."
    )
    results: list[PassengerResult] = strawberry.field(
        description="Every traveller, in the order of the list."
    )


def _passenger(traveller: ScreenedTraveller, shared: SharedRecords) -> PassengerResult:
    error = traveller.error
    lookup = None
    if traveller.outcome is not None:
        lookup = lookup_result(traveller.outcome)
        lookup.shared = shared
    return PassengerResult(
        index=traveller.index,
        criteria=_echo(traveller.criteria) if traveller.criteria is not None else None,
        lookup=lookup,
        error=PassengerError(code=ErrorCode(error.code), message=error.message, field=error.field)
        if error is not None
        else None,
    )


@strawberry.type
class ScreeningQuery:
    @strawberry.field(
        extensions=allow("Query.screenPassengers"),
        description=describe(
            "Query.screenPassengers",
            "Screen a passenger list: look every traveller up as travellerLookup does (the "
            "same criteria and checks, the same ranked and explained matches, the same "
            "limits of what the caller may learn) and answer for each, in the list's order. "
            "One lookup is recorded per traveller screened, with the reference and the "
            "screening's id. A traveller whose criteria are refused, or who matches more "
            "than the lookup's tip cap, gets an error of their own and the rest is screened. "
            "What one screening answers is bounded over all its travellers (by default 1000 "
            "matches, 2000 tips, 5000 tips listed under matches): past that, the travellers "
            "matching most are not screened, each with an error saying to look them up on "
            "their own. Refused with INVALID_INPUT (and the field) for an empty or over-long "
            "reference, and for no traveller or more than SCREENING_MAX_TRAVELLERS (default "
            "500).",
        ),
    )
    def screen_passengers(self, info: Info, input: ScreenPassengersInput) -> ScreenPassengersResult:
        screening = resolve.screen_passengers(
            info,
            reference=input.reference,
            travellers=[dataclasses.asdict(traveller) for traveller in input.travellers],
        )
        results: list[TravellerLookupResult] = []
        shared = SharedRecords(results)
        passengers = [_passenger(traveller, shared) for traveller in screening.travellers]
        results += [p.lookup for p in passengers if p.lookup is not None]
        return ScreenPassengersResult(
            screening_id=strawberry.ID(screening.id),
            reference=screening.reference,
            screened=screening.screened,
            with_matches=screening.with_matches,
            with_errors=screening.errors,
            dissemination_caveat=CAVEAT,
            results=passengers,
        )
