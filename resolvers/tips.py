"""Tip mutations: GraphQL input in, service call, object or typed errors out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import tips as service
from resolvers.common import Outcome, acting_user, load, load_many, run

if TYPE_CHECKING:
    from schema.tip import CreateTipInput, SightingInput, TipSubjectInput, UpdateTipInput

__all__ = ["add_identifier", "add_subject", "change_tip_status", "create_tip", "update_tip"]


def _value(enum_member: Any) -> Any:
    return None if enum_member is None else enum_member.value


def _sighting(spec: SightingInput) -> service.SightingSpec:
    ident = spec.identifier
    return service.SightingSpec(
        kind=ident.kind.value,
        value=ident.value,
        qualifier=ident.qualifier or "",
        event=spec.event.value,
        captured_at=spec.captured_at,
    )


def _tip(info: Info, gid: relay.GlobalID, field: str = "id") -> m.Tip:
    return load(info, gid, m.Tip, field=field)


def create_tip(info: Info, data: CreateTipInput) -> Outcome:
    def action() -> m.Tip:
        source = load(info, data.source_id, m.Source, field="sourceId")
        subjects = load_many(
            info,
            [s.subject_id for s in data.subjects],
            m.Subject,
            field="subjects",
        )
        return service.create_tip(
            by=acting_user(info),
            source=source,
            source_reference=data.source_reference,
            received_at=data.received_at,
            category=data.category.value,
            narrative=data.narrative,
            priority=data.priority,
            handling_caveat=data.handling_caveat.value,
            identifiers=[_sighting(s) for s in data.identifiers],
            escalated=data.escalated,
            access_to_children=data.access_to_children,
            hands_on=data.hands_on,
            subjects=[
                (subj, s.role.value) for subj, s in zip(subjects, data.subjects, strict=True)
            ],
        )

    return run(action)


def update_tip(info: Info, data: UpdateTipInput) -> Outcome:
    return run(
        lambda: service.update_tip(
            tip=_tip(info, data.id),
            narrative=data.narrative,
            category=_value(data.category),
            priority=data.priority,
            handling_caveat=_value(data.handling_caveat),
            received_at=data.received_at,
            escalated=data.escalated,
            access_to_children=data.access_to_children,
            hands_on=data.hands_on,
        )
    )


def change_tip_status(info: Info, gid: relay.GlobalID, status: Any, reason: str) -> Outcome:
    return run(
        lambda: service.change_tip_status(
            tip=_tip(info, gid), by=acting_user(info), status=status.value, reason=reason
        )
    )


def add_identifier(info: Info, tip_id: relay.GlobalID, sighting: SightingInput) -> Outcome:
    def action() -> m.Tip:
        tip = _tip(info, tip_id, "tipId")
        service.add_identifier_to_tip(tip=tip, sighting=_sighting(sighting), by=acting_user(info))
        return tip

    return run(action)


def add_subject(info: Info, tip_id: relay.GlobalID, subject: TipSubjectInput) -> Outcome:
    def action() -> m.Tip:
        tip = _tip(info, tip_id, "tipId")
        person = load(info, subject.subject_id, m.Subject, field="subject.subjectId")
        service.add_subject_to_tip(
            tip=tip, subject=person, role=subject.role.value, by=acting_user(info)
        )
        return tip

    return run(action)
