"""The one way a file of tips comes in: size and format checks, parsing, import.

``uploadTips`` (``resolvers/intake.py``), ``manage.py import_tips`` and the import worker
(``backend/intake/jobs.py``) all call ``import_file``; the upload also calls ``check_size`` and
``choose_format`` first, to refuse a file before it queues it. Every refusal is a
``FileRejected`` with a stable code (FILE_TOO_LARGE, UNKNOWN_FORMAT, or the parser's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from django.conf import settings

from backend import models as m
from backend.intake.importer import ImportReport, Progress, import_tips
from backend.intake.parse import FORMATS, detect_format, parse
from backend.intake.records import FileRejected

__all__ = ["check_size", "choose_format", "import_file"]


def check_size(size: int) -> None:
    """Refuse a file above ``INTAKE_MAX_BYTES`` (FILE_TOO_LARGE)."""
    if size > settings.INTAKE_MAX_BYTES:
        raise FileRejected(
            "FILE_TOO_LARGE",
            f"the file has {size} bytes; at most {settings.INTAKE_MAX_BYTES} are accepted",
        )


def choose_format(format: str | None, name: str) -> str:
    """The format asked for ("csv", "json" or "xml", any case), or else the one the file name's
    extension names; UNKNOWN_FORMAT for anything else."""
    chosen = (format or "").strip().lower() or detect_format(name)
    if chosen not in FORMATS:
        raise FileRejected(
            "UNKNOWN_FORMAT",
            f"Unknown format {format!r}; expected one of: {', '.join(FORMATS)}.",
        )
    return chosen


def import_file(
    *,
    file: BinaryIO,
    name: str,
    source: m.Source,
    by: m.User | None,
    mode: str,
    format: str | None = None,
    size: int | None = None,
    max_rows: int | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    importer: Callable[..., ImportReport] | None = None,
) -> ImportReport:
    """Check, parse and import one file of tips from ``source``, batch by batch.

    ``size`` is checked against ``INTAKE_MAX_BYTES`` when given; ``format`` defaults to the one
    ``name``'s extension names; ``max_rows`` and ``batch_size`` default to the settings
    ``INTAKE_MAX_ROWS`` and ``INTAKE_BATCH_SIZE``; ``progress(done, rejected)`` is called after
    every batch. Raises ``FileRejected`` when the file as a whole is refused; the caller chooses
    the transaction (the importer commits batch by batch unless it runs inside one).
    ``importer`` replaces ``import_tips`` (same keywords): the worker names its own, which its
    tests wrap to watch the job between batches."""
    if size is not None:
        check_size(size)
    chosen = choose_format(format, name)
    run: Callable[..., ImportReport] = importer or import_tips
    return run(
        records=parse(
            file,
            format=chosen,
            max_rows=settings.INTAKE_MAX_ROWS if max_rows is None else max_rows,
            deferred=True,  # an unchanged record is skipped before it is validated
        ),
        source=source,
        by=by,
        mode=mode,
        batch_size=settings.INTAKE_BATCH_SIZE if batch_size is None else batch_size,
        progress=progress,
    )
