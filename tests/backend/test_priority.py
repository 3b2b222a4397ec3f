"""backend.services.priority: the score of a tip from stated factors, each explained, and
tips.create_tip / update_tip storing it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend import models as m
from backend.services.priority import (
    PriorityFactor,
    PriorityFacts,
    apply_priority,
    assess_priority,
    band_for,
)
from backend.services.tips import add_subject_to_tip, create_tip, update_tip
from tests.factories import SourceFactory, SubjectFactory, TipFactory, TipSubjectFactory


def test_every_factor_adds_its_points_with_an_explanation():
    # given a production tip, escalated, with access to children, hands-on indicators, three
    # other tips in its cluster and one registered sex offender named
    facts = PriorityFacts(
        category=m.TipCategory.PRODUCTION,
        escalated=True,
        access_to_children=True,
        hands_on=True,
        prior_tips_in_cluster=3,
        registered_sex_offenders=1,
    )
    # when assessed
    assessment = assess_priority(facts)
    # then each factor is listed with its points, the score is their sum, the band is 1
    assert assessment.factors == (
        PriorityFactor("CATEGORY", 40, "category Production"),
        PriorityFactor("ESCALATED", 15, "the source escalated the tip"),
        PriorityFactor(
            "ACCESS_TO_CHILDREN", 25, "the subject is reported to have access to children"
        ),
        PriorityFactor("HANDS_ON", 30, "indicators of hands-on offending"),
        PriorityFactor(
            "PRIOR_TIPS_IN_CLUSTER",
            15,
            "3 other tips in the same cluster (5 points each, at most 20)",
        ),
        PriorityFactor(
            "SEX_OFFENDER_REGISTERED",
            20,
            "1 person named (not as victim) on a sex-offender registry",
        ),
    )
    assert (assessment.score, assessment.band) == (145.0, 1)


@pytest.mark.parametrize(
    ("facts", "score", "band"),
    [
        (PriorityFacts(category=m.TipCategory.OTHER), 0.0, 5),
        (PriorityFacts(category=m.TipCategory.OTHER, prior_tips_in_cluster=1), 5.0, 4),
        (PriorityFacts(category=m.TipCategory.POSSESSION), 15.0, 3),
        (PriorityFacts(category=m.TipCategory.DISTRIBUTION), 20.0, 3),
        (PriorityFacts(category=m.TipCategory.ENTICEMENT, escalated=True), 50.0, 2),
        (PriorityFacts(category=m.TipCategory.CHILD_SEX_TOURISM, hands_on=True), 65.0, 2),
        (PriorityFacts(category=m.TipCategory.PRODUCTION, access_to_children=True), 65.0, 2),
        (
            PriorityFacts(category=m.TipCategory.PRODUCTION, hands_on=True, escalated=True),
            85.0,
            1,
        ),
        (PriorityFacts(category=m.TipCategory.OTHER, prior_tips_in_cluster=9), 20.0, 3),
    ],
)
def test_score_maps_to_a_band(facts, score, band):
    # when assessed, then the score and band are as stated
    assessment = assess_priority(facts)
    assert (assessment.score, assessment.band) == (score, band)


def test_band_edges():
    assert [band_for(s) for s in (0, 4.9, 5, 14.9, 15, 49.9, 50, 74.9, 75)] == [
        5,
        5,
        4,
        4,
        3,
        3,
        2,
        2,
        1,
    ]


@pytest.mark.django_db
def test_prior_tips_and_registered_offenders_are_counted_from_the_database():
    # given a cluster of three tips, one of them removed, and a tip naming a registered sex
    # offender as suspect and another one as victim
    cluster = m.Cluster.objects.create(size=3)
    TipFactory(cluster=cluster)
    TipFactory(cluster=cluster, removed_at=timezone.now())
    tip = TipFactory(cluster=cluster, category=m.TipCategory.POSSESSION)
    TipSubjectFactory(tip=tip, subject=SubjectFactory(sex_offender_registered=True))
    TipSubjectFactory(
        tip=tip,
        subject=SubjectFactory(sex_offender_registered=True),
        role=m.SubjectRole.VICTIM,
    )
    # when its priority is applied
    apply_priority(tip=tip)
    # then one other live tip and one named offender count, and the factors are stored
    tip.refresh_from_db()
    assert tip.priority_score == 40.0
    assert tip.priority_factors == [
        {"name": "CATEGORY", "points": 15, "explanation": "category Possession"},
        {
            "name": "PRIOR_TIPS_IN_CLUSTER",
            "points": 5,
            "explanation": "1 other tip in the same cluster (5 points each, at most 20)",
        },
        {
            "name": "SEX_OFFENDER_REGISTERED",
            "points": 20,
            "explanation": "1 person named (not as victim) on a sex-offender registry",
        },
    ]
    assert tip.priority == 3  # untouched without set_band


@pytest.mark.django_db
def test_create_tip_scores_and_sets_the_band_unless_priority_is_given():
    # given a source
    source = SourceFactory()
    common = {"by": None, "source": source, "received_at": timezone.now()}
    # when an escalated hands-on production tip is recorded without a priority
    scored = create_tip(
        **common,
        source_reference="A",
        category=m.TipCategory.PRODUCTION,
        escalated=True,
        hands_on=True,
    )
    # then its score is stored and its priority is the band
    scored.refresh_from_db()
    assert (scored.priority_score, scored.priority, scored.escalated, scored.hands_on) == (
        85.0,
        1,
        True,
        True,
    )
    assert [f["name"] for f in scored.priority_factors] == ["CATEGORY", "ESCALATED", "HANDS_ON"]
    # when the same is recorded with an explicit priority, then that priority stays
    manual = create_tip(
        **common,
        source_reference="B",
        category=m.TipCategory.PRODUCTION,
        escalated=True,
        hands_on=True,
        priority=4,
    )
    manual.refresh_from_db()
    assert (manual.priority_score, manual.priority) == (85.0, 4)


@pytest.mark.django_db
def test_update_tip_rescores_when_a_factor_changes():
    # given a scored distribution tip
    tip = create_tip(
        by=None,
        source=SourceFactory(),
        source_reference="A",
        received_at=timezone.now() - dt.timedelta(days=1),
        category=m.TipCategory.DISTRIBUTION,
    )
    assert (tip.priority_score, tip.priority) == (20.0, 3)
    # when access to children is reported and the category becomes enticement
    update_tip(tip=tip, access_to_children=True, category=m.TipCategory.ENTICEMENT)
    # then the score follows and the manual priority field is left alone
    tip.refresh_from_db()
    assert (tip.priority_score, tip.priority, tip.access_to_children) == (60.0, 3, True)
    assert [f["name"] for f in tip.priority_factors] == ["CATEGORY", "ACCESS_TO_CHILDREN"]
    # when a registered sex offender is named on it, then it is re-scored again
    add_subject_to_tip(tip=tip, subject=SubjectFactory(sex_offender_registered=True))
    tip.refresh_from_db()
    assert tip.priority_score == 80.0
