"""Account queries: who is asking (viewer) and the privilege review."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError
from strawberry.types import Info

from permissions import review as service
from permissions.review import ReviewFinding

__all__ = ["Viewer", "privilege_review", "viewer"]


@dataclass(frozen=True)
class Viewer:
    """The account making the request, as it sees itself."""

    username: str
    role: str
    auth_method: str


def viewer(info: Info) -> Viewer:
    request = info.context.request
    return Viewer(
        username=request.user.username,
        role=request.user.role,
        auth_method=getattr(request, "auth_method", "session"),
    )


def privilege_review(*, review_days: int | None, idle_days: int | None) -> list[ReviewFinding]:
    """The accounts due for review; INVALID_INPUT when a number of days is below 1."""
    if (review_days is not None and review_days < 1) or (idle_days is not None and idle_days < 1):
        raise GraphQLError(
            "reviewDays and idleDays must be at least 1", extensions={"code": "INVALID_INPUT"}
        )
    return service.privilege_review(review_days=review_days, idle_days=idle_days)
