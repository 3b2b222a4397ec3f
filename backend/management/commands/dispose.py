"""``manage.py dispose --dry-run --user USERNAME``: what the retention schedule makes due for
disposal, by category, as the ``disposalPreview`` query answers it.

The command acts for the program manager it names: the one gate (``permissions.gate``, door
``DISPOSAL``, whose roles are those of ``disposalPreview``) decides, and every run, refused or
not, leaves an audit row (kind ADMIN, operation ``dispose --dry-run``). It reads; the disposal
run itself is a reviewed, approved job that this command does not start.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from argparse import ArgumentParser, ArgumentTypeError, RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.writer import write_event
from backend.errors import DomainError
from backend.models import User
from backend.retention import NARA_SCHEDULE, SCHEDULE, Category
from backend.services.retention import CategoryPreview, disposal_preview
from permissions.gate import DISPOSAL, check_access

__all__ = ["Command"]

OPERATION = "dispose --dry-run"


def _moment(value: str) -> dt.datetime:
    """An ISO 8601 date-time or date; without a time zone, UTC."""
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = dt.datetime.combine(day, dt.time())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ArgumentTypeError(f"expected an ISO 8601 date or date-time, got {value!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


def _when(moment: dt.datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M}"


class Command(BaseCommand):
    help = (
        "Preview disposal: for each retention category (docs/retention.md), how many of its "
        "records are due for disposal, how many past their period a legal hold keeps (never "
        "counted as due), and the oldest clock start; with --verbosity 2, the rule and every "
        "kind of row that would go with them. Nothing is disposed of. The account named by "
        "--user must be a program manager who may act; every run is audited."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.description = textwrap.fill(self.help, width=78, break_on_hyphens=False)
        parser.epilog = (
            "categories: " + ", ".join(Category) + "\n\n"
            "examples:\n"
            "  manage.py dispose --dry-run --user pm.jones\n"
            "  manage.py dispose --dry-run --user pm.jones --category LOOKUPS_WITHOUT_HITS\n"
            "  manage.py dispose --dry-run --user pm.jones --as-of 2031-01-01 -v 2"
        )
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Preview only (required: the disposal run is a reviewed, approved job).",
        )
        parser.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="The program manager the preview is made for (checked and audited).",
        )
        parser.add_argument(
            "--category",
            action="append",
            choices=[category.value for category in Category],
            metavar="CATEGORY",
            help="Only this category (repeat for several; default: every one).",
        )
        parser.add_argument(
            "--as-of",
            type=_moment,
            metavar="WHEN",
            help="Read the clocks at this ISO 8601 date or date-time (UTC unless it says; "
            "default: now), to look ahead.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["dry_run"]:
            raise CommandError(
                "only --dry-run is available: the disposal run itself is a reviewed job a "
                "program manager approves, which this command does not start"
            )
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        now: dt.datetime = options["as_of"] or timezone.now()
        categories = [Category(c) for c in options["category"] or []] or None
        variables = {
            "asOf": now.isoformat(),
            "categories": [c.value for c in categories] if categories else None,
        }
        decision = check_access(user, DISPOSAL)
        if not decision.allowed:
            self._audit(user, "DENIED", decision.codes, variables)
            raise CommandError(
                f"refused for {user.username}: {decision.message} ({', '.join(decision.codes)})"
            )
        try:
            previews = disposal_preview(now=now, categories=categories)
        except DomainError as refused:
            self._audit(user, "INVALID", [refused.code], variables)
            raise CommandError(f"{refused.code}: {refused.message}") from None
        self._audit(user, "ALLOWED", [], variables)
        self._table(now, previews, detailed=options["verbosity"] >= 2)

    def _audit(self, user: User, outcome: str, codes: list[str], variables: dict[str, Any]) -> None:
        write_event(
            kind="ADMIN",
            operation_name=OPERATION,
            outcome=outcome,
            error_codes=codes,
            variables=variables,
            user_id=user.pk,
            username=user.get_username(),
            role=user.role,
            auth_method="command",
        )

    def _table(self, now: dt.datetime, previews: list[CategoryPreview], *, detailed: bool) -> None:
        write = self.stdout.write
        write(
            f"Disposal preview as of {_when(now)} UTC (schedule {NARA_SCHEDULE}, the agency's "
            "periods). Nothing is disposed of."
        )
        header = f"{'category':<22} {'period':>7} {'due':>9} {'held':>7}  oldest clock start"
        write(header)
        write("-" * len(header))
        for p in previews:
            write(
                f"{p.category.value:<22} {p.period_days:>6}d {p.due:>9} {p.held:>7}  "
                f"{_when(p.oldest_clock_start)}"
            )
        if not detailed:
            return
        for p in previews:
            write("")
            write(f"{p.category.value}: {SCHEDULE[p.category].label}")
            write(textwrap.fill(p.reason, width=96, initial_indent="  ", subsequent_indent="  "))
            for part in p.parts:
                write(f"    {part.due:>9}  {part.name} ({part.model})")
