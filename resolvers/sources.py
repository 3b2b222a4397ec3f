"""Source mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.types import Info

from backend.services import sources as service
from resolvers.common import Outcome, run

if TYPE_CHECKING:
    from schema.source import CreateSourceInput

__all__ = ["create"]


def create(info: Info, data: CreateSourceInput) -> Outcome:
    return run(
        lambda: service.create_source(kind=data.kind.value, name=data.name, country=data.country)
    )
