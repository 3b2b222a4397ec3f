"""Subject mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import subjects as service
from resolvers.common import Outcome, acting_user, load, run

if TYPE_CHECKING:
    from schema.identifier import IdentifierInput
    from schema.subject import CreateSubjectInput, UpdateSubjectInput

__all__ = ["add_identifier", "create", "update"]


def create(info: Info, data: CreateSubjectInput) -> Outcome:
    return run(
        lambda: service.create_subject(
            by=acting_user(info),
            full_name=data.full_name,
            aliases=data.aliases,
            date_of_birth=data.date_of_birth,
            nationality=data.nationality,
            sex_offender_registered=data.sex_offender_registered,
        )
    )


def update(info: Info, data: UpdateSubjectInput) -> Outcome:
    return run(
        lambda: service.update_subject(
            subject=load(info, data.id, m.Subject, field="id"),
            full_name=data.full_name,
            aliases=data.aliases,
            date_of_birth=data.date_of_birth,
            nationality=data.nationality,
            sex_offender_registered=data.sex_offender_registered,
            known_misidentification=data.known_misidentification,
            redress_case_number=data.redress_case_number,
        )
    )


def add_identifier(info: Info, subject_id: relay.GlobalID, data: IdentifierInput) -> Outcome:
    def action() -> m.Subject:
        subject = load(info, subject_id, m.Subject, field="subjectId")
        service.add_identifier_to_subject(
            subject=subject, kind=data.kind.value, value=data.value, qualifier=data.qualifier or ""
        )
        return subject

    return run(action)
