"""The privilege review: active accounts not reviewed within the review interval, or idle past
the idle limit, with the reasons; as a function, a management command and a GraphQL field
for system administrators and program managers."""

from __future__ import annotations

import csv
import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend import models as m
from backend.management.commands.privilege_review import Command
from backend.models import Role
from permissions.review import (
    IDLE,
    NEVER_REVIEWED,
    REVIEW_OVERDUE,
    ReviewReason,
    privilege_review,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def account(username: str, *, now: dt.datetime = NOW, reviewed=10, active=1, **fields) -> m.User:
    """An account reviewed ``reviewed`` days and last active ``active`` days before ``now``
    (``None``: never), created 400 days before."""
    return UserFactory(
        **{
            "username": username,
            "privileges_reviewed_at": None if reviewed is None else now - dt.timedelta(reviewed),
            "last_activity_at": None if active is None else now - dt.timedelta(active),
            "last_login": None,
            "date_joined": now - dt.timedelta(400),
            **fields,
        }
    )


def reported(**kwargs) -> dict[str, list[ReviewReason]]:
    return {f.user.username: list(f.reasons) for f in privilege_review(now=NOW, **kwargs)}


# privilege_review


def test_a_reviewed_active_account_is_not_reported():
    account("fresh")
    assert reported() == {}


def test_a_never_reviewed_account_is_reported():
    account("new", reviewed=None)
    assert reported() == {"new": [ReviewReason(NEVER_REVIEWED, "privileges never reviewed")]}


def test_a_review_older_than_the_interval_is_overdue_and_the_last_day_is_not():
    # given one account reviewed 181 days ago and one exactly 180 days ago
    account("overdue", reviewed=181)
    account("due-today", reviewed=180)
    # then only the first is reported, with the date of its last review
    assert reported() == {
        "overdue": [
            ReviewReason(
                REVIEW_OVERDUE, "privileges last reviewed on 2024-12-02, more than 180 days ago"
            )
        ]
    }


def test_an_account_idle_past_the_limit_is_reported_and_the_last_day_is_not():
    account("idle", active=91)
    account("idle-today", active=90)
    assert reported() == {
        "idle": [ReviewReason(IDLE, "idle since 2025-03-02 (last activity), more than 90 days")]
    }


def test_idle_falls_back_to_the_last_sign_in_then_to_the_creation():
    # given accounts without GraphQL activity: one signed in 100 days ago, one never used
    account("signed-in", active=None, last_login=NOW - dt.timedelta(100))
    account("never-used", active=None, date_joined=NOW - dt.timedelta(200))
    # and one active yesterday whose last sign-in is old: activity counts first
    account("active", active=1, last_login=NOW - dt.timedelta(300))
    # then the first two are idle since the date that was found
    assert reported() == {
        "never-used": [
            ReviewReason(IDLE, "idle since 2024-11-13 (created, never used), more than 90 days")
        ],
        "signed-in": [
            ReviewReason(IDLE, "idle since 2025-02-21 (last sign-in), more than 90 days")
        ],
    }


def test_an_account_gets_every_reason_ordered_by_username():
    account("zed", reviewed=None, active=100)
    account("amy", reviewed=200)
    findings = privilege_review(now=NOW)
    assert [(f.user.username, f.codes) for f in findings] == [
        ("amy", (REVIEW_OVERDUE,)),
        ("zed", (NEVER_REVIEWED, IDLE)),
    ]
    assert findings[1].last_seen_at == NOW - dt.timedelta(100)


def test_deactivated_accounts_are_not_reported():
    account("gone", reviewed=None, active=500, is_active=False)
    assert reported() == {}


def test_the_intervals_can_be_given():
    account("reviewed-20-days-ago", reviewed=20, active=5)
    assert reported(review_days=30, idle_days=10) == {}
    assert reported(review_days=15, idle_days=4) == {
        "reviewed-20-days-ago": [
            ReviewReason(
                REVIEW_OVERDUE, "privileges last reviewed on 2025-05-12, more than 15 days ago"
            ),
            ReviewReason(IDLE, "idle since 2025-05-27 (last activity), more than 4 days"),
        ]
    }


def test_the_default_intervals_come_from_the_settings(settings):
    settings.PRIVILEGE_REVIEW_DAYS = 5
    settings.IDLE_ACCOUNT_DAYS = 365
    account("week-old-review", reviewed=7, active=100)
    assert [f.codes for f in privilege_review(now=NOW)] == [(REVIEW_OVERDUE,)]


@pytest.mark.parametrize(("review_days", "idle_days"), [(0, 90), (180, 0), (-1, -1)])
def test_intervals_must_be_at_least_one_day(review_days, idle_days):
    with pytest.raises(ValueError, match="at least 1"):
        privilege_review(review_days=review_days, idle_days=idle_days)


# The management command


def run(*args: str) -> str:
    out = StringIO()
    call_command("privilege_review", *args, stdout=out)
    return out.getvalue()


def test_command_prints_the_findings():
    # given an account never reviewed and one idle 100 days, and one fine
    now = timezone.now()
    account("never", now=now, reviewed=None, role=Role.AUDITOR)
    idle = account("sleepy", now=now, active=100)
    account("fine", now=now)
    # when the report is printed
    output = run()
    # then it lists the two with their reasons
    since = idle.last_activity_at.date().isoformat()
    assert output.splitlines() == [
        "2 account(s) need a privilege review (review every 180 days, idle after 90 days):",
        f"  {'never':<28} {'AUDITOR':<22} privileges never reviewed",
        f"  {'sleepy':<28} {'ANALYST':<22} idle since {since} (last activity), more than 90 days",
    ]


def test_command_writes_csv_with_the_given_intervals():
    now = timezone.now()
    user = account("late", now=now, reviewed=40, active=20)
    reviewed = user.privileges_reviewed_at.date().isoformat()
    seen = user.last_activity_at.date().isoformat()
    output = run("--csv", "--review-days", "30", "--idle-days", "10")
    assert list(csv.reader(StringIO(output))) == [
        ["username", "role", "last_seen", "privileges_reviewed_at", "reason_codes", "reasons"],
        [
            "late",
            "ANALYST",
            seen,
            reviewed,
            "REVIEW_OVERDUE IDLE",
            f"privileges last reviewed on {reviewed}, more than 30 days ago; "
            f"idle since {seen} (last activity), more than 10 days",
        ],
    ]


def test_command_csv_neutralises_a_username_that_looks_like_a_formula():
    # given an overdue account whose username a spreadsheet would run as a formula
    account("=HYPERLINK(1)", now=timezone.now(), reviewed=400)
    # when the review is written as CSV
    rows = list(csv.reader(StringIO(run("--csv"))))
    # then the cell is text (the one CSV writer, backend.csv_export), not a formula
    assert rows[1][0] == "'=HYPERLINK(1)"


def test_command_says_when_nothing_needs_attention():
    account("fine", now=timezone.now())
    assert run() == "No account needs attention (review every 180 days, idle after 90 days).\n"


def test_command_refuses_a_zero_interval():
    with pytest.raises(CommandError, match="at least 1"):
        run("--idle-days", "0")


def test_command_help_explains_the_options():
    text = Command().create_parser("manage.py", "privilege_review").format_help()
    assert "--review-days DAYS" in text
    assert "--idle-days DAYS" in text
    assert "--csv" in text
    assert "manage.py privilege_review --csv > review.csv" in text


# The GraphQL field

REVIEW = """query ($reviewDays: Int, $idleDays: Int) {
    privilegeReview(reviewDays: $reviewDays, idleDays: $idleDays) {
        username role agency lastSeenAt privilegesReviewedAt reasonCodes reasons
    }
}"""


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER])
def test_reviewers_get_the_privilege_review(gql_as, role):
    # given an account never reviewed and idle since it was created
    now = timezone.now()
    joined = now - dt.timedelta(days=120)
    account("dormant", now=now, reviewed=None, active=None, date_joined=joined, agency="HSI")
    # when a system administrator or program manager asks for the review
    result = gql_as(role)(REVIEW)
    # then the account is listed with its reasons
    assert result == {
        "data": {
            "privilegeReview": [
                {
                    "username": "dormant",
                    "role": "ANALYST",
                    "agency": "HSI",
                    "lastSeenAt": joined.isoformat(),
                    "privilegesReviewedAt": None,
                    "reasonCodes": ["NEVER_REVIEWED", "IDLE"],
                    "reasons": [
                        "privileges never reviewed",
                        f"idle since {joined.date().isoformat()} (created, never used), "
                        "more than 90 days",
                    ],
                }
            ]
        }
    }


def test_review_takes_the_intervals_as_arguments(gql_as):
    # given an account reviewed 50 days ago (the caller was reviewed 30 days ago)
    account("dave", now=timezone.now(), reviewed=50)
    gql = gql_as(Role.PROGRAM_MANAGER)
    # then it is due with a 45-day interval, not with the default
    due = gql(REVIEW, {"reviewDays": 45})["data"]["privilegeReview"]
    assert [(f["username"], f["reasonCodes"]) for f in due] == [("dave", ["REVIEW_OVERDUE"])]
    assert gql(REVIEW) == {"data": {"privilegeReview": []}}


@pytest.mark.parametrize(
    "role", [Role.ANALYST, Role.INVESTIGATOR, Role.AUDITOR, Role.REPORTING_CLIENT]
)
def test_other_roles_are_refused_the_privilege_review(gql_as, role):
    account("dormant", now=timezone.now(), reviewed=None)
    result = gql_as(role)(REVIEW)
    assert result["data"] is None
    assert [(e["message"], e["extensions"]) for e in result["errors"]] == [
        (
            "Your role may not use privilegeReview",
            {"code": "FORBIDDEN"},
        )
    ]


def test_review_refuses_a_zero_interval(gql_as):
    result = gql_as(Role.SYSTEM_ADMINISTRATOR)(REVIEW, {"idleDays": 0})
    assert result["data"] is None
    assert [(e["message"], e["extensions"]) for e in result["errors"]] == [
        ("reviewDays and idleDays must be at least 1", {"code": "INVALID_INPUT"})
    ]
