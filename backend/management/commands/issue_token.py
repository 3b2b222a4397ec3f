"""Issue an API token for a user; the secret is printed once and only its hash is kept.

A token acts as its account, so the account must be able to act when the token is issued:
the one gate (``permissions.gate``, door ``API_TOKEN``) decides, and a refusal is a
``CommandError`` giving every reason and its code."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend.models import ApiToken, User
from permissions.gate import API_TOKEN, check_access

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Issue an API token for USERNAME (sent as 'Authorization: Bearer <token>'). Refused, "
        "with the reasons, for an account that may not act (deactivated, locked out, not "
        "approved, training lapsed)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token (default: cli).")
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help=f"Days until it expires (1 to {settings.API_TOKEN_MAX_DAYS}, default 30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        if not 1 <= options["days"] <= settings.API_TOKEN_MAX_DAYS:
            raise CommandError(f"--days must be 1 to {settings.API_TOKEN_MAX_DAYS}")
        decision = check_access(user, API_TOKEN)
        if not decision.allowed:
            raise CommandError(
                f"no token for {user.username}: {decision.message} ({', '.join(decision.codes)})"
            )
        token, raw = ApiToken.issue(user=user, name=options["name"], days=options["days"])
        self.stdout.write(
            f"token {token.pk} for {user.username} expires {token.expires_at:%Y-%m-%d}"
        )
        self.stdout.write(raw)
