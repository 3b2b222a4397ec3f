"""Lead mutations."""

from __future__ import annotations

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import leads as service
from resolvers.common import Outcome, acting_user, load, load_many, run

__all__ = ["change_status", "create", "update"]


def _office(info: Info, gid: relay.GlobalID | None, field: str) -> m.Office | None:
    return None if gid is None else load(info, gid, m.Office, field=field)


def create(
    info: Info,
    *,
    title: str,
    summary: str,
    office_id: relay.GlobalID | None,
    tip_ids: list[relay.GlobalID],
    subject_ids: list[relay.GlobalID],
) -> Outcome:
    return run(
        lambda: service.create_lead(
            by=acting_user(info),
            title=title,
            summary=summary,
            office=_office(info, office_id, "officeId"),
            tips=load_many(info, tip_ids, m.Tip, field="tipIds"),
            subjects=load_many(info, subject_ids, m.Subject, field="subjectIds"),
        )
    )


def update(
    info: Info,
    *,
    lead_id: relay.GlobalID,
    title: str | None,
    summary: str | None,
    office_id: relay.GlobalID | None,
    add_tip_ids: list[relay.GlobalID],
    remove_tip_ids: list[relay.GlobalID],
    add_subject_ids: list[relay.GlobalID],
    remove_subject_ids: list[relay.GlobalID],
) -> Outcome:
    def tips(ids: list[relay.GlobalID], field: str) -> list[m.Tip]:
        return load_many(info, ids, m.Tip, field=field)

    def subjects(ids: list[relay.GlobalID], field: str) -> list[m.Subject]:
        return load_many(info, ids, m.Subject, field=field)

    return run(
        lambda: service.update_lead(
            lead=load(info, lead_id, m.Lead, field="id"),
            title=title,
            summary=summary,
            office=_office(info, office_id, "officeId"),
            add_tips=tips(add_tip_ids, "addTipIds"),
            remove_tips=tips(remove_tip_ids, "removeTipIds"),
            add_subjects=subjects(add_subject_ids, "addSubjectIds"),
            remove_subjects=subjects(remove_subject_ids, "removeSubjectIds"),
        )
    )


def change_status(
    info: Info,
    gid: relay.GlobalID,
    *,
    status: str,
    outcome: str | None,
    outcome_notes: str | None,
) -> Outcome:
    return run(
        lambda: service.change_lead_status(
            lead=load(info, gid, m.Lead, field="id"),
            status=status,
            outcome=outcome,
            outcome_notes=outcome_notes,
        )
    )
