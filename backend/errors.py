"""Domain errors. Services raise them; the API turns each into a typed error with its code."""

from __future__ import annotations

__all__ = [
    "DomainError",
    "DuplicateRecord",
    "InvalidIdentifierValue",
    "InvalidInput",
    "InvalidTransition",
    "RecordNotFound",
]


class DomainError(Exception):
    """A request the domain refuses. ``code`` is stable; ``field`` names the input at fault."""

    code = "INVALID_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class InvalidIdentifierValue(DomainError):
    code = "INVALID_IDENTIFIER"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class DuplicateRecord(DomainError):
    code = "DUPLICATE"


class RecordNotFound(DomainError):
    code = "NOT_FOUND"
