"""Domain errors. Services raise them; the API turns each into a typed error with its code."""

from __future__ import annotations

__all__ = [
    "REQUEST_ERROR_CODES",
    "AlreadyHeld",
    "DomainError",
    "DuplicateRecord",
    "InvalidId",
    "InvalidIdentifierValue",
    "InvalidInput",
    "InvalidTransition",
    "NotHeld",
    "RecordNotFound",
]


#: Codes of errors in the request itself, which the caller must fix: an unparsable or invalid
#: document or variables, a limit (depth, cost, input size, page size), a malformed id or
#: cursor, or an input value refused. An operation whose every error has one of these codes is
#: audited INVALID (``audit.operations``); any other error, INTERNAL_ERROR included, is FAILED.
REQUEST_ERROR_CODES = frozenset(
    {
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_DEEP",
        "QUERY_TOO_COSTLY",
        "INPUT_TOO_LONG",
        "PAGINATION_LIMIT",
        "INVALID_CURSOR",
        "INVALID_ID",
        "INVALID_INPUT",
        "INVALID_IDENTIFIER",
        "INVALID_TRANSITION",
        "DUPLICATE",
        "NOT_FOUND",
        "ALREADY_HELD",
        "NOT_HELD",
        # refused at the HTTP level (schema.view), before any operation
        "BAD_REQUEST",
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "METHOD_NOT_ALLOWED",
    }
)


class DomainError(Exception):
    """A request the domain refuses. ``code`` is stable; ``field`` names the input at fault."""

    code = "INVALID_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class InvalidId(DomainError):
    """A record id that is malformed, or names a kind of record the request cannot take."""

    code = "INVALID_ID"


class InvalidIdentifierValue(DomainError):
    code = "INVALID_IDENTIFIER"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class DuplicateRecord(DomainError):
    code = "DUPLICATE"


class RecordNotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyHeld(DomainError):
    """The record is already under an active legal hold for the same matter."""

    code = "ALREADY_HELD"


class NotHeld(DomainError):
    """The legal hold was lifted already."""

    code = "NOT_HELD"
