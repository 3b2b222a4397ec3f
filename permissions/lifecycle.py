"""May this account act? The access lifecycle of the PIA, checked on every request.

A supervisor nominates the user; the user completes training and certification; a system
administrator reviews compliance; the program manager gives final approval; the user accepts
the rules of behaviour. Annual privacy and security training must stay current: an account
whose training has lapsed cannot act.

``access_problems`` reads only the user's own fields (no queries), so it can be asked for
every operation; ``permissions.gate.check_access``, the one gate every door asks, adds it to
the other reasons an account may not act. ``record_activity`` keeps ``last_activity_at`` for
the privilege review without writing on every request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from backend.models import User

__all__ = [
    "ACCESS_NOT_APPROVED",
    "ACTIVITY_WRITE_INTERVAL",
    "TRAINING_LAPSED",
    "AccessProblem",
    "access_problems",
    "record_activity",
    "training_lapses_on",
]

#: A step of the access lifecycle is missing: the account was never fully approved.
ACCESS_NOT_APPROVED = "ACCESS_NOT_APPROVED"
#: The annual privacy and security training is missing or out of date.
TRAINING_LAPSED = "TRAINING_LAPSED"

#: ``last_activity_at`` is written at most once per this interval per user.
ACTIVITY_WRITE_INTERVAL = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class AccessProblem:
    """One reason an account cannot act: a stable ``code`` and a sentence for the user."""

    code: str
    message: str


#: The approval steps, in the order of the PIA: (field that records the step, what is missing).
_STEPS: tuple[tuple[str, str], ...] = (
    ("nominated_at", "no supervisor has nominated the account"),
    ("certified_at", "training and certification are not complete"),
    ("compliance_reviewed_at", "a system administrator has not reviewed compliance"),
    ("approved_at", "the program manager has not given final approval"),
    ("rules_accepted_at", "the rules of behaviour have not been accepted"),
)


def training_lapses_on(user: User) -> dt.datetime | None:
    """When the user's annual training lapses (or lapsed); ``None`` if never trained."""
    if user.annual_training_at is None:
        return None
    return user.annual_training_at + dt.timedelta(days=settings.ANNUAL_TRAINING_DAYS)


def access_problems(user: User, *, now: dt.datetime | None = None) -> list[AccessProblem]:
    """Every reason ``user`` may not act, most fundamental first; empty when it may.

    First the missing approval steps in PIA order (code ``ACCESS_NOT_APPROVED``), then the
    annual training (code ``TRAINING_LAPSED``) when it is missing or older than
    ``settings.ANNUAL_TRAINING_DAYS`` days. A nomination needs both its date and the
    nominating supervisor.
    """
    now = now or timezone.now()
    problems = []
    for field, missing in _STEPS:
        done = getattr(user, field) is not None
        if field == "nominated_at":
            done = done and bool(user.nominated_by.strip())
        if not done:
            problems.append(AccessProblem(ACCESS_NOT_APPROVED, missing))
    lapses = training_lapses_on(user)
    if lapses is None:
        problems.append(
            AccessProblem(TRAINING_LAPSED, "no annual privacy and security training is on record")
        )
    elif lapses < now:
        problems.append(
            AccessProblem(
                TRAINING_LAPSED,
                f"annual privacy and security training lapsed on {lapses.date().isoformat()}",
            )
        )
    return problems


def record_activity(user: Any, *, now: dt.datetime | None = None) -> bool:
    """Set ``user.last_activity_at`` to now unless it was set within the last five minutes.

    The in-memory value spares a query on most requests; the conditional UPDATE keeps
    concurrent requests from writing twice. Returns whether a row was written.
    """
    now = now or timezone.now()
    last = user.last_activity_at
    if last is not None and now - last < ACTIVITY_WRITE_INTERVAL:
        return False
    written = (
        User.objects.filter(pk=user.pk)
        .filter(
            Q(last_activity_at__isnull=True)
            | Q(last_activity_at__lte=now - ACTIVITY_WRITE_INTERVAL)
        )
        .update(last_activity_at=now)
    )
    user.last_activity_at = now
    return bool(written)
