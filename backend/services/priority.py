"""Priority score of a tip, from stated factors, each explained.

``assess_priority`` is pure: the facts about a tip in, the factors (name, points, explanation),
their sum and the priority band (1 highest .. 5 lowest) out. ``apply_priority`` gathers those
facts from the database for one tip and stores the score and factors on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.models import SubjectRole, Tip, TipCategory, TipSubject

__all__ = [
    "BANDS",
    "CATEGORY_POINTS",
    "PriorityAssessment",
    "PriorityFactor",
    "PriorityFacts",
    "apply_priority",
    "assess_priority",
    "assign_priority",
    "band_for",
    "facts_of",
    "stored_factors",
    "tip_facts",
]

#: Points per category: offences against a child in person weigh most.
CATEGORY_POINTS: dict[str, int] = {
    TipCategory.PRODUCTION: 40,
    TipCategory.ENTICEMENT: 35,
    TipCategory.CHILD_SEX_TOURISM: 35,
    TipCategory.DISTRIBUTION: 20,
    TipCategory.POSSESSION: 15,
    TipCategory.OTHER: 0,
}
ESCALATED_POINTS = 15
ACCESS_TO_CHILDREN_POINTS = 25
HANDS_ON_POINTS = 30
PRIOR_TIP_POINTS = 5
PRIOR_TIPS_MAX_POINTS = 20
SEX_OFFENDER_POINTS = 20
#: (lowest score, band), highest first: a score of at least that many points gets that band.
BANDS: tuple[tuple[float, int], ...] = ((75, 1), (50, 2), (15, 3), (5, 4), (0, 5))


@dataclass(frozen=True)
class PriorityFactor:
    """One reason for a tip's priority, with the points it adds."""

    name: str
    points: float
    explanation: str


@dataclass(frozen=True)
class PriorityFacts:
    """What the priority of a tip is computed from."""

    category: str
    escalated: bool = False
    access_to_children: bool = False
    hands_on: bool = False
    prior_tips_in_cluster: int = 0
    registered_sex_offenders: int = 0


@dataclass(frozen=True)
class PriorityAssessment:
    score: float
    band: int
    factors: tuple[PriorityFactor, ...]


def band_for(score: float) -> int:
    """The priority band (1 highest .. 5 lowest) of a score."""
    for lowest, band in BANDS:
        if score >= lowest:
            return band
    return BANDS[-1][1]


def assess_priority(facts: PriorityFacts) -> PriorityAssessment:
    """Score a tip: the sum of the points of its factors, and the band of that sum."""
    label = TipCategory(facts.category).label
    factors = [
        PriorityFactor(
            "CATEGORY",
            CATEGORY_POINTS[facts.category],
            f"category {label}",
        )
    ]
    if facts.escalated:
        factors.append(
            PriorityFactor("ESCALATED", ESCALATED_POINTS, "the source escalated the tip")
        )
    if facts.access_to_children:
        factors.append(
            PriorityFactor(
                "ACCESS_TO_CHILDREN",
                ACCESS_TO_CHILDREN_POINTS,
                "the subject is reported to have access to children",
            )
        )
    if facts.hands_on:
        factors.append(
            PriorityFactor("HANDS_ON", HANDS_ON_POINTS, "indicators of hands-on offending")
        )
    if facts.prior_tips_in_cluster > 0:
        count = facts.prior_tips_in_cluster
        factors.append(
            PriorityFactor(
                "PRIOR_TIPS_IN_CLUSTER",
                min(PRIOR_TIP_POINTS * count, PRIOR_TIPS_MAX_POINTS),
                f"{count} other tip{'s' if count != 1 else ''} in the same cluster "
                f"({PRIOR_TIP_POINTS} points each, at most {PRIOR_TIPS_MAX_POINTS})",
            )
        )
    if facts.registered_sex_offenders > 0:
        count = facts.registered_sex_offenders
        factors.append(
            PriorityFactor(
                "SEX_OFFENDER_REGISTERED",
                SEX_OFFENDER_POINTS,
                f"{count} person{'s' if count != 1 else ''} named (not as victim) on a "
                "sex-offender registry",
            )
        )
    score = float(sum(f.points for f in factors))
    return PriorityAssessment(score=score, band=band_for(score), factors=tuple(factors))


def facts_of(tip: Tip) -> PriorityFacts:
    """The priority facts of a stored tip."""
    prior = (
        Tip.objects.filter(cluster_id=tip.cluster_id, removed_at__isnull=True)
        .exclude(pk=tip.pk)
        .count()
        if tip.cluster_id
        else 0
    )
    registered = (
        TipSubject.objects.filter(
            tip=tip, subject__sex_offender_registered=True, subject__removed_at__isnull=True
        )
        .exclude(role=SubjectRole.VICTIM)
        .values("subject_id")
        .distinct()
        .count()
    )
    return tip_facts(tip, prior_tips_in_cluster=prior, registered_sex_offenders=registered)


#: The tip's own columns its priority is computed from, in ``PriorityFacts``' names (the other
#: facts are counts the caller reads).
TIP_FACT_COLUMNS = ("category", "escalated", "access_to_children", "hands_on")


def tip_facts(
    tip: Tip, *, prior_tips_in_cluster: int, registered_sex_offenders: int
) -> PriorityFacts:
    """The priority facts of ``tip``: its own columns, and the two counts the caller read
    (for one tip, ``facts_of``)."""
    return column_facts(
        [getattr(tip, column) for column in TIP_FACT_COLUMNS],
        prior_tips_in_cluster=prior_tips_in_cluster,
        registered_sex_offenders=registered_sex_offenders,
    )


def column_facts(
    values: Sequence[Any], *, prior_tips_in_cluster: int, registered_sex_offenders: int
) -> PriorityFacts:
    """The priority facts of a tip from the values of its ``TIP_FACT_COLUMNS`` (in that order)
    and the two counts: what the importer reads for a batch, set-based, without an instance
    per tip."""
    return PriorityFacts(
        **dict(zip(TIP_FACT_COLUMNS, values, strict=True)),
        prior_tips_in_cluster=prior_tips_in_cluster,
        registered_sex_offenders=registered_sex_offenders,
    )


def stored_factors(assessment: PriorityAssessment) -> list[dict[str, Any]]:
    """An assessment's factors as a tip stores them (``Tip.priority_factors``): each factor's
    fields as a dict (what ``asdict`` gives, without its deep copy: a bulk import scores every
    tip twice)."""
    return [dict(vars(f)) for f in assessment.factors]


def stored_priority(
    facts: PriorityFacts, *, priority: int, set_band: bool
) -> tuple[PriorityAssessment, list[dict[str, Any]], int]:
    """The assessment of ``facts``, its factors as a tip stores them, and the tip's priority:
    the band with ``set_band``, else ``priority`` as it was."""
    assessment = assess_priority(facts)
    return assessment, stored_factors(assessment), assessment.band if set_band else priority


def assign_priority(tip: Tip, facts: PriorityFacts, *, set_band: bool) -> PriorityAssessment:
    """Set ``tip``'s priority score and factors from ``facts`` (with ``set_band``, its
    priority to the band too), without saving it."""
    assessment, tip.priority_factors, tip.priority = stored_priority(
        facts, priority=tip.priority, set_band=set_band
    )
    tip.priority_score = assessment.score
    return assessment


def apply_priority(*, tip: Tip, set_band: bool = False) -> PriorityAssessment:
    """Compute and store ``tip``'s priority score and factors; with ``set_band``, also set its
    priority to the computed band. Call inside the caller's transaction."""
    tip.refresh_from_db(fields=["cluster"])
    assessment = assign_priority(tip, facts_of(tip), set_band=set_band)
    fields = ["priority_score", "priority_factors"]
    if set_band:
        fields.append("priority")
    tip.save(update_fields=fields)
    return assessment
