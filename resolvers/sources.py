"""Source mutations."""

from __future__ import annotations

from strawberry.types import Info

from backend.services import sources as service
from resolvers.common import Outcome, run

__all__ = ["create"]


def create(info: Info, *, kind: str, name: str, country: str) -> Outcome:
    return run(lambda: service.create_source(kind=kind, name=name, country=country))
