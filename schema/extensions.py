"""Schema-wide guards: refused callers are stopped before anything runs.

Anonymous callers, and signed-in accounts that may not act (deactivated, locked out after
failed sign-ins, an access-lifecycle step missing or annual training lapsed: the one gate,
``permissions.gate``, that every other door asks too), get every operation refused,
introspection included, by a validation rule: nothing executes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from permissions.gate import GRAPHQL, check_request
from permissions.lifecycle import record_activity

__all__ = ["ErrorCodes", "RequireAuthentication"]


def _refusal(message: str, **extensions: Any) -> type[ValidationRule]:
    class RefuseRequest(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            self.report_error(GraphQLError(message, extensions=extensions))

    return RefuseRequest


class RequireAuthentication(SchemaExtension):
    """Refuse every operation of an unauthenticated caller, introspection included.

    The committed ``schema.graphql`` is the public description of the API; live
    introspection needs an account, like everything else. A signed-in account that may not
    act (``permissions.gate.check_access``) is refused too: ``extensions.code`` is the first
    problem's code (``LOCKED_OUT``, ``ACCESS_NOT_APPROVED`` or ``TRAINING_LAPSED``),
    ``extensions.problems`` lists every problem's code, and the message gives every reason.
    Allowed callers have their ``last_activity_at`` kept (written at most once every five
    minutes). Each root field then admits the roles of its row in the permission matrix.
    """

    def on_validate(self) -> Iterator[None]:
        request = self.execution_context.context.request
        decision = check_request(request, GRAPHQL)
        if decision.allowed:
            record_activity(request.user)
        else:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                _refusal(decision.message, **decision.extensions),
            )
        yield


def _code_of(error: GraphQLError) -> str | None:
    if isinstance(error.original_error, GlobalIDValueError):
        return "INVALID_ID"
    if error.original_error is None and error.path is None:  # refused before execution
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED"
        return "GRAPHQL_VALIDATION_FAILED"
    return None


class ErrorCodes(SchemaExtension):
    """Every error a client can cause carries a stable ``extensions.code``: a malformed global
    id is INVALID_ID, an unparsable document GRAPHQL_PARSE_FAILED, an unknown field, argument
    or type GRAPHQL_VALIDATION_FAILED. Codes set elsewhere (FORBIDDEN, INVALID_INPUT, ...)
    stay as they are."""

    def on_operation(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        errors = list(ctx.pre_execution_errors or [])
        if ctx.result is not None:
            errors += ctx.result.errors or []
        for error in errors:
            if (error.extensions or {}).get("code"):
                continue
            if code := _code_of(error):
                error.extensions = {**(error.extensions or {}), "code": code}
