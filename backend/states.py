"""State machines for tips and leads: which status may follow which."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backend.errors import InvalidTransition
from backend.models.graph import LeadStatus, TipStatus

__all__ = ["LEAD_MACHINE", "TIP_MACHINE", "StateMachine"]


@dataclass(frozen=True)
class StateMachine:
    """A named table of allowed transitions; anything not listed is refused."""

    name: str
    transitions: Mapping[str, frozenset[str]]

    def allowed(self, current: str) -> frozenset[str]:
        return self.transitions.get(current, frozenset())

    def check(self, current: str, target: str) -> None:
        """Raise ``InvalidTransition`` unless ``current -> target`` is allowed."""
        if target not in self.transitions:
            raise InvalidTransition(f"{self.name} status {target!r} does not exist", field="status")
        if target not in self.allowed(current):
            allowed = ", ".join(sorted(self.allowed(current))) or "none (final status)"
            raise InvalidTransition(
                f"{self.name} cannot move from {current} to {target}; allowed: {allowed}",
                field="status",
            )


def _table(rows: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    return {state: frozenset(targets) for state, targets in rows.items()}


TIP_MACHINE = StateMachine(
    "Tip",
    _table(
        {
            TipStatus.RECEIVED: {TipStatus.UNDER_REVIEW, TipStatus.CLOSED},
            TipStatus.UNDER_REVIEW: {
                TipStatus.ACTIONABLE,
                TipStatus.NOT_ACTIONABLE,
                TipStatus.RECEIVED,
            },
            TipStatus.ACTIONABLE: {TipStatus.REFERRED, TipStatus.UNDER_REVIEW, TipStatus.CLOSED},
            TipStatus.NOT_ACTIONABLE: {TipStatus.UNDER_REVIEW, TipStatus.CLOSED},
            TipStatus.REFERRED: {TipStatus.ACTIONABLE, TipStatus.CLOSED},
            TipStatus.CLOSED: {TipStatus.UNDER_REVIEW},
        }
    ),
)

LEAD_MACHINE = StateMachine(
    "Lead",
    _table(
        {
            LeadStatus.DRAFT: {LeadStatus.REFERRED, LeadStatus.CANCELLED},
            LeadStatus.REFERRED: {LeadStatus.ACCEPTED, LeadStatus.DECLINED},
            LeadStatus.ACCEPTED: {LeadStatus.CLOSED},
            LeadStatus.DECLINED: {LeadStatus.DRAFT, LeadStatus.CLOSED},
            LeadStatus.CLOSED: set(),
            LeadStatus.CANCELLED: set(),
        }
    ),
)
