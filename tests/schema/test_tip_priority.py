"""Tip priority over GraphQL: createTip/updateTip take the factors, and the tip explains its
priorityScore factor by factor."""

from __future__ import annotations

import pytest

from backend import models as m
from tests.factories import SourceFactory, TipFactory
from tests.schema.mutation_helpers import ERRORS, gid

pytestmark = pytest.mark.django_db

FIELDS = """
priority priorityScore escalated accessToChildren handsOn
priorityExplanation { name points explanation }
"""
CREATE_TIP = f"""
mutation($input: CreateTipInput!) {{ createTip(input: $input) {{ tip {{ {FIELDS} }} {ERRORS} }} }}
"""
UPDATE_TIP = f"""
mutation($input: UpdateTipInput!) {{ updateTip(input: $input) {{ tip {{ {FIELDS} }} {ERRORS} }} }}
"""


def test_create_tip_explains_its_priority(gql):
    # given a source
    source = SourceFactory()
    # when an escalated enticement tip with access to children is recorded without priority
    result = gql(
        CREATE_TIP,
        {
            "input": {
                "sourceId": gid("Source", source.pk),
                "sourceReference": "NCMEC-1",
                "receivedAt": "2024-05-01T10:00:00+00:00",
                "category": "ENTICEMENT",
                "escalated": True,
                "accessToChildren": True,
            }
        },
    )
    # then the score, its band as priority, and every factor with its points come back
    assert "errors" not in result, result
    payload = result["data"]["createTip"]
    assert payload["errors"] == []
    assert payload["tip"] == {
        "priority": 1,
        "priorityScore": 75.0,
        "escalated": True,
        "accessToChildren": True,
        "handsOn": False,
        "priorityExplanation": [
            {"name": "CATEGORY", "points": 35.0, "explanation": "category Enticement"},
            {"name": "ESCALATED", "points": 15.0, "explanation": "the source escalated the tip"},
            {
                "name": "ACCESS_TO_CHILDREN",
                "points": 25.0,
                "explanation": "the subject is reported to have access to children",
            },
        ],
    }


def test_update_tip_rescores_and_keeps_the_manual_priority(gql):
    # given an unscored possession tip of priority 4
    tip = TipFactory(category=m.TipCategory.POSSESSION, priority=4)
    # when hands-on indicators are reported
    result = gql(UPDATE_TIP, {"input": {"id": gid("Tip", tip.pk), "handsOn": True}})
    # then the tip is scored, explained, and its priority stays 4
    assert "errors" not in result, result
    assert result["data"]["updateTip"]["tip"] == {
        "priority": 4,
        "priorityScore": 45.0,
        "escalated": False,
        "accessToChildren": False,
        "handsOn": True,
        "priorityExplanation": [
            {"name": "CATEGORY", "points": 15.0, "explanation": "category Possession"},
            {
                "name": "HANDS_ON",
                "points": 30.0,
                "explanation": "indicators of hands-on offending",
            },
        ],
    }


def test_unscored_tip_has_no_explanation(gql):
    # given a tip that was never scored
    tip = TipFactory()
    # when read, then its score is null and its explanation empty
    result = gql(
        "query($id: ID!) { node(id: $id) { ... on Tip { priorityScore priorityExplanation "
        "{ name } } } }",
        {"id": gid("Tip", tip.pk)},
    )
    assert result["data"]["node"] == {"priorityScore": None, "priorityExplanation": []}
