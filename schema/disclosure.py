"""The accounting of disclosures (Privacy Act): for any record or person, every disclosure of
it to a partner: to whom, when, through which lookup, and why. Also a CSV download,
``GET /disclosures/<record id>.csv`` (``audit.accounting``)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from audit.operations import carries
from backend import models as m
from backend.registry import type_name
from backend.services import disclosures as service
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import disclosures as resolve

__all__ = [
    "DisclosureConcerns",
    "DisclosureConnection",
    "DisclosurePurpose",
    "DisclosureQuery",
    "DisclosureRedissemination",
    "DisclosureRow",
]


@strawberry.enum(description="What a line of an accounting of disclosures is about.")
class DisclosureConcerns(Enum):
    RECORD = strawberry.enum_value(
        service.RECORD, description="The record asked about was itself disclosed."
    )
    IDENTIFIER_HELD = strawberry.enum_value(
        service.IDENTIFIER_HELD,
        description="An identifier the person asked about holds was disclosed (a person's "
        "accounting only).",
    )
    TIP_NAMING = strawberry.enum_value(
        service.TIP_NAMING,
        description="A tip naming the person asked about, in any role, was disclosed (a "
        "person's accounting only).",
    )


@strawberry.enum(
    description="Why a record was disclosed. There is no purpose field: it is the purpose of "
    "the lookup that disclosed it, derived from the lookup's criteria."
)
class DisclosurePurpose(Enum):
    TRAVELLER_LOOKUP = strawberry.enum_value(
        service.TRAVELLER_LOOKUP,
        description="A partner officer's traveller lookup (screening one traveller).",
    )
    PASSENGER_SCREENING = strawberry.enum_value(
        service.PASSENGER_SCREENING,
        description="A lookup made as part of a passenger-list screening: its criteria carry "
        "the screening (flight or crossing) reference.",
    )
    ALERT = strawberry.enum_value(
        service.ALERT,
        description="A LINKED_TIP alert: a new or changed tip linking to a record the "
        "recipient received was disclosed to them by the alert (alertId; no lookup).",
    )


@strawberry.type(
    description="A partner's request to pass a disclosed record on, and the owning agency's "
    "decision."
)
class DisclosureRedissemination:
    request_id: relay.GlobalID = strawberry.field(description="The redissemination request.")
    requested_at: datetime.datetime
    recipient: str = strawberry.field(description="To whom the partner would pass it.")
    purpose: str = strawberry.field(description="Why.")
    status: str = strawberry.field(description="PENDING, APPROVED or REFUSED.")
    decided_at: datetime.datetime | None
    decided_by_username: str = strawberry.field(
        description="The analyst who decided (empty while pending)."
    )
    decision_reason: str


def _about(row: DisclosureRow) -> list[tuple[type, int]]:
    """The record a line is about: the accounting names it, so the audit row names it too."""
    return [(row.model, row.record_pk)]


@carries({"*": _about})
@strawberry.type(
    description="One disclosure: which record went to whom, when, through which lookup, and why."
)
class DisclosureRow:
    record_id: relay.GlobalID = strawberry.field(description="The record disclosed.")
    record_type: str = strawberry.field(description="Its type: Tip, Subject or Identifier.")
    concerns: DisclosureConcerns = strawberry.field(
        description="How the record disclosed relates to the record asked about."
    )
    disclosed_at: datetime.datetime = strawberry.field(
        description="When the lookup returned it to the recipient."
    )
    recipient_username: str = strawberry.field(description="The account it was disclosed to.")
    recipient_full_name: str = strawberry.field(
        description="That account's full name (empty when none is recorded)."
    )
    recipient_agency: str = strawberry.field(
        description="That account's agency (empty when none is recorded)."
    )
    recipient_role: str = strawberry.field(
        description="That account's role now (INVESTIGATOR for a partner-agency officer)."
    )
    lookup_id: relay.GlobalID | None = strawberry.field(
        description="The lookup that disclosed it: the lookupId its result gave the recipient; "
        "null for a disclosure made by an alert."
    )
    alert_id: relay.GlobalID | None = strawberry.field(
        description="The alert that disclosed it (purpose ALERT); null for a lookup's."
    )
    redisseminations: list[DisclosureRedissemination] = strawberry.field(
        description="The recipient's requests to pass this record on, oldest first, with "
        "their decisions."
    )
    purpose: DisclosurePurpose = strawberry.field(description="Why it was disclosed.")
    screening_reference: str | None = strawberry.field(
        description="The flight or crossing reference of a passenger screening; null for a "
        "traveller lookup."
    )
    model: strawberry.Private[type] = m.Tip
    record_pk: strawberry.Private[int] = 0

    @classmethod
    def of(cls, entry: service.DisclosureEntry) -> DisclosureRow:
        return cls(
            record_id=relay.GlobalID(entry.record_type, str(entry.record_pk)),
            record_type=entry.record_type,
            concerns=DisclosureConcerns(entry.concerns),
            disclosed_at=entry.disclosed_at,
            recipient_username=entry.recipient_username,
            recipient_full_name=entry.recipient_full_name,
            recipient_agency=entry.recipient_agency,
            recipient_role=entry.recipient_role,
            lookup_id=None
            if entry.lookup_id is None
            else relay.GlobalID("TravellerLookup", str(entry.lookup_id)),
            alert_id=None
            if entry.alert_id is None
            else relay.GlobalID(type_name(m.Alert), str(entry.alert_id)),
            redisseminations=[
                DisclosureRedissemination(
                    request_id=relay.GlobalID(
                        type_name(m.RedisseminationRequest), str(line.request_id)
                    ),
                    requested_at=line.requested_at,
                    recipient=line.recipient,
                    purpose=line.purpose,
                    status=line.status,
                    decided_at=line.decided_at,
                    decided_by_username=line.decided_by_username,
                    decision_reason=line.decision_reason,
                )
                for line in entry.redisseminations
            ],
            purpose=DisclosurePurpose(entry.purpose),
            screening_reference=entry.screening_reference,
            model=entry.model,
            record_pk=entry.record_pk,
        )


@strawberry.type(name="DisclosureConnection", description="A page of an accounting of disclosures.")
class DisclosureConnection(relay.ListConnection[DisclosureRow]):
    nodes: strawberry.Private[Any] = None

    @strawberry.field(description="How many disclosures the whole accounting lists.")
    def total_count(self) -> int:
        return self.nodes.count()

    @classmethod
    def resolve_node(cls, node: Any, *, info: Info, **kwargs: Any) -> DisclosureRow:
        return DisclosureRow.of(service.entry_of(node))

    @classmethod
    def resolve_connection(cls, nodes: Any, *, info: Info, **kwargs: Any) -> Any:
        connection = super().resolve_connection(nodes, info=info, **kwargs)
        connection.nodes = nodes  # type: ignore[union-attr]
        return connection


@strawberry.type
class DisclosureQuery:
    @relay.connection(
        DisclosureConnection,
        extensions=allow("Query.accountingOfDisclosures"),
        description=describe(
            "Query.accountingOfDisclosures",
            "The Privacy Act accounting of disclosures of a record (a tip, subject or "
            "identifier, by its global id): every time a lookup or an alert returned it to "
            "someone, with the recipient (username, full name, agency), when, the lookup (and "
            "a passenger screening's reference) or the alert, the purpose, and the "
            "recipient's requests to pass it on (redisseminations) with their decisions. For "
            "a person (a subject) it also lists the disclosures of every identifier they hold "
            "and of every tip naming them, each line saying which record it is about "
            "(concerns). Oldest first; removed records included. There is no purpose field "
            "on a disclosure: the purpose is the lookup's (TRAVELLER_LOOKUP, or "
            "PASSENGER_SCREENING when its criteria carry a screening reference), or ALERT for "
            "a tip an alert disclosed. A malformed id, or the id of a record that is never "
            "disclosed, is INVALID_ID; an unknown record NOT_FOUND. Also a CSV download: GET "
            "/disclosures/<recordId>.csv.",
        ),
    )
    def accounting_of_disclosures(
        self, info: Info, record_id: strawberry.ID
    ) -> Iterable[m.Disclosure]:
        return resolve.accounting_of_disclosures(str(record_id))
