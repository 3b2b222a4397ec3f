"""Print the privilege review: active accounts due for review or idle too long, and why."""

from __future__ import annotations

import textwrap
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.csv_export import csv_lines
from permissions.review import privilege_review


class Command(BaseCommand):
    help = (
        "List the active accounts whose privileges were not reviewed within --review-days "
        f"(default {settings.PRIVILEGE_REVIEW_DAYS}; never reviewed counts) or that have been "
        f"idle for more than --idle-days (default {settings.IDLE_ACCOUNT_DAYS}; idle since the "
        "last GraphQL activity, else the last sign-in, else the account's creation), with the "
        "reasons. Record a review, or deactivate the account, with the actions of the account "
        "list in the admin."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.description = textwrap.fill(self.help, width=78, break_on_hyphens=False)
        parser.epilog = (
            "examples:\n"
            "  manage.py privilege_review\n"
            "  manage.py privilege_review --review-days 90 --idle-days 30\n"
            "  manage.py privilege_review --csv > review.csv"
        )
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--review-days",
            type=int,
            default=settings.PRIVILEGE_REVIEW_DAYS,
            metavar="DAYS",
            help="Report accounts whose privileges were last reviewed more than DAYS days ago "
            f"(default {settings.PRIVILEGE_REVIEW_DAYS}, settings.PRIVILEGE_REVIEW_DAYS).",
        )
        parser.add_argument(
            "--idle-days",
            type=int,
            default=settings.IDLE_ACCOUNT_DAYS,
            metavar="DAYS",
            help="Report accounts unused for more than DAYS days "
            f"(default {settings.IDLE_ACCOUNT_DAYS}, settings.IDLE_ACCOUNT_DAYS).",
        )
        parser.add_argument(
            "--csv",
            action="store_true",
            help="Write CSV (username, role, last_seen, privileges_reviewed_at, reason_codes, "
            "reasons) instead of a table.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        review_days, idle_days = options["review_days"], options["idle_days"]
        if review_days < 1 or idle_days < 1:
            raise CommandError("--review-days and --idle-days must be at least 1")
        findings = privilege_review(review_days=review_days, idle_days=idle_days)
        if options["csv"]:
            header = (
                "username",
                "role",
                "last_seen",
                "privileges_reviewed_at",
                "reason_codes",
                "reasons",
            )
            rows = []
            for finding in findings:
                user = finding.user
                rows.append(
                    [
                        user.username,
                        user.role,
                        finding.last_seen_at.date().isoformat(),
                        user.privileges_reviewed_at.date().isoformat()
                        if user.privileges_reviewed_at
                        else "",
                        " ".join(finding.codes),
                        "; ".join(reason.message for reason in finding.reasons),
                    ]
                )
            for line in csv_lines(header, rows):
                self.stdout.write(line, ending="")
            return
        if not findings:
            self.stdout.write(
                f"No account needs attention (review every {review_days} days, "
                f"idle after {idle_days} days)."
            )
            return
        self.stdout.write(
            f"{len(findings)} account(s) need a privilege review "
            f"(review every {review_days} days, idle after {idle_days} days):"
        )
        for finding in findings:
            user = finding.user
            reasons = "; ".join(reason.message for reason in finding.reasons)
            self.stdout.write(f"  {user.username:<28} {user.role:<22} {reasons}")
