"""backend.retention: the schedule as data. Every model has a retention decision, the agency's
settings replace the defaults and are checked, and docs/retention.md states the defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import CharField, Model
from django.test.utils import isolate_apps

from backend import retention
from backend.registry import registered_models
from backend.retention import (
    SCHEDULE,
    Category,
    Scheduled,
    Unscheduled,
    check_retention_schedule,
    decision_for,
    decisions,
    missing_decisions,
    period_days,
)
from backend.settings import _retention_days

DOCS = Path(__file__).resolve().parents[2] / "docs" / "retention.md"


def test_every_model_has_exactly_one_retention_decision():
    # given every model Django knows, automatic many-to-many tables included
    labels = {model._meta.label for model in registered_models()}
    # then each has a decision, and every decision is a model's
    assert missing_decisions() == []
    assert set(decisions()) == labels
    # and the check passes for the project as it is
    assert check_retention_schedule() == []


def test_a_new_model_without_a_retention_decision_fails():
    # given a model nobody entered in the schedule
    with isolate_apps("tests"):

        class Informant(Model):  # noqa: DJ008
            name = CharField(max_length=50)

            class Meta:
                app_label = "tests"

        # then it is named as undecided, and asking for its decision says what to do
        assert missing_decisions([Informant]) == ["tests.Informant"]
        with pytest.raises(KeyError, match=r"no retention decision in its backend/registry\.py"):
            decision_for(Informant)


def test_the_system_check_names_a_model_left_undecided(monkeypatch):
    # when one model's registry entry carries no decision
    import dataclasses

    from backend.registry import REGISTRY

    entry = REGISTRY["backend.Tip"]
    monkeypatch.setitem(REGISTRY, "backend.Tip", dataclasses.replace(entry, retention=None))
    # then the check reports it by label and code
    problems = check_retention_schedule()
    assert [(p.id, p.msg) for p in problems] == [
        ("backend.E003", "backend.Tip has no retention decision")
    ]


def test_every_category_disposes_of_some_model_and_every_decision_is_explained():
    scheduled = [d for d in decisions().values() if isinstance(d, Scheduled)]
    assert {c for d in scheduled for c in d.categories} == set(Category)
    with pytest.raises(ValueError, match="needs its reason"):
        Unscheduled(" ")
    with pytest.raises(ValueError, match="needs its categories"):
        Scheduled((), "its tip")


def test_tips_and_what_only_they_keep_share_the_tip_clock():
    for label in (
        "backend.Tip",
        "backend.TipIdentifier",
        "backend.TipSubject",
        "backend.TipLink",
        "backend.Subject",
        "backend.Identifier",
        "backend.ResearchResult",
        "backend.Note",
        "backend.LegalHold",
    ):
        decision = decisions()[label]
        assert isinstance(decision, Scheduled) and Category.TIPS in decision.categories, label


def test_defaults_apply_until_the_agency_sets_a_period(settings):
    # given no setting, then each category has its documented default
    settings.RETENTION_DAYS = {}
    assert period_days(Category.LOOKUPS_WITHOUT_HITS) == 90
    assert all(period_days(c) == SCHEDULE[c].default_days for c in Category)
    # when the agency sets one, then that one changes and no other
    settings.RETENTION_DAYS = {"LOOKUPS_WITHOUT_HITS": 30}
    assert period_days(Category.LOOKUPS_WITHOUT_HITS) == 30
    assert period_days(Category.TIPS) == SCHEDULE[Category.TIPS].default_days


def test_environment_variables_name_the_periods(monkeypatch):
    # given the agency's environment
    monkeypatch.setenv("TIPGRAPH_RETENTION_LOOKUPS_WITHOUT_HITS_DAYS", "30")
    monkeypatch.setenv("TIPGRAPH_RETENTION_AUDIT_LOG_DAYS", "3650")
    # when the settings read it, then each variable is one category's period
    found = _retention_days()
    assert found["LOOKUPS_WITHOUT_HITS"] == 30
    assert found["AUDIT_LOG"] == 3650
    # and a period that is no number stops the start, naming the variable
    monkeypatch.setenv("TIPGRAPH_RETENTION_TIPS_DAYS", "twenty years")
    with pytest.raises(ImproperlyConfigured, match="TIPGRAPH_RETENTION_TIPS_DAYS must be a whole"):
        _retention_days()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"LOOKUP_WITHOUT_HITS": 30}, "names 'LOOKUP_WITHOUT_HITS', which is no retention"),
        ({"TIPS": 0}, "RETENTION_DAYS['TIPS'] must be a whole number of days, at least 1"),
        ({"TIPS": "7300"}, "RETENTION_DAYS['TIPS'] must be a whole number of days"),
    ],
)
def test_a_wrong_setting_fails_the_system_check(settings, setting, message):
    # given a mistyped category or a period that is no whole number of days
    settings.RETENTION_DAYS = setting
    # then the check refuses it, rather than silently keeping the default
    problems = check_retention_schedule()
    assert [p.id for p in problems] == ["backend.E004"]
    assert message in problems[0].msg


def test_disclosures_kept_less_than_five_years_are_warned_about(settings):
    settings.RETENTION_DAYS = {"DISCLOSURES": 365}
    assert [p.id for p in check_retention_schedule()] == ["backend.W001"]


def test_the_docs_state_every_category_with_its_default():
    # given docs/retention.md's table of defaults
    text = DOCS.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d+) \|", text, flags=re.MULTILINE))
    # then it lists every category with the default the code applies, and the schedule
    assert {name: int(d) for name, d in rows.items()} == {
        c.value: SCHEDULE[c].default_days for c in Category
    }
    assert retention.NARA_SCHEDULE in text
    assert "TIPGRAPH_RETENTION_<CATEGORY>_DAYS" in text
