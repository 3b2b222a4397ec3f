"""Tip mutations: plain values in, service call, object or typed errors out."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import tips as service
from backend.services.tips import SightingSpec
from resolvers.common import Outcome, acting_user, load, load_many, run

__all__ = [
    "SightingSpec",
    "SubjectInTip",
    "add_identifier",
    "add_subject",
    "change_tip_status",
    "create_tip",
    "update_tip",
]


@dataclass(frozen=True)
class SubjectInTip:
    """A person to name in a tip, by global id, in a role."""

    subject_id: relay.GlobalID
    role: str


def _tip(info: Info, gid: relay.GlobalID, field: str = "id") -> m.Tip:
    return load(info, gid, m.Tip, field=field)


def create_tip(
    info: Info,
    *,
    source_id: relay.GlobalID,
    source_reference: str,
    received_at: datetime.datetime,
    category: str,
    narrative: str,
    priority: int | None,
    handling_caveat: str,
    identifiers: list[SightingSpec],
    subjects: list[SubjectInTip],
    escalated: bool,
    access_to_children: bool,
    hands_on: bool,
) -> Outcome:
    def action() -> m.Tip:
        source = load(info, source_id, m.Source, field="sourceId")
        people = load_many(info, [s.subject_id for s in subjects], m.Subject, field="subjects")
        return service.create_tip(
            by=acting_user(info),
            source=source,
            source_reference=source_reference,
            received_at=received_at,
            category=category,
            narrative=narrative,
            priority=priority,
            handling_caveat=handling_caveat,
            identifiers=identifiers,
            escalated=escalated,
            access_to_children=access_to_children,
            hands_on=hands_on,
            subjects=[(person, s.role) for person, s in zip(people, subjects, strict=True)],
        )

    return run(action)


def update_tip(
    info: Info,
    *,
    tip_id: relay.GlobalID,
    narrative: str | None,
    category: str | None,
    priority: int | None,
    handling_caveat: str | None,
    received_at: datetime.datetime | None,
    escalated: bool | None,
    access_to_children: bool | None,
    hands_on: bool | None,
) -> Outcome:
    return run(
        lambda: service.update_tip(
            tip=_tip(info, tip_id),
            narrative=narrative,
            category=category,
            priority=priority,
            handling_caveat=handling_caveat,
            received_at=received_at,
            escalated=escalated,
            access_to_children=access_to_children,
            hands_on=hands_on,
        )
    )


def change_tip_status(info: Info, gid: relay.GlobalID, *, status: str, reason: str) -> Outcome:
    return run(
        lambda: service.change_tip_status(
            tip=_tip(info, gid), by=acting_user(info), status=status, reason=reason
        )
    )


def add_identifier(info: Info, tip_id: relay.GlobalID, *, sighting: SightingSpec) -> Outcome:
    def action() -> m.Tip:
        tip = _tip(info, tip_id, "tipId")
        service.add_identifier_to_tip(tip=tip, sighting=sighting, by=acting_user(info))
        return tip

    return run(action)


def add_subject(
    info: Info, tip_id: relay.GlobalID, *, subject_id: relay.GlobalID, role: str
) -> Outcome:
    def action() -> m.Tip:
        tip = _tip(info, tip_id, "tipId")
        person = load(info, subject_id, m.Subject, field="subject.subjectId")
        service.add_subject_to_tip(tip=tip, subject=person, role=role, by=acting_user(info))
        return tip

    return run(action)
