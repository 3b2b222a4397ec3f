"""Research result mutations."""

from __future__ import annotations

import datetime

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import research as service
from resolvers.common import Outcome, acting_user, load, run

__all__ = ["create", "update"]


def create(
    info: Info,
    *,
    identifier_id: relay.GlobalID,
    legal_process: str,
    findings: str,
    served_on: str,
    served_at: datetime.date | None,
    returned_at: datetime.date | None,
    tip_id: relay.GlobalID | None,
) -> Outcome:
    return run(
        lambda: service.create_research_result(
            by=acting_user(info),
            identifier=load(info, identifier_id, m.Identifier, field="identifierId"),
            legal_process=legal_process,
            findings=findings,
            served_on=served_on,
            served_at=served_at,
            returned_at=returned_at,
            tip=None if tip_id is None else load(info, tip_id, m.Tip, field="tipId"),
        )
    )


def update(
    info: Info,
    *,
    result_id: relay.GlobalID,
    findings: str | None,
    served_on: str | None,
    served_at: datetime.date | None,
    returned_at: datetime.date | None,
) -> Outcome:
    return run(
        lambda: service.update_research_result(
            result=load(info, result_id, m.ResearchResult, field="id"),
            findings=findings,
            served_on=served_on,
            served_at=served_at,
            returned_at=returned_at,
        )
    )
