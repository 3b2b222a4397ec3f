"""Schema-wide guards: refused callers are stopped before anything runs.

Anonymous callers, and signed-in accounts that may not act (deactivated, locked out after
failed sign-ins, an access-lifecycle step missing or annual training lapsed: the one gate,
``permissions.gate``, that every other door asks too), get every operation refused,
introspection included, by a validation rule: nothing executes. Every error any operation
ends with then gets a stable ``extensions.code`` (``ErrorCodes``), and no message carries
internal text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from graphql import ArgumentNode, ExecutionResult, GraphQLError, ValidationRule, VariableNode
from psycopg.pq import TransactionStatus
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from backend.errors import DomainError
from permissions.gate import GRAPHQL, Decision, check_request
from permissions.lifecycle import record_activity

__all__ = [
    "INTERNAL_MESSAGE",
    "UNDO",
    "ErrorCodes",
    "RequireAuthentication",
    "admit",
    "code_errors",
    "refusal_rule",
]

#: Set on the HTTP request when an operation's statement failed in the database outside a
#: savepoint: the view (``schema.view``) rolls the request back and writes its audit rows in
#: a transaction of their own.
UNDO = "graphql_undo"

log = logging.getLogger(__name__)


def refusal_rule(message: str, **extensions: Any) -> type[ValidationRule]:
    """A validation rule refusing the whole document with ``message`` and ``extensions``."""

    class RefuseRequest(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            self.report_error(GraphQLError(message, extensions=extensions))

    return RefuseRequest


def admit(request: Any) -> Decision:
    """The gate's decision on the caller of ``request`` (``permissions.gate``), with an allowed
    caller's ``last_activity_at`` kept (written at most once every five minutes)."""
    decision = check_request(request, GRAPHQL)
    if decision.allowed:
        record_activity(request.user)
    return decision


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
        decision = admit(request)
        if not decision.allowed:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                refusal_rule(decision.message, **decision.extensions),
            )
        yield


#: The message of an error the server did not foresee: its own text (an exception's, a
#: database's) stays in the server's log and never reaches the client.
INTERNAL_MESSAGE = "Internal error: the server could not answer this. The problem was logged."


def _is_request_error(error: GraphQLError) -> bool:
    """An error of the request itself: parse, validation, or the coercion of a variable to
    its declared type (before execution, or when a field's argument takes a null variable
    it may not), never an exception of the server's code."""
    original = error.original_error
    if error.path is None:
        return original is None or isinstance(original, GraphQLError | StrawberryInputCoercionError)
    return isinstance(original, GraphQLError) and any(
        isinstance(node, VariableNode | ArgumentNode) for node in error.nodes or ()
    )


def _coded(error: GraphQLError) -> None:
    """Give ``error`` its stable code; mask the message of an unforeseen one."""
    extensions = dict(error.extensions or {})
    original = error.original_error
    if isinstance(original, GlobalIDValueError):
        extensions["code"] = "INVALID_ID"
    elif isinstance(original, DomainError):
        extensions["code"] = original.code
        if original.field:
            extensions["field"] = original.field
        error.message = original.message
    elif _is_request_error(error):
        syntax = error.message.startswith("Syntax Error")
        extensions["code"] = "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
    else:
        extensions["code"] = "INTERNAL_ERROR"
        error.message = INTERNAL_MESSAGE
    error.extensions = extensions


def _transaction_failed() -> bool:
    """Whether the database refused a statement and the transaction can only be rolled back."""
    raw = connection.connection
    return raw is not None and raw.info.transaction_status == TransactionStatus.INERROR


class ErrorCodes(SchemaExtension):
    """Every error carries a stable ``extensions.code``, and no message carries internal text.

    A malformed global id is INVALID_ID, an unparsable document GRAPHQL_PARSE_FAILED, an
    unknown field, argument or type, or a variable of the wrong type
    GRAPHQL_VALIDATION_FAILED, a domain refusal its own code (INVALID_INPUT, NOT_FOUND, ...).
    Codes set elsewhere (FORBIDDEN, QUERY_TOO_COSTLY, ...) stay as they are. Any other error is
    INTERNAL_ERROR, and its message is replaced by a fixed one (the original is logged).

    If the database refused a statement of an operation (the transaction is then unusable),
    the operation is undone, answers ``data: null`` with one INTERNAL_ERROR, and its audit row
    is still written: an operation of a batch runs in a savepoint of its own and is rolled
    back to it; a request of one operation (no savepoint: each is a round trip) is marked
    ``UNDO`` for the view to roll back as a whole."""

    def on_execute(self) -> Iterator[None]:
        request = getattr(self.execution_context.context, "request", None)
        batch = connection.in_atomic_block and getattr(request, "graphql_batch", False)
        savepoint = transaction.savepoint() if batch else None
        yield
        if not _transaction_failed():
            if savepoint is not None:
                transaction.savepoint_commit(savepoint)
            return
        if savepoint is not None:
            transaction.savepoint_rollback(savepoint)
            # Back at the savepoint the transaction is usable again, also when a service's
            # block without a savepoint of its own (``atomic(savepoint=False)``) had marked it
            # for rollback.
            transaction.set_rollback(False)
        elif request is not None:
            setattr(request, UNDO, True)  # the view rolls the request back, then audits it
        log.error("An operation's statement failed in the database; the operation was undone")
        self.execution_context.result = ExecutionResult(
            data=None,
            errors=[
                GraphQLError(
                    "Internal error: the operation failed and nothing of it was kept. "
                    "The problem was logged.",
                    extensions={"code": "INTERNAL_ERROR"},
                )
            ],
        )

    def on_operation(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        errors = list(ctx.pre_execution_errors or [])
        if ctx.result is not None:
            errors += ctx.result.errors or []
        code_errors(errors)


def code_errors(errors: list[GraphQLError]) -> None:
    """Give each of ``errors`` without an ``extensions.code`` its code (``_coded``)."""
    for error in errors:
        if not (error.extensions or {}).get("code"):
            _coded(error)
