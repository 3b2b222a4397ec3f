"""One gate for every door: may this account act here, now?

Every entry point asks ``check_access`` (or ``check_request``, which first reads how the
request authenticated), and nothing else decides: GraphQL (``schema.extensions``, whose root
fields then ask ``role_allows`` with their row of ``permissions.matrix.OPERATIONS``), the
statistics CSV download (it runs through GraphQL), the audit CSV export, the accounting of
disclosures CSV download, the dashboard, GraphiQL, the Django admin and the management
commands that act for an account (``issue_token``, ``dispose``, and ``run_import_worker`` for
each job's uploader). An account may act when all of these hold:

1. it is signed in (or sent a valid bearer token);
2. it is active (not deactivated, i.e. not removed);
3. django-axes has not locked its username out after repeated failed sign-ins;
4. every step of the access lifecycle is done and its annual training is current
   (``permissions.lifecycle.access_problems``);
5. its role may use the door (``Door.roles``; for GraphQL, each root field's roles).

The answer is a ``Decision`` carrying every problem at once, most fundamental first, each
with a stable code (``UNAUTHENTICATED``, ``ACCOUNT_DEACTIVATED``, ``LOCKED_OUT``,
``ACCESS_NOT_APPROVED``, ``TRAINING_LAPSED``, ``FORBIDDEN``, or a bearer token's own
``TOKEN_EXPIRED``), so that each door can say why in its own medium: a GraphQL error, a JSON
body, an HTML page, a ``CommandError``.

The doors that are not GraphQL fields take their roles from the matrix where they serve the
same data as a field (the audit export is the ``auditEvents`` search, the dashboard browses
``tips``), so the matrix stays the one place that says which role may do what.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from backend.models import Role
from permissions.authentication import account_locked_out
from permissions.lifecycle import (
    ACCESS_NOT_APPROVED,
    TRAINING_LAPSED,
    AccessProblem,
    access_problems,
)
from permissions.matrix import OPERATIONS

__all__ = [
    "ACCESS_NOT_APPROVED",
    "ACCOUNT_DEACTIVATED",
    "ADMIN_SITE",
    "API_TOKEN",
    "AUDIT_EXPORT",
    "DASHBOARD",
    "DISCLOSURE_ACCOUNTING",
    "DISPOSAL",
    "FORBIDDEN",
    "GRAPHIQL",
    "GRAPHQL",
    "IMPORT_JOB",
    "LOCKED_OUT",
    "REFUSAL_CODES",
    "TRAINING_LAPSED",
    "UNAUTHENTICATED",
    "AccessRefused",
    "Decision",
    "Door",
    "check_access",
    "check_request",
    "require_access",
    "role_allows",
]

#: Nobody is signed in (and no bearer token was sent).
UNAUTHENTICATED = "UNAUTHENTICATED"
#: The account was deactivated: its access has been removed.
ACCOUNT_DEACTIVATED = "ACCOUNT_DEACTIVATED"
#: django-axes locked the username after repeated failed sign-ins.
LOCKED_OUT = "LOCKED_OUT"
#: The account's role may not use this door.
FORBIDDEN = "FORBIDDEN"

#: Every code the gate refuses with (a bearer token's ``TOKEN_EXPIRED`` included): an audit
#: row with one of them is a denial.
REFUSAL_CODES: frozenset[str] = frozenset(
    {
        UNAUTHENTICATED,
        "TOKEN_EXPIRED",
        ACCOUNT_DEACTIVATED,
        LOCKED_OUT,
        ACCESS_NOT_APPROVED,
        TRAINING_LAPSED,
        FORBIDDEN,
    }
)
#: Codes meaning "we do not know who you are" (HTTP 401); every other refusal is a 403.
_NOBODY = frozenset({UNAUTHENTICATED, "TOKEN_EXPIRED"})

_SA, _PM = Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER


@dataclass(frozen=True)
class Door:
    """An entry point: its name (as audited), what it opens (for messages), who may use it."""

    name: str
    what: str
    roles: frozenset[str]


#: GraphQL as a whole: every role may pass the gate; each root field then admits the roles
#: of its row in the matrix (``permissions.classes.RolePermission`` asks ``role_allows``).
GRAPHQL = Door("graphql", "the GraphQL API", OPERATIONS["Query.viewer"])
#: The GraphiQL page (development only): a client of the GraphQL API.
GRAPHIQL = Door("graphiql", "GraphiQL", OPERATIONS["Query.viewer"])
#: ``/audit/export.csv``: the ``auditEvents`` search as a file.
AUDIT_EXPORT = Door("auditExportCsv", "the audit log export", OPERATIONS["Query.auditEvents"])
#: ``/disclosures/<record id>.csv``: the ``accountingOfDisclosures`` query as a file.
DISCLOSURE_ACCOUNTING = Door(
    "accountingOfDisclosuresCsv",
    "the accounting of disclosures",
    OPERATIONS["Query.accountingOfDisclosures"],
)
#: ``manage.py dispose --user USERNAME``: the disposal preview (``disposalPreview``) and the
#: disposal runs (``requestDisposal``, ``approveDisposal``, ``cancelDisposal``) on the command
#: line, for the program manager named: only the roles every one of them admits.
DISPOSAL = Door(
    "dispose",
    "disposal",
    OPERATIONS["Query.disposalPreview"]
    & OPERATIONS["Mutation.requestDisposal"]
    & OPERATIONS["Mutation.approveDisposal"]
    & OPERATIONS["Mutation.cancelDisposal"],
)
#: ``/dashboard/``: its script browses the tip graph (``tips``, ``node``).
DASHBOARD = Door("dashboard", "the tip graph", OPERATIONS["Query.tips"])
#: ``/admin/``: account management (``permissions.admin_access`` says who does what there).
ADMIN_SITE = Door("admin", "the administration site", frozenset({_SA, _PM}))
#: ``manage.py issue_token USERNAME``: a token acts as its account, so the account must be
#: able to act when the token is issued.
API_TOKEN = Door("issue_token", "API tokens", OPERATIONS["Query.viewer"])
#: ``manage.py run_import_worker``: a queued upload imports as its uploader, who must still
#: be able to upload when the worker takes the job up.
IMPORT_JOB = Door("importJob", "tip uploads", OPERATIONS["Mutation.uploadTips"])


@dataclass(frozen=True)
class Decision:
    """The gate's answer: allowed when ``problems`` is empty; otherwise every reason."""

    problems: tuple[AccessProblem, ...] = ()
    #: Whether the refusal concerns a known account (rather than nobody being signed in).
    account: bool = field(default=True)

    @property
    def allowed(self) -> bool:
        return not self.problems

    @property
    def code(self) -> str | None:
        """The first (most fundamental) problem's code; ``None`` when allowed."""
        return self.problems[0].code if self.problems else None

    @property
    def codes(self) -> list[str]:
        return [problem.code for problem in self.problems]

    @property
    def reasons(self) -> list[str]:
        return [problem.message for problem in self.problems]

    @property
    def message(self) -> str:
        """One sentence giving every reason (empty when allowed)."""
        if not self.problems:
            return ""
        if not self.account:
            return self.problems[0].message
        reasons = "; ".join(self.reasons)
        if all(problem.code == FORBIDDEN for problem in self.problems):
            return f"Refused: {reasons}."
        return f"Your account cannot act: {reasons}."

    @property
    def status(self) -> int:
        """The HTTP status of a refusal: 401 when nobody is known, else 403 (200 if allowed)."""
        if not self.problems:
            return 200
        return 401 if self.code in _NOBODY else 403

    @property
    def extensions(self) -> dict[str, Any]:
        """GraphQL ``extensions`` of the refusal: ``code``, and for an account ``problems``."""
        if not self.account:
            return {"code": self.code}
        return {"code": self.code, "problems": self.codes}

    def as_json(self) -> dict[str, Any]:
        """The body of a refused JSON request: message, code, every problem's code and reason."""
        return {
            "error": self.message,
            "code": self.code,
            "problems": self.codes,
            "reasons": self.reasons,
        }


class AccessRefused(Exception):
    """Raised by ``require_access``; carries the ``Decision``."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.message} ({', '.join(decision.codes)})")
        self.decision = decision


def role_allows(user: Any, roles: frozenset[str]) -> bool:
    """The role rule alone: ``user`` is signed in, active, and has one of ``roles``."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and getattr(user, "role", None) in roles
    )


def _role_name(user: Any) -> str:
    display = getattr(user, "get_role_display", None)
    return display() if callable(display) else str(getattr(user, "role", ""))


def check_access(user: Any, door: Door = GRAPHQL, *, now: dt.datetime | None = None) -> Decision:
    """Whether ``user`` may use ``door`` now, with every reason if not.

    The problems come most fundamental first: not signed in (then nothing else is said),
    deactivated, locked out, the access-lifecycle steps in PIA order, lapsed training, and
    last the role. Costs one query (the lockout count); everything else is read from the
    user's own fields.
    """
    if user is None or not user.is_authenticated:
        problem = AccessProblem(
            UNAUTHENTICATED, "Authentication required: sign in or send a bearer token"
        )
        return Decision((problem,), account=False)
    now = now or timezone.now()
    problems: list[AccessProblem] = []
    if not user.is_active:
        problems.append(AccessProblem(ACCOUNT_DEACTIVATED, "the account has been deactivated"))
    if account_locked_out(user):
        problems.append(
            AccessProblem(
                LOCKED_OUT,
                "the account is locked after repeated failed sign-ins (it unlocks after the "
                "cool-off time, or when a system administrator unlocks it)",
            )
        )
    problems += access_problems(user, now=now)
    if getattr(user, "role", None) not in door.roles:
        problems.append(
            AccessProblem(
                FORBIDDEN, f"your role ({_role_name(user)}) does not give access to {door.what}"
            )
        )
    return Decision(tuple(problems))


def check_request(
    request: HttpRequest, door: Door = GRAPHQL, *, now: dt.datetime | None = None
) -> Decision:
    """``check_access`` for the caller of ``request``.

    A refused bearer token (unknown, revoked, expired, of a disabled or locked-out account,
    see ``permissions.authentication``) is the refusal, with the token's own code.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        error = getattr(request, "auth_error", None)
        if error is not None:
            return Decision((AccessProblem(error.code, str(error)),), account=False)
    return check_access(user, door, now=now)


def require_access(user: Any, door: Door, *, now: dt.datetime | None = None) -> None:
    """Raise ``AccessRefused`` unless ``user`` may use ``door`` (for commands and services)."""
    decision = check_access(user, door, now=now)
    if not decision.allowed:
        raise AccessRefused(decision)
