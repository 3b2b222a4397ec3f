"""Depth, alias, token and page-size limits stay on."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    """tips -> links -> tip -> links -> ... nested until ``depth`` selection levels."""
    inner = "id"
    for _ in range(depth):
        inner = f"links(first: 1) {{ edges {{ node {{ tip {{ {inner} }} }} }} }}"
    return f"{{ tips(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


def test_reasonable_depth_is_answered(gql):
    assert "errors" not in gql(nested(2))


def test_too_deep_query_is_refused(gql, settings):
    result = gql(nested(settings.GRAPHQL_MAX_DEPTH))
    assert result.get("data") is None
    assert "exceeds maximum operation depth" in result["errors"][0]["message"]


def test_too_many_aliases_are_refused(gql, settings):
    aliases = " ".join(
        f"a{n}: viewer {{ username }}" for n in range(settings.GRAPHQL_MAX_ALIASES + 1)
    )
    result = gql(f"{{ {aliases} }}")
    assert result.get("data") is None
    assert "aliases" in result["errors"][0]["message"].lower()


def test_too_many_tokens_are_refused(gql, settings):
    fields = " ".join("username" for _ in range(settings.GRAPHQL_MAX_TOKENS))
    result = gql(f"{{ viewer {{ {fields} }} }}")
    assert result.get("data") is None
    assert "token" in result["errors"][0]["message"].lower()


def test_page_size_is_capped(gql, settings):
    result = gql("{ tips(first: 1000) { totalCount } }")
    assert result["data"] is None
    assert str(settings.GRAPHQL_MAX_RESULTS) in result["errors"][0]["message"]
