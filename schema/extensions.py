"""Schema-wide guards: anonymous requests are refused before anything runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

__all__ = ["RequireAuthentication"]


def _refusal(message: str, code: str) -> type[ValidationRule]:
    class RefuseRequest(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            self.report_error(GraphQLError(message, extensions={"code": code}))

    return RefuseRequest


class RequireAuthentication(SchemaExtension):
    """Refuse every operation of an unauthenticated caller, introspection included.

    The committed ``schema.graphql`` is the public description of the API; live
    introspection needs an account, like everything else.
    """

    def on_validate(self) -> Iterator[None]:
        request = self.execution_context.context.request
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            auth_error = getattr(request, "auth_error", None)
            if auth_error is not None:
                rule = _refusal(str(auth_error), auth_error.code)
            else:
                rule = _refusal(
                    "Authentication required: sign in or send a bearer token", "UNAUTHENTICATED"
                )
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                rule,
            )
        yield
