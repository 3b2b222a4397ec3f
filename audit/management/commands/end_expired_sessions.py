"""Remove expired sessions, logging the end of each signed-in one (Django's clearsessions,
audited)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.sessions import end_expired_sessions

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Remove every expired session and write a LOGOUT audit row (cause 'expired') for each "
        "one that was signed in. Run it regularly (cron) instead of Django's clearsessions, "
        "which removes sessions without a trace in the audit log."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Sessions removed per transaction (default 500).",
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        logged, removed = end_expired_sessions(batch_size=batch_size)
        self.stdout.write(
            f"Removed {removed} expired session(s); logged the end of {logged} signed-in one(s)."
        )
