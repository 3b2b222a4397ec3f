"""Every answer shown to a partner-agency investigator carries the no-redissemination rule."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension

from backend.models import Role

__all__ = ["DisseminationCaveat"]

CAVEAT = (
    "Owning-agency data: it may not be passed on to anyone else without the owning agency's "
    "express authorisation."
)


class DisseminationCaveat(SchemaExtension):
    """Adds ``extensions.dissemination`` to every response an investigator receives."""

    def get_results(self) -> dict[str, Any]:
        request = getattr(self.execution_context.context, "request", None)
        if getattr(getattr(request, "user", None), "role", None) == Role.INVESTIGATOR:
            return {"dissemination": CAVEAT}
        return {}
