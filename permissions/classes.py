"""Strawberry permission classes. Each denial is a GraphQL error with a stable code."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from backend.models import Role
from permissions.gate import role_allows
from permissions.matrix import NEED_TO_KNOW, OPERATIONS

__all__ = [
    "NEED_TO_KNOW_NOTE",
    "NeedToKnowPermission",
    "RolePermission",
    "allow",
    "need_to_know",
]


def _user(info: Info) -> Any:
    return info.context.request.user


class RolePermission(BasePermission):
    """Allows the roles that ``permissions.matrix.OPERATIONS`` lists for one root field (the
    role rule of the one gate, ``permissions.gate.role_allows``; the rest of the gate ran
    before the operation, in ``schema.extensions.RequireAuthentication``)."""

    error_extensions: ClassVar[dict[str, Any]] = {"code": "FORBIDDEN"}

    def __init__(self, key: str) -> None:
        self.key = key
        self.message = f"Your role may not use {key.split('.', 1)[1]}"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return role_allows(_user(info), OPERATIONS[self.key])


class NeedToKnowPermission(BasePermission):
    """Refuses a field beyond a partner-agency investigator's need to know."""

    message = "This field is beyond an investigator's need to know"
    error_extensions: ClassVar[dict[str, Any]] = {"code": "NEED_TO_KNOW"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return getattr(_user(info), "role", None) != Role.INVESTIGATOR


def allow(key: str) -> list[FieldExtension]:
    """The permission extension of root field ``key`` ("Query.tips"), from the matrix."""
    if key not in OPERATIONS:
        raise KeyError(f"{key} has no rule in permissions.matrix.OPERATIONS")
    return [PermissionExtension(permissions=[RolePermission(key)])]


def need_to_know(key: str) -> list[FieldExtension]:
    """The extension refusing field ``key`` ("Tip.source") to investigators."""
    if key not in NEED_TO_KNOW:
        raise KeyError(f"{key} is not listed in permissions.matrix.NEED_TO_KNOW")
    return [PermissionExtension(permissions=[NeedToKnowPermission()])]


NEED_TO_KNOW_NOTE = "Not for investigators (need-to-know: refused with code NEED_TO_KNOW)."
