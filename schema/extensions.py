"""Schema-wide guards: refused callers are stopped before anything runs.

Anonymous callers, and signed-in accounts that may not act (an access-lifecycle step missing
or annual training lapsed, see ``permissions.lifecycle``), get every operation refused,
introspection included, by a validation rule: nothing executes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from permissions.lifecycle import access_problems, record_activity, refusal_message

__all__ = ["ErrorCodes", "RequireAuthentication"]


def _refusal(message: str, code: str, **extensions: Any) -> type[ValidationRule]:
    class RefuseRequest(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            self.report_error(GraphQLError(message, extensions={"code": code, **extensions}))

    return RefuseRequest


class RequireAuthentication(SchemaExtension):
    """Refuse every operation of an unauthenticated caller, introspection included.

    The committed ``schema.graphql`` is the public description of the API; live
    introspection needs an account, like everything else. A signed-in account that may not
    act is refused too: ``extensions.code`` is the first problem's code
    (``ACCESS_NOT_APPROVED`` or ``TRAINING_LAPSED``), ``extensions.problems`` lists every
    problem's code, and the message gives every reason. Allowed callers have their
    ``last_activity_at`` kept (written at most once every five minutes).
    """

    def on_validate(self) -> Iterator[None]:
        request = self.execution_context.context.request
        user = getattr(request, "user", None)
        rule = None
        if user is None or not user.is_authenticated or not user.is_active:
            auth_error = getattr(request, "auth_error", None)
            if auth_error is not None:
                rule = _refusal(str(auth_error), auth_error.code)
            else:
                rule = _refusal(
                    "Authentication required: sign in or send a bearer token", "UNAUTHENTICATED"
                )
        elif problems := access_problems(user):
            rule = _refusal(
                refusal_message(problems),
                problems[0].code,
                problems=[problem.code for problem in problems],
            )
        else:
            record_activity(user)
        if rule is not None:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                rule,
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
