"""Subject mutations."""

from __future__ import annotations

import datetime

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import subjects as service
from resolvers.common import Outcome, acting_user, load, run

__all__ = ["add_identifier", "create", "update"]


def create(
    info: Info,
    *,
    full_name: str,
    aliases: list[str],
    date_of_birth: datetime.date | None,
    nationality: str,
    sex_offender_registered: bool,
) -> Outcome:
    return run(
        lambda: service.create_subject(
            by=acting_user(info),
            full_name=full_name,
            aliases=aliases,
            date_of_birth=date_of_birth,
            nationality=nationality,
            sex_offender_registered=sex_offender_registered,
        )
    )


def update(
    info: Info,
    *,
    subject_id: relay.GlobalID,
    full_name: str | None,
    aliases: list[str] | None,
    date_of_birth: datetime.date | None,
    nationality: str | None,
    sex_offender_registered: bool | None,
    known_misidentification: bool | None,
    redress_case_number: str | None,
) -> Outcome:
    return run(
        lambda: service.update_subject(
            subject=load(info, subject_id, m.Subject, field="id"),
            full_name=full_name,
            aliases=aliases,
            date_of_birth=date_of_birth,
            nationality=nationality,
            sex_offender_registered=sex_offender_registered,
            known_misidentification=known_misidentification,
            redress_case_number=redress_case_number,
        )
    )


def add_identifier(
    info: Info, subject_id: relay.GlobalID, *, kind: str, value: str, qualifier: str
) -> Outcome:
    def action() -> m.Subject:
        subject = load(info, subject_id, m.Subject, field="subjectId")
        service.add_identifier_to_subject(
            subject=subject, kind=kind, value=value, qualifier=qualifier
        )
        return subject

    return run(action)
