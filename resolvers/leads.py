"""Lead mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import leads as service
from resolvers.common import Outcome, acting_user, load, load_many, run

if TYPE_CHECKING:
    from schema.lead import CreateLeadInput, UpdateLeadInput

__all__ = ["change_status", "create", "update"]


def _office(info: Info, gid: relay.GlobalID | None, field: str) -> m.Office | None:
    return None if gid is None else load(info, gid, m.Office, field=field)


def create(info: Info, data: CreateLeadInput) -> Outcome:
    return run(
        lambda: service.create_lead(
            by=acting_user(info),
            title=data.title,
            summary=data.summary,
            office=_office(info, data.office_id, "officeId"),
            tips=load_many(info, data.tip_ids, m.Tip, field="tipIds"),
            subjects=load_many(info, data.subject_ids, m.Subject, field="subjectIds"),
        )
    )


def update(info: Info, data: UpdateLeadInput) -> Outcome:
    def tips(ids: list[relay.GlobalID], field: str) -> list[m.Tip]:
        return load_many(info, ids, m.Tip, field=field)

    def subjects(ids: list[relay.GlobalID], field: str) -> list[m.Subject]:
        return load_many(info, ids, m.Subject, field=field)

    return run(
        lambda: service.update_lead(
            lead=load(info, data.id, m.Lead, field="id"),
            title=data.title,
            summary=data.summary,
            office=_office(info, data.office_id, "officeId"),
            add_tips=tips(data.add_tip_ids, "addTipIds"),
            remove_tips=tips(data.remove_tip_ids, "removeTipIds"),
            add_subjects=subjects(data.add_subject_ids, "addSubjectIds"),
            remove_subjects=subjects(data.remove_subject_ids, "removeSubjectIds"),
        )
    )


def change_status(
    info: Info, gid: relay.GlobalID, status: Any, outcome: Any, outcome_notes: str | None
) -> Outcome:
    return run(
        lambda: service.change_lead_status(
            lead=load(info, gid, m.Lead, field="id"),
            status=status.value,
            outcome=None if outcome is None else outcome.value,
            outcome_notes=outcome_notes,
        )
    )
