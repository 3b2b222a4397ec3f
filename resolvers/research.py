"""Research result mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.types import Info

from backend import models as m
from backend.services import research as service
from resolvers.common import Outcome, acting_user, load, run

if TYPE_CHECKING:
    from schema.research import CreateResearchResultInput, UpdateResearchResultInput

__all__ = ["create", "update"]


def create(info: Info, data: CreateResearchResultInput) -> Outcome:
    return run(
        lambda: service.create_research_result(
            by=acting_user(info),
            identifier=load(info, data.identifier_id, m.Identifier, field="identifierId"),
            legal_process=data.legal_process.value,
            findings=data.findings,
            served_on=data.served_on,
            served_at=data.served_at,
            returned_at=data.returned_at,
            tip=None if data.tip_id is None else load(info, data.tip_id, m.Tip, field="tipId"),
        )
    )


def update(info: Info, data: UpdateResearchResultInput) -> Outcome:
    return run(
        lambda: service.update_research_result(
            result=load(info, data.id, m.ResearchResult, field="id"),
            findings=data.findings,
            served_on=data.served_on,
            served_at=data.served_at,
            returned_at=data.returned_at,
        )
    )
