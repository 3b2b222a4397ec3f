"""Small helpers the test_mutations_* modules share: global ids, bad ids, payload errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strawberry.relay import GlobalID

from backend.models import Role
from tests.factories import SourceFactory, TipFactory

__all__ = [
    "ERRORS",
    "NON_WRITER_ROLES",
    "assert_analyst_calls_succeed",
    "assert_forbidden",
    "assert_unauthenticated",
    "bad_id",
    "gid",
    "refused_without_writes",
    "single_error",
]

#: Every mutation of an entity, by name, with variables that would succeed for an analyst.
Calls = Callable[[], dict[str, tuple[str, dict[str, Any]]]]

#: The selection of a payload's typed errors.
ERRORS = "errors { code message field }"

#: Every role but the analyst: none of them may change records.
NON_WRITER_ROLES = [
    Role.REPORTING_CLIENT,
    Role.AUDITOR,
    Role.INVESTIGATOR,
    Role.PROGRAM_MANAGER,
    Role.SYSTEM_ADMINISTRATOR,
]


def gid(type_name: str, pk: object) -> str:
    """The relay global id of a ``type_name`` record, as a GraphQL variable."""
    return str(GlobalID(type_name, str(pk)))


def bad_id(how: str, expected: str) -> tuple[str, str]:
    """An id that names no ``expected`` record, and a part of the message it should get.

    ``unknown``: the right type, no such row; ``wrong_type``: a real record of another type;
    ``malformed``: a well-encoded global id whose node id is not a number.
    """
    if how == "unknown":
        unknown = gid(expected, 999_999)
        return unknown, f"no {expected} with id {unknown}"
    if how == "wrong_type":
        if expected == "Source":
            return gid("Tip", TipFactory().pk), f"must be the id of a {expected}, got a Tip"
        return gid("Source", SourceFactory().pk), f"must be the id of a {expected}, got a Source"
    if how == "malformed":
        return gid(expected, "not-a-number"), f"is not a valid {expected} id"
    raise AssertionError(f"unknown kind of bad id: {how}")


def single_error(result: dict[str, Any], mutation: str, key: str) -> dict[str, Any]:
    """The one typed error of a ``mutation`` payload whose ``key`` object is null."""
    assert "errors" not in result, result
    payload = result["data"][mutation]
    assert payload[key] is None, payload
    assert len(payload["errors"]) == 1, payload["errors"]
    return payload["errors"][0]


def assert_forbidden(result: dict[str, Any], mutation: str) -> None:
    """A top-level FORBIDDEN error on ``mutation`` and no data."""
    assert result["data"] is None, result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == [mutation]


def assert_unauthenticated(result: dict[str, Any]) -> None:
    """A top-level UNAUTHENTICATED error and no data."""
    assert result.get("data") is None, result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


def refused_without_writes(
    ask: Callable[..., dict[str, Any]], calls: Calls, mutation: str, state: Callable[[], Any]
) -> dict[str, Any]:
    """Make the ``mutation`` call of ``calls()`` through ``ask``, check that ``state()`` (the
    rows it could write) is unchanged, and return the answer, whose refusal the caller checks."""
    query, variables = calls()[mutation]
    before = state()
    result = ask(query, variables)
    assert state() == before
    return result


def assert_analyst_calls_succeed(gql: Callable[..., dict[str, Any]], calls: Calls) -> None:
    """Every call of ``calls()`` succeeds for an analyst, so refusals of the same calls to
    other callers are about the caller alone."""
    made = calls()
    results = {name: gql(query, variables) for name, (query, variables) in made.items()}
    assert {name: r["data"][name]["errors"] for name, r in results.items()} == {
        name: [] for name in made
    }
