"""Strawberry permission classes. Each denial is a GraphQL error with a stable code."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission
from strawberry.types import Info

from permissions.roles import GRAPH_READERS, GRAPH_WRITERS

__all__ = ["CanReadGraph", "CanWriteGraph", "IsAuthenticated"]


def _user(info: Info) -> Any:
    return info.context.request.user


class IsAuthenticated(BasePermission):
    message = "Authentication required"
    error_extensions: ClassVar[dict[str, Any]] = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        user = _user(info)
        return bool(user and user.is_authenticated and user.is_active)


class _RolePermission(BasePermission):
    roles: ClassVar[frozenset[str]] = frozenset()
    error_extensions: ClassVar[dict[str, Any]] = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        # Anonymous requests never get this far: the schema refuses them before execution.
        user = _user(info)
        return bool(user and user.is_authenticated and user.is_active) and (
            getattr(user, "role", None) in self.roles
        )


class CanReadGraph(_RolePermission):
    """Analysts and program managers may browse the tip graph."""

    roles = GRAPH_READERS
    message = "Your role may not read the tip graph"


class CanWriteGraph(_RolePermission):
    """Only analysts create and change records."""

    roles = GRAPH_WRITERS
    message = "Your role may not change records"
