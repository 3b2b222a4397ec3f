"""The signed-in account, as it sees itself."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from permissions.classes import allow
from permissions.matrix import describe
from resolvers import accounts as resolve

__all__ = ["ViewerQuery", "ViewerType"]


@strawberry.type(name="Viewer", description="The account making the request.")
class ViewerType:
    username: str
    role: str
    auth_method: str = strawberry.field(description="session, or token:<id> for an API token.")


@strawberry.type
class ViewerQuery:
    @strawberry.field(
        extensions=allow("Query.viewer"), description=describe("Query.viewer", "Who am I?")
    )
    def viewer(self, info: Info) -> ViewerType:
        found = resolve.viewer(info)
        return ViewerType(username=found.username, role=found.role, auth_method=found.auth_method)
