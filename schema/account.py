"""Accounts: the regular privilege review, for those who approve and remove access."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated

import strawberry

from permissions.classes import allow
from permissions.matrix import describe
from permissions.review import ReviewFinding
from resolvers import accounts as resolve

__all__ = ["AccountQuery", "PrivilegeFinding", "PrivilegeReviewReason"]


@strawberry.enum(description="Why an account is in the privilege review.")
class PrivilegeReviewReason(Enum):
    NEVER_REVIEWED = strawberry.enum_value(
        "NEVER_REVIEWED", description="The account's privileges have never been reviewed."
    )
    REVIEW_OVERDUE = strawberry.enum_value(
        "REVIEW_OVERDUE", description="The last privilege review is older than reviewDays."
    )
    IDLE = strawberry.enum_value(
        "IDLE", description="The account has not been used for more than idleDays."
    )


@strawberry.type(description="An active account that needs a privilege review, and why.")
class PrivilegeFinding:
    username: str
    role: str = strawberry.field(description="The account's role, e.g. ANALYST.")
    agency: str = strawberry.field(description="The agency the user works for.")
    last_seen_at: datetime.datetime = strawberry.field(
        description="When the account was last used: its last GraphQL activity, else its last "
        "sign-in, else its creation."
    )
    privileges_reviewed_at: datetime.datetime | None = strawberry.field(
        description="The last privilege review; null when never reviewed."
    )
    reason_codes: list[PrivilegeReviewReason] = strawberry.field(
        description="Every reason, as a stable code."
    )
    reasons: list[str] = strawberry.field(
        description="Every reason as a sentence for the reviewer, in the order of reasonCodes."
    )

    @classmethod
    def from_finding(cls, finding: ReviewFinding) -> PrivilegeFinding:
        user = finding.user
        return cls(
            username=user.username,
            role=user.role,
            agency=user.agency,
            last_seen_at=finding.last_seen_at,
            privileges_reviewed_at=user.privileges_reviewed_at,
            reason_codes=[PrivilegeReviewReason(code) for code in finding.codes],
            reasons=[reason.message for reason in finding.reasons],
        )


@strawberry.type
class AccountQuery:
    @strawberry.field(
        extensions=allow("Query.privilegeReview"),
        description=describe(
            "Query.privilegeReview",
            "The privilege review: active accounts whose privileges were not reviewed within "
            "reviewDays (never reviewed counts) or that have been idle for more than idleDays, "
            "ordered by username, each with its reasons. Record the review, or deactivate the "
            "account, in the admin.",
        ),
    )
    def privilege_review(
        self,
        review_days: Annotated[
            int | None,
            strawberry.argument(
                description="Days between privilege reviews, at least 1 (default: the "
                "server's PRIVILEGE_REVIEW_DAYS)."
            ),
        ] = None,
        idle_days: Annotated[
            int | None,
            strawberry.argument(
                description="Days without use after which an account is idle, at least 1 "
                "(default: the server's IDLE_ACCOUNT_DAYS)."
            ),
        ] = None,
    ) -> list[PrivilegeFinding]:
        findings = resolve.privilege_review(review_days=review_days, idle_days=idle_days)
        return [PrivilegeFinding.from_finding(finding) for finding in findings]
