"""Import a file of tips from a path, with a progress bar and a summary."""

from __future__ import annotations

import sys
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend import models as m
from backend.intake.entry import check_size, import_file
from backend.intake.importer import ImportMode
from backend.intake.records import FileRejected

MAX_ERRORS_SHOWN = 50


class _CountingReader:
    """A binary stream that counts the bytes read from it (for the progress bar)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.read_bytes += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.read_bytes += n or 0
        return n

    def readable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class _ProgressBar:
    """One line on standard error: share of the file read, rows done, rows rejected."""

    def __init__(self, stream: _CountingReader, total: int, out: Any) -> None:
        self.stream, self.total, self.out = stream, max(total, 1), out

    def __call__(self, done: int, rejected: int) -> None:
        share = min(self.stream.read_bytes / self.total, 1.0)
        width = 30
        filled = int(share * width)
        self.out.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} "
            f"{done} rows, {rejected} rejected"
        )
        self.out.flush()

    def finish(self, done: int, rejected: int) -> None:
        self.stream.read_bytes = self.total
        self(done, rejected)
        self.out.write("\n")


class Command(BaseCommand):
    help = (
        "Import a file of tips (CSV, JSON or CyberTipline-style XML; see "
        "docs/intake-formats.md) from PATH, as uploadTips does. Re-importing a file never "
        "duplicates tips: each tip is keyed by its source and source reference, and the summary "
        "says how many were new, updated, unchanged and rejected. Exit code 1 on error."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> ArgumentParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        kwargs.setdefault(
            "epilog",
            "examples:\n"
            "  manage.py import_tips reports.xml --source-name 'NCMEC CyberTipline'\n"
            "  manage.py import_tips batch.csv --source-id 3 --mode ALL_OR_NOTHING\n",
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="The file to import.")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--source-id", type=int, help="The database id of the source.")
        which.add_argument("--source-name", help="The exact name of the source.")
        parser.add_argument(
            "--format",
            choices=["csv", "json", "xml"],
            help="The file's format (default: from the file name's extension).",
        )
        parser.add_argument(
            "--mode",
            choices=[mode.value for mode in ImportMode],
            default=ImportMode.ACCEPT_VALID.value,
            help="ACCEPT_VALID (default): import valid rows, report the rest, commit batch by "
            "batch. ALL_OR_NOTHING: import nothing if any row is rejected.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=settings.INTAKE_BATCH_SIZE,
            help=f"Rows per batch (default {settings.INTAKE_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--max-rows",
            type=int,
            default=settings.INTAKE_MAX_ROWS,
            help=f"Refuse files with more rows (default {settings.INTAKE_MAX_ROWS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        size = path.stat().st_size
        try:
            check_size(size)
        except FileRejected as exc:
            raise CommandError(f"{exc.code}: {path}: {exc.message}") from exc
        source = self._source(options["source_id"], options["source_name"])
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        err = getattr(self.stderr, "_out", sys.stderr)
        try:
            with path.open("rb") as raw:
                stream = _CountingReader(raw)
                bar = _ProgressBar(stream, size, err)
                report = import_file(
                    file=stream,  # type: ignore[arg-type]
                    name=path.name,
                    format=options["format"],
                    source=source,
                    by=None,
                    mode=options["mode"],
                    max_rows=options["max_rows"],
                    batch_size=options["batch_size"],
                    progress=bar,
                )
                bar.finish(report.rows, report.rejected)
        except FileRejected as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"{path.name} from {source.name}: new {report.new}, updated {report.updated}, "
            f"unchanged {report.unchanged}, rejected {report.rejected}"
        )
        if report.rejected and options["mode"] == ImportMode.ALL_OR_NOTHING:
            self.stdout.write("ALL_OR_NOTHING: rows were rejected, so nothing was imported.")
        for error in report.errors[:MAX_ERRORS_SHOWN]:
            self.stdout.write(f"  row {error.row}, {error.field}: {error.reason}")
        if len(report.errors) > MAX_ERRORS_SHOWN:
            self.stdout.write(f"  ... and {len(report.errors) - MAX_ERRORS_SHOWN} more")
        if report.rejected and options["mode"] == ImportMode.ALL_OR_NOTHING:
            raise CommandError("nothing imported")

    def _source(self, source_id: int | None, name: str | None) -> m.Source:
        if source_id is not None:
            found = m.Source.objects.filter(pk=source_id).first()
            if found is None:
                raise CommandError(f"no source with id {source_id}")
            return found
        matches = list(m.Source.objects.filter(name=name)[:2])
        if len(matches) != 1:
            raise CommandError(
                f"no source named {name!r}" if not matches else f"several sources named {name!r}"
            )
        return matches[0]
