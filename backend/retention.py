"""The retention schedule, as data: each record category, its period and the event that starts
its clock, and the category of every model.

The Privacy Impact Assessment binds the platform to the records schedule the National Archives
approved for it (N1-567-10-014) without quoting its periods, so the periods here are defaults
that an agency replaces with its own (``docs/retention.md``): ``RETENTION_DAYS`` in the settings,
filled from ``TIPGRAPH_RETENTION_<CATEGORY>_DAYS`` environment variables.

Every concrete model has one decision, in its entry of the model registry
(``backend.registry``, ``retention=``; ``decisions()`` reads them): ``Scheduled`` names the
categories whose clock decides when its rows are due, ``Unscheduled`` says why the schedule
does not reach it. The system check ``backend.E003`` (and
``tests/backend/test_retention_schedule.py``) fails for a model without one, so a new model's
one entry forces this decision with the others.

What is due when, given a moment, is computed by ``backend.services.retention`` (the clocks);
this module needs no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core import checks
from django.db import models

__all__ = [
    "NARA_SCHEDULE",
    "SCHEDULE",
    "Category",
    "Rule",
    "Scheduled",
    "Unscheduled",
    "cutoff",
    "decision_for",
    "decisions",
    "missing_decisions",
    "period_days",
]

#: The records schedule the PIA cites; its periods are not public, so agencies set them.
NARA_SCHEDULE = "N1-567-10-014"


class Category(StrEnum):
    """A retention category: records kept for one period after one kind of event."""

    TIPS = "TIPS"
    LEADS = "LEADS"
    LOOKUPS_WITH_HITS = "LOOKUPS_WITH_HITS"
    LOOKUPS_WITHOUT_HITS = "LOOKUPS_WITHOUT_HITS"
    DISCLOSURES = "DISCLOSURES"
    IMPORT_JOBS = "IMPORT_JOBS"
    UPLOADED_FILES = "UPLOADED_FILES"
    SESSIONS_AND_TOKENS = "SESSIONS_AND_TOKENS"
    AUDIT_LOG = "AUDIT_LOG"


@dataclass(frozen=True)
class Rule:
    """One category of the schedule: what it holds, its default period, what starts its clock
    and what keeps a record past its period anyway."""

    label: str
    default_days: int
    #: The event that starts a record's clock.
    trigger: str
    #: What keeps a record past its period anyway (legal holds, records that need it), as a
    #: sentence.
    kept_by: str


_YEAR = 365

#: The schedule. Periods are in days; ``period_days`` applies the agency's settings.
SCHEDULE: dict[Category, Rule] = {
    Category.TIPS: Rule(
        label="Tips and what only they keep (sightings, subjects, identifiers, research "
        "results, notes, links)",
        default_days=20 * _YEAR,
        trigger="the last activity on the tip: received, edited, or a note, research result "
        "or link added",
        kept_by="A legal hold, or a lead still kept, keeps a tip longer; a subject or "
        "identifier is kept while any tip, subject, lead or research result keeping it is.",
    ),
    Category.LEADS: Rule(
        label="Leads (with their deconfliction notices)",
        default_days=25 * _YEAR,
        trigger="the lead's closing or cancellation, or later activity on it (an edit or a note)",
        kept_by="An open lead (draft, referred, accepted or declined) has no clock yet; a legal "
        "hold keeps a lead longer.",
    ),
    Category.LOOKUPS_WITH_HITS: Rule(
        label="Traveller lookups that matched records",
        default_days=5 * _YEAR,
        trigger="the lookup",
        kept_by="An accounting of disclosure made through it, while kept, keeps it longer.",
    ),
    Category.LOOKUPS_WITHOUT_HITS: Rule(
        label="Traveller lookups that matched nothing",
        default_days=90,
        trigger="the lookup",
        kept_by="Nothing keeps it longer: a lookup that matched nothing is kept only briefly.",
    ),
    Category.DISCLOSURES: Rule(
        label="Accounting of disclosures (what a lookup returned to a partner)",
        default_days=5 * _YEAR,
        trigger="the disclosure",
        kept_by="The record disclosed, while kept, keeps it longer (Privacy Act, 5 U.S.C. "
        "552a(c)(2): five years or the life of the record, whichever is longer).",
    ),
    Category.IMPORT_JOBS: Rule(
        label="Import jobs (their reports)",
        default_days=_YEAR,
        trigger="the job's end (succeeded or failed)",
        kept_by="A queued or running job has no clock yet; nothing keeps a finished one longer.",
    ),
    Category.UPLOADED_FILES: Rule(
        label="Uploaded files of import jobs",
        default_days=30,
        trigger="the job's end (succeeded or failed)",
        kept_by="Nothing keeps a file longer: the tips keep what was imported from it.",
    ),
    Category.SESSIONS_AND_TOKENS: Rule(
        label="Sessions, API tokens and sign-in attempt records",
        default_days=90,
        trigger="the session's expiry, the token's expiry or revocation, the sign-in attempt",
        kept_by="A token neither expired nor revoked has no clock yet; nothing keeps the rest "
        "longer.",
    ),
    Category.AUDIT_LOG: Rule(
        label="The audit log, record history and the admin's change list",
        default_days=6 * _YEAR,
        trigger="the audited event or change",
        kept_by="Nothing keeps a row longer; a stored query text is kept while an audit row "
        "names it.",
    ),
}


def period_days(category: Category) -> int:
    """The category's period in days: the agency's setting (``RETENTION_DAYS``), else the
    default."""
    overrides: dict[str, int] = getattr(settings, "RETENTION_DAYS", {}) or {}
    return int(overrides.get(category.value, SCHEDULE[category].default_days))


def cutoff(category: Category, now: dt.datetime) -> dt.datetime:
    """Records of ``category`` whose clock started at or before this moment are past their
    period at ``now``: a record becomes due exactly ``period_days`` after its clock starts."""
    return now - dt.timedelta(days=period_days(category))


@dataclass(frozen=True)
class Scheduled:
    """The model's rows are disposed of when the clock of one of ``categories`` says so."""

    categories: tuple[Category, ...]
    #: How a row's clock is found (its own event, or the record it belongs to).
    how: str

    def __post_init__(self) -> None:
        if not self.categories or not self.how.strip():
            raise ValueError("a scheduled model needs its categories and how its clock is found")


@dataclass(frozen=True)
class Unscheduled:
    """The schedule does not reach the model's rows, for the reason given."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a model outside the retention schedule needs its reason")


def decisions() -> dict[str, Scheduled | Unscheduled]:
    """Model label -> its retention decision, from the model registry (``backend.registry``:
    the decision is part of each model's one entry), for the models that have one."""
    from backend.registry import REGISTRY

    return {label: entry.retention for label, entry in REGISTRY.items() if entry.retention}


def decision_for(model: type[models.Model]) -> Scheduled | Unscheduled:
    """The model's decision; ``KeyError`` naming the model when it has none."""
    label = model._meta.label
    try:
        return decisions()[label]
    except KeyError:
        raise KeyError(
            f"{label} has no retention decision in its backend/registry.py entry: name the "
            "category whose clock disposes of it (Scheduled) or say why none does (Unscheduled)"
        ) from None


def missing_decisions(candidates: Iterable[type[models.Model]] | None = None) -> list[str]:
    """Labels of the models (default: every registered one) without a retention decision."""
    from backend.registry import registered_models

    models_ = registered_models() if candidates is None else candidates
    decided = decisions()
    return sorted(m._meta.label for m in models_ if m._meta.label not in decided)


@checks.register(checks.Tags.models)
def check_retention_schedule(**kwargs: object) -> list[checks.CheckMessage]:
    """System checks: backend.E003, a model without a retention decision (or a decision for
    no model); backend.E004, a ``RETENTION_DAYS`` setting naming no category or not a whole
    number of days of at least one; backend.W001, disclosures kept less than five years."""
    problems: list[checks.CheckMessage] = [
        checks.Error(
            f"{label} has no retention decision",
            hint="Give its entry in backend/registry.py retention=Scheduled(categories, how) "
            "or retention=Unscheduled(reason).",
            id="backend.E003",
        )
        for label in missing_decisions()
    ]
    overrides = getattr(settings, "RETENTION_DAYS", {}) or {}
    for name, days in sorted(overrides.items()):
        if name not in Category.__members__:
            problems.append(
                checks.Error(
                    f"RETENTION_DAYS names {name!r}, which is no retention category",
                    hint="Use one of " + ", ".join(Category) + " (TIPGRAPH_RETENTION_<CATEGORY>"
                    "_DAYS).",
                    id="backend.E004",
                )
            )
        elif isinstance(days, bool) or not isinstance(days, int) or days < 1:
            problems.append(
                checks.Error(
                    f"RETENTION_DAYS[{name!r}] must be a whole number of days, at least 1; "
                    f"got {days!r}",
                    id="backend.E004",
                )
            )
    settings_valid = not any(problem.id == "backend.E004" for problem in problems)
    if settings_valid and period_days(Category.DISCLOSURES) < 5 * _YEAR:
        problems.append(
            checks.Warning(
                "the accounting of disclosures is kept less than five years",
                hint="The Privacy Act (5 U.S.C. 552a(c)(2)) keeps it five years or the life of "
                "the record, whichever is longer.",
                id="backend.W001",
            )
        )
    return problems
