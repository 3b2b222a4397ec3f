"""The regular privilege review: which active accounts need a look, and why.

An account is reported when its privileges were not reviewed within ``review_days`` days
(never reviewed counts), or when it has been idle for more than ``idle_days`` days. Idle is
measured from the last GraphQL activity (``last_activity_at``), else the last sign-in, else
the day the account was created. Deactivated accounts are not reported: their access is
already removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from backend.models import User

__all__ = [
    "IDLE",
    "NEVER_REVIEWED",
    "REVIEW_OVERDUE",
    "ReviewFinding",
    "ReviewReason",
    "last_seen",
    "privilege_review",
]

#: The account's privileges have never been reviewed.
NEVER_REVIEWED = "NEVER_REVIEWED"
#: The last privilege review is older than the review interval.
REVIEW_OVERDUE = "REVIEW_OVERDUE"
#: The account has not been used for longer than the idle limit.
IDLE = "IDLE"


@dataclass(frozen=True)
class ReviewReason:
    """Why an account is in the review: a stable ``code`` and a sentence for the reviewer."""

    code: str
    message: str


@dataclass(frozen=True)
class ReviewFinding:
    """One account that needs a privilege review, with every reason."""

    user: User
    last_seen_at: dt.datetime
    reasons: tuple[ReviewReason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


def last_seen(user: User) -> tuple[dt.datetime, str]:
    """When the account was last used, and what that date is: the last activity, else the
    last sign-in, else its creation."""
    if user.last_activity_at is not None:
        return user.last_activity_at, "last activity"
    if user.last_login is not None:
        return user.last_login, "last sign-in"
    return user.date_joined, "created, never used"


def _reasons(user: User, now: dt.datetime, review_days: int, idle_days: int) -> list[ReviewReason]:
    reasons = []
    reviewed = user.privileges_reviewed_at
    if reviewed is None:
        reasons.append(ReviewReason(NEVER_REVIEWED, "privileges never reviewed"))
    elif reviewed < now - dt.timedelta(days=review_days):
        reasons.append(
            ReviewReason(
                REVIEW_OVERDUE,
                f"privileges last reviewed on {reviewed.date().isoformat()}, "
                f"more than {review_days} days ago",
            )
        )
    seen, what = last_seen(user)
    if seen < now - dt.timedelta(days=idle_days):
        reasons.append(
            ReviewReason(
                IDLE,
                f"idle since {seen.date().isoformat()} ({what}), more than {idle_days} days",
            )
        )
    return reasons


def privilege_review(
    *,
    now: dt.datetime | None = None,
    review_days: int | None = None,
    idle_days: int | None = None,
) -> list[ReviewFinding]:
    """Active accounts due for a privilege review or idle too long, ordered by username.

    ``review_days`` defaults to ``settings.PRIVILEGE_REVIEW_DAYS`` and ``idle_days`` to
    ``settings.IDLE_ACCOUNT_DAYS``; both must be at least 1.
    """
    now = now or timezone.now()
    review_days = settings.PRIVILEGE_REVIEW_DAYS if review_days is None else review_days
    idle_days = settings.IDLE_ACCOUNT_DAYS if idle_days is None else idle_days
    if review_days < 1 or idle_days < 1:
        raise ValueError("review_days and idle_days must be at least 1")
    due = (
        User.objects.filter(is_active=True)
        .annotate(seen=Coalesce("last_activity_at", "last_login", "date_joined"))
        .filter(
            Q(privileges_reviewed_at__isnull=True)
            | Q(privileges_reviewed_at__lt=now - dt.timedelta(days=review_days))
            | Q(seen__lt=now - dt.timedelta(days=idle_days))
        )
        .order_by("username")
    )
    findings = []
    for user in due:
        if reasons := _reasons(user, now, review_days, idle_days):
            findings.append(ReviewFinding(user, last_seen(user)[0], tuple(reasons)))
    return findings
