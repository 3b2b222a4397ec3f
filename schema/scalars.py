"""The Date, DateTime and Time scalars, with refusals that say what is expected.

Strawberry's own scalars append the parser's message to a refusal ("year 0 is out of range",
"Invalid isoformat string"); these say what the API expects instead. A date-time that would
fall outside the years 1 to 9999 once converted to UTC is refused too: PostgreSQL would store
it, but it could never be read back. Names and descriptions are strawberry's, so the schema
does not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dateutil.parser
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import isoformat
from strawberry.types.scalar import ScalarDefinition

__all__ = ["DATE", "DATETIME", "SCALAR_OVERRIDES", "TIME"]

_SHOWN = 40  # characters of a refused value repeated in the message


def _refusal(kind: str, value: object, expected: str) -> StrawberryInputCoercionError:
    shown = str(value)
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    return StrawberryInputCoercionError(f'Value cannot represent a {kind}: "{shown}". {expected}')


def _parser(kind: str, parse: Callable[[str], Any], expected: str) -> Callable[[object], Any]:
    def parse_value(value: object) -> Any:
        if not isinstance(value, str):
            raise _refusal(kind, value, expected)
        try:
            return parse(value)
        except (ValueError, OverflowError):
            raise _refusal(kind, value, expected) from None

    return parse_value


def _datetime(text: str) -> dt.datetime:
    parsed = dateutil.parser.isoparse(text)
    if parsed.tzinfo is not None:
        parsed.astimezone(dt.UTC)  # OverflowError past the years 1 to 9999 in UTC
    return parsed


DATE = ScalarDefinition(
    name="Date",
    description="Date (isoformat)",
    specified_by_url=None,
    serialize=isoformat,
    parse_value=_parser(
        "Date",
        dt.date.fromisoformat,
        "Expected an ISO 8601 date such as 2026-01-31, in the years 1 to 9999.",
    ),
    parse_literal=None,
    origin=dt.date,
)
DATETIME = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=isoformat,
    parse_value=_parser(
        "DateTime",
        _datetime,
        "Expected an ISO 8601 date and time such as 2026-01-31T09:30:00Z, in the years 1 to "
        "9999 (UTC).",
    ),
    parse_literal=None,
    origin=dt.datetime,
)
TIME = ScalarDefinition(
    name="Time",
    description="Time (isoformat)",
    specified_by_url=None,
    serialize=isoformat,
    parse_value=_parser(
        "Time", dt.time.fromisoformat, "Expected an ISO 8601 time such as 09:30:00."
    ),
    parse_literal=None,
    origin=dt.time,
)

#: For ``strawberry.Schema(scalar_overrides=...)``.
SCALAR_OVERRIDES: dict[object, Any] = {dt.date: DATE, dt.datetime: DATETIME, dt.time: TIME}
