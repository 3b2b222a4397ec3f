"""A record's relay ``id`` is read off the object: resolving it never inspects type
annotations (which cost ten times the rest of a 100-tip page when done per object)."""

from __future__ import annotations

from unittest import mock

import pytest
import strawberry.relay.types

import schema  # noqa: F401  (every type module imported)
from backend import models as m
from schema.base import ScopedNode
from tests.factories import TipFactory

pytestmark = pytest.mark.django_db


def test_every_model_type_names_its_node_id_without_scanning_annotations():
    node_types, pending = [], list(ScopedNode.__subclasses__())
    while pending:
        node_type = pending.pop()
        node_types.append(node_type)
        pending.extend(node_type.__subclasses__())
    assert len(node_types) >= 5  # Tip, Subject, Identifier, Lead, Note at least
    with mock.patch.object(strawberry.relay.types, "eval_type", side_effect=AssertionError):
        for node_type in node_types:
            assert node_type.resolve_id_attr() == "pk", node_type


def test_a_page_of_ids_resolves_without_scanning_annotations(gql):
    # given a page of tips
    tips = TipFactory.create_batch(3)
    # when their ids are asked for, with the annotation scan made to fail if it ran
    with mock.patch.object(strawberry.relay.types, "eval_type", side_effect=AssertionError):
        result = gql("{ tips(first: 10) { edges { node { id } } } }")
    # then every id comes back, each the record's own
    assert "errors" not in result, result
    ids = [edge["node"]["id"] for edge in result["data"]["tips"]["edges"]]
    expected = {strawberry.relay.GlobalID("Tip", str(tip.pk)) for tip in tips}
    assert {strawberry.relay.GlobalID.from_id(x) for x in ids} == expected
    assert m.Tip.objects.count() == 3
