"""schema.graphql is committed; this fails when the code's schema drifts from it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from schema import schema


def test_committed_schema_matches_the_code():
    committed = (Path(settings.BASE_DIR) / "schema.graphql").read_text()
    assert committed == schema.as_str() + "\n", "schema.graphql is stale: run `make schema`"
