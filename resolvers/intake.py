"""Bulk intake: an uploaded file in, an import report (small files) or a queued job out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.errors import DomainError
from backend.intake.entry import check_size, choose_format, import_file
from backend.intake.importer import ImportReport
from backend.intake.jobs import enqueue_job
from backend.intake.records import FileRejected
from backend.intake.uploads import UploadRef
from resolvers.common import acting_user, load

__all__ = ["UploadOutcome", "import_job", "upload_tips"]


@dataclass
class UploadOutcome:
    """What uploadTips hands back: a report, a queued job, or (code, message, field) errors."""

    report: ImportReport | None = None
    job: m.ImportJob | None = None
    errors: list[tuple[str, str, str | None]] = field(default_factory=list)


def _file(upload: Any) -> tuple[File, str, int] | None:
    """The uploaded file, its name and size; None when ``upload`` is no file."""
    if isinstance(upload, UploadRef):
        upload = upload.file
    if not isinstance(upload, File) or upload.size is None:
        return None
    return upload, upload.name or "", upload.size


def upload_tips(
    info: Info,
    *,
    upload: Any,
    source_id: relay.GlobalID,
    format: str | None,
    mode: str,
    background: bool,
) -> UploadOutcome:
    found = _file(upload)
    if found is None:
        return UploadOutcome(
            errors=[("INVALID_INPUT", "file must be a file part of a multipart request", "file")]
        )
    file, filename, size = found
    try:
        check_size(size)
    except FileRejected as exc:
        return UploadOutcome(errors=[(exc.code, exc.message, "file")])
    try:
        source = load(info, source_id, m.Source, field="sourceId")
    except DomainError as exc:
        return UploadOutcome(errors=[(exc.code, exc.message, exc.field)])
    try:
        chosen = choose_format(format, filename)
    except FileRejected as exc:
        return UploadOutcome(errors=[(exc.code, exc.message, "format")])
    by = acting_user(info)
    if background or size > settings.INTAKE_INLINE_MAX_BYTES:
        file.seek(0)
        job = enqueue_job(
            file=file, filename=filename, format=chosen, mode=mode, source=source, by=by
        )
        return UploadOutcome(job=job)
    file.seek(0)
    try:
        # One transaction for the inline import: a file rejected part-way leaves nothing.
        with transaction.atomic():
            report = import_file(
                file=file, name=filename, format=chosen, source=source, by=by, mode=mode
            )
    except FileRejected as exc:
        return UploadOutcome(errors=[(exc.code, exc.message, "file")])
    return UploadOutcome(report=report)


def import_job(info: Info, job_id: relay.GlobalID) -> m.ImportJob | None:
    try:
        return load(info, job_id, m.ImportJob, field="id")
    except DomainError:
        return None
