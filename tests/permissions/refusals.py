"""Accounts the one gate refuses, as the door tests need them: training lapsed, final approval
missing, username locked out by django-axes after real failed sign-ins."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.test import Client
from django.utils import timezone

from backend import models as m
from tests.factories import UserFactory

__all__ = ["PROBLEMS", "Problem", "lock_out", "refused_account", "signed_in"]

#: Failed sign-ins come from this address, so that only the username is locked (an address
#: lockout stops password sign-ins from that address, nothing else).
ATTACKER = "198.51.100.66"


@dataclass(frozen=True)
class Problem:
    """One way an account may not act: the account's changed fields, the code, the reason."""

    name: str
    fields: dict[str, Any]
    code: str
    reason: str


def _lapsed_on() -> str:
    return (timezone.now() - dt.timedelta(days=35)).date().isoformat()


def lapsed() -> Problem:
    return Problem(
        "training lapsed",
        {"annual_training_at": timezone.now() - dt.timedelta(days=400)},
        "TRAINING_LAPSED",
        f"annual privacy and security training lapsed on {_lapsed_on()}",
    )


def unapproved() -> Problem:
    return Problem(
        "final approval missing",
        {"approved_at": None},
        "ACCESS_NOT_APPROVED",
        "the program manager has not given final approval",
    )


def locked() -> Problem:
    return Problem(
        "locked out",
        {},
        "LOCKED_OUT",
        "the account is locked after repeated failed sign-ins",
    )


#: Factories of the three problems every door is tested with (the dates depend on today).
PROBLEMS = {"lapsed": lapsed, "unapproved": unapproved, "locked": locked}


def lock_out(username: str) -> None:
    """Lock ``username`` out the way an attacker would: AXES_FAILURE_LIMIT wrong passwords."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR=ATTACKER).post(
            "/accounts/login/", {"username": username, "password": "not the password"}
        )


def refused_account(
    problem: str, role: str, *, username: str | None = None, browser: bool = True, **client: Any
) -> tuple[m.User, Problem, Client | None]:
    """An account of ``role`` with ``problem`` (a key of ``PROBLEMS``), the problem, and (with
    ``browser``) a browser signed in as it. The browser signs in first and the lockout comes
    after, as when a session outlives a lockout (a successful sign-in clears the failures)."""
    spec = PROBLEMS[problem]()
    user = UserFactory(username=username or f"refused-{role.lower()}", role=role, **spec.fields)
    session = None
    if browser:
        session = Client(**client)
        session.force_login(user)
    if problem == "locked":
        lock_out(user.username)
    return user, spec, session


def signed_in(user: m.User, **client: Any) -> Client:
    """A browser with a session of ``user``."""
    session = Client(**client)
    session.force_login(user)
    return session
