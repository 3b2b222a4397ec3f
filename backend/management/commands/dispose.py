"""``manage.py dispose``: the disposal preview and the disposal runs on the command line.

- ``--dry-run``: what the retention schedule makes due, by category, as ``disposalPreview``
  answers it; nothing is disposed of.
- ``--request``: fix what is due now as a run waiting for approval (``requestDisposal``).
- ``--approve RUN``: approve it, as another program manager (``approveDisposal``); the worker
  then carries it out (``manage.py run_worker``).
- ``--run RUN``: carry out an approved (or failed) run in this process, batch by batch, with
  its progress, instead of waiting for the worker; resumes a run that stopped.
- ``--cancel RUN --reason TEXT``: cancel it (``cancelDisposal``).
- ``--list``: the runs, newest first.

The command acts for the program manager ``--user`` names: the one gate (``permissions.gate``,
door ``DISPOSAL``) refuses any other account, and every use, refused or not, leaves an audit row
(kind ADMIN, operation ``dispose --dry-run``, ``dispose --request``...).
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
from backend import models as m
from backend.errors import DomainError
from backend.models import User
from backend.retention import NARA_SCHEDULE, SCHEDULE, Category
from backend.services import disposal
from backend.services.retention import CategoryPreview, disposal_preview
from permissions.gate import DISPOSAL, check_access

__all__ = ["Command"]

#: The operation of a preview's audit row.
OPERATION = "dispose --dry-run"
MODES = ("dry_run", "request", "approve", "run", "cancel", "list")


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
        "Disposal under the retention schedule (docs/retention.md). --dry-run previews, for "
        "each category, how many records are due, how many past their period a legal hold "
        "keeps (never counted as due), and the oldest clock start; with --verbosity 2, the "
        "rule and every kind of row that would go. --request fixes what is due as a run for "
        "another program manager to --approve; the background worker (manage.py run_worker) "
        "then disposes of it for good, in batches, or --run carries it out here with its "
        "progress. --cancel stops a run not finished; --list shows the runs. The account "
        "named by --user must be a program manager who may act; every use is audited."
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
            "  manage.py dispose --dry-run --user pm.jones --as-of 2031-01-01 -v 2\n"
            '  manage.py dispose --request --user pm.jones --reason "quarterly disposal"\n'
            "  manage.py dispose --approve 12 --user pm.smith\n"
            "  manage.py dispose --run 12 --user pm.smith\n"
            '  manage.py dispose --cancel 12 --user pm.jones --reason "wrong categories"\n'
            "  manage.py dispose --list --user pm.jones"
        )
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        modes = parser.add_argument_group("what to do (one of)")
        modes.add_argument(
            "--dry-run",
            action="store_true",
            help="Preview what is due, by category; nothing is disposed of.",
        )
        modes.add_argument(
            "--request",
            action="store_true",
            help="Request a disposal run of what is due now (another program manager approves it).",
        )
        modes.add_argument("--approve", type=int, metavar="RUN", help="Approve run RUN.")
        modes.add_argument(
            "--run",
            type=int,
            metavar="RUN",
            help="Carry out the approved (or failed) run RUN here, with its progress.",
        )
        modes.add_argument("--cancel", type=int, metavar="RUN", help="Cancel run RUN.")
        modes.add_argument("--list", action="store_true", help="List the disposal runs.")
        parser.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="The program manager the command acts for (checked and audited).",
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
            "default: now). A preview may look ahead; a run may not.",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="--request: a note for the approver; --cancel: why (required).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            metavar="N",
            help="--run: rows per batch (default DISPOSAL_BATCH_SIZE, 500).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [mode for mode in MODES if options[mode] not in (None, False)]
        if len(chosen) != 1:
            raise CommandError(
                "say what to do: one of --dry-run, --request, --approve RUN, --run RUN, "
                "--cancel RUN or --list (manage.py dispose --help)"
            )
        mode = chosen[0]
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        categories = [Category(c) for c in options["category"] or []] or None
        operation = OPERATION if mode == "dry_run" else f"dispose --{mode}"
        variables: dict[str, Any] = {}
        if mode in ("dry_run", "request"):
            now: dt.datetime = options["as_of"] or timezone.now()
            variables = {
                "asOf": now.isoformat(),
                "categories": [c.value for c in categories] if categories else None,
            }
        elif mode != "list":
            variables = {"run": options[mode]}
        decision = check_access(user, DISPOSAL)
        if not decision.allowed:
            self._audit(user, operation, "DENIED", decision.codes, variables)
            raise CommandError(
                f"refused for {user.username}: {decision.message} ({', '.join(decision.codes)})"
            )
        try:
            done = getattr(self, f"_{mode}")(user, options, categories, variables)
        except DomainError as refused:
            self._audit(user, operation, "INVALID", [refused.code], variables)
            raise CommandError(f"{refused.code}: {refused.message}") from None
        if mode not in ("dry_run", "list", "run"):
            self._audit(user, operation, "ALLOWED", [], variables, done)

    # -- the modes ---------------------------------------------------------------------------

    def _dry_run(
        self, user: User, options: dict[str, Any], categories: Any, variables: dict[str, Any]
    ) -> None:
        now = dt.datetime.fromisoformat(variables["asOf"])
        previews = disposal_preview(now=now, categories=categories)
        self._audit(user, OPERATION, "ALLOWED", [], variables)
        self._table(now, previews, detailed=options["verbosity"] >= 2)

    def _request(
        self, user: User, options: dict[str, Any], categories: Any, variables: dict[str, Any]
    ) -> m.DisposalRun:
        run = disposal.request_disposal(
            by=user,
            categories=categories,
            as_of=options["as_of"],
            reason=options["reason"],
        )
        self.stdout.write(
            f"disposal run {run.pk} requested: {run.items_total} rows due as of "
            f"{_when(run.as_of)} UTC in {', '.join(run.categories)}"
        )
        for name, found in sorted(run.counts.items()):
            self.stdout.write(f"  {name:<22} {found['due']:>9} due {found['held']:>7} held")
        self.stdout.write(
            f"Another program manager approves it: manage.py dispose --approve {run.pk} "
            "--user USERNAME"
        )
        return run

    def _load(self, run_id: int) -> m.DisposalRun:
        run = m.DisposalRun.objects.filter(pk=run_id).first()
        if run is None:
            from backend.errors import RecordNotFound

            raise RecordNotFound(f"no disposal run {run_id}", field="id")
        return run

    def _approve(
        self, user: User, options: dict[str, Any], categories: Any, variables: dict[str, Any]
    ) -> m.DisposalRun:
        run = disposal.approve_disposal(by=user, run=self._load(options["approve"]))
        self.stdout.write(
            f"disposal run {run.pk} approved: the worker disposes of its {run.items_total} "
            f"rows (or: manage.py dispose --run {run.pk} --user {user.username})"
        )
        return run

    def _cancel(
        self, user: User, options: dict[str, Any], categories: Any, variables: dict[str, Any]
    ) -> m.DisposalRun:
        run = disposal.cancel_disposal(
            by=user, run=self._load(options["cancel"]), reason=options["reason"]
        )
        self.stdout.write(f"disposal run {run.pk} cancelled")
        return run

    def _run(
        self, user: User, options: dict[str, Any], categories: Any, variables: dict[str, Any]
    ) -> None:
        run = self._load(options["run"])
        if run.status not in (
            m.DisposalStatus.APPROVED,
            m.DisposalStatus.RUNNING,
            m.DisposalStatus.FAILED,
        ):
            from backend.errors import InvalidTransition

            raise InvalidTransition(
                f"disposal run {run.pk} is {run.status.lower()}: only an approved, running or "
                "failed run is carried out",
                field="id",
            )
        self._audit(user, "dispose --run", "ALLOWED", [], variables, run)
        total, done, held = run.items_total, 0, 0
        self.stdout.write(
            f"disposal run {run.pk}: {total} rows in {len(run.categories)} categories"
        )
        for number, batch in enumerate(
            disposal.run_to_end(run.pk, size=options["batch_size"]), start=1
        ):
            done += batch.count("DONE")
            held += batch.count("HELD")
            pending = m.DisposalItem.objects.filter(
                run_id=run.pk, state=m.DisposalItemState.PENDING
            ).count()
            self.stdout.write(
                f"  batch {number}: {batch.items} rows, {batch.count('DONE')} disposed of, "
                f"{batch.count('HELD')} held, {batch.count('KEPT')} no longer due; "
                f"{total - pending}/{total} done"
            )
        run.refresh_from_db()
        self.stdout.write(f"disposal run {run.pk}: {run.status}")
        for label, found in sorted(run.result.items()):
            counts = ", ".join(f"{k} {v}" for k, v in sorted(found.items()) if k != "idsDigest")
            self.stdout.write(f"  {label:<32} {counts}")

    def _list(
        self, user: User, options: dict[str, Any], categories: Any, variables: dict[str, Any]
    ) -> None:
        self._audit(user, "dispose --list", "ALLOWED", [], variables)
        header = f"{'run':>5} {'status':<10} {'as of':<16} {'rows':>9}  requested by / approved by"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for run in m.DisposalRun.objects.select_related("requested_by", "approved_by")[:50]:
            requester = run.requested_by.username if run.requested_by else "(nightly)"
            approver = run.approved_by.username if run.approved_by else "-"
            self.stdout.write(
                f"{run.pk:>5} {run.status:<10} {_when(run.as_of):<16} {run.items_total:>9}  "
                f"{requester} / {approver}"
            )

    # -- audit and output --------------------------------------------------------------------

    def _audit(
        self,
        user: User,
        operation: str,
        outcome: str,
        codes: list[str],
        variables: dict[str, Any],
        run: m.DisposalRun | None = None,
    ) -> None:
        write_event(
            kind="ADMIN",
            operation_name=operation,
            outcome=outcome,
            error_codes=codes,
            variables=variables,
            records_changed=[f"DisposalRun:{run.pk}"] if run is not None else [],
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
