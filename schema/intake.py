"""Bulk intake: upload a file of tips (CSV, JSON or CyberTipline-style XML) and follow the
background job that imports a large one."""

from __future__ import annotations

from enum import Enum

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.file_uploads import Upload
from strawberry.types import Info

from backend import models as m
from backend.intake.importer import ImportMode, ImportReport
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import intake as resolve
from schema.base import ScopedNode, model_type

__all__ = [
    "ImportJobStatusEnum",
    "ImportJobType",
    "ImportModeEnum",
    "ImportReportType",
    "IntakeMutation",
    "IntakeQuery",
    "RowErrorType",
    "UploadError",
    "UploadTipsPayload",
]


@strawberry.enum(name="ImportMode", description="What to do with a file that has bad rows.")
class ImportModeEnum(Enum):
    ALL_OR_NOTHING = strawberry.enum_value(
        ImportMode.ALL_OR_NOTHING.value,
        description="Import nothing if any row is rejected (one transaction for the file).",
    )
    ACCEPT_VALID = strawberry.enum_value(
        ImportMode.ACCEPT_VALID.value,
        description="Import the valid rows and report the rejected ones; each batch of rows "
        "is written whole or not at all.",
    )


ImportJobStatusEnum = strawberry.enum(
    Enum("ImportJobStatus", {v: v for v in m.ImportJobStatus.values}),  # type: ignore[misc]
    name="ImportJobStatus",
    description="Where a background import stands.",
)


@strawberry.type(name="RowError", description="Why one row of a file was rejected.")
class RowErrorType:
    row: int = strawberry.field(
        description="The row: CSV data row (header excluded), JSON tips index + 1, or XML "
        "report position + 1."
    )
    field: str = strawberry.field(description="The field (column, JSON path, element) at fault.")
    reason: str


@strawberry.type(name="ImportReport", description="What an import did.")
class ImportReportType:
    new: int = strawberry.field(description="Tips stored for the first time.")
    updated: int = strawberry.field(
        description="Tips already stored (same source and reference) that the file changed or "
        "added identifiers or subjects to."
    )
    unchanged: int = strawberry.field(description="Tips already stored exactly as in the file.")
    rejected: int = strawberry.field(description="Rows rejected; see errors.")
    errors: list[RowErrorType] = strawberry.field(
        description="The rejected rows, with field and reason (the first 1000)."
    )

    @classmethod
    def of(cls, report: ImportReport, limit: int) -> ImportReportType:
        return cls(
            new=report.new,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
            errors=[RowErrorType(row=e.row, field=e.field, reason=e.reason) for e in report.errors][
                :limit
            ],
        )


@model_type(m.ImportJob)
class ImportJobType(ScopedNode):
    """A file being imported in the background; poll it to follow progress."""

    status: ImportJobStatusEnum  # type: ignore[valid-type]
    filename: auto
    size: auto
    format: auto
    mode: auto
    rows_done: auto
    rows_rejected: auto
    error_code: str = strawberry_django.field(
        description="Why the job failed as a whole (e.g. MALFORMED_XML, TOO_MANY_ROWS); empty "
        "otherwise."
    )
    error_message: auto
    created_at: auto
    started_at: auto
    finished_at: auto

    @strawberry_django.field(
        only=[
            "new_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "errors",
            "status",
        ],
        description="The import's report, once the job has finished.",
    )
    def report(self, root: m.ImportJob) -> ImportReportType | None:
        if root.status not in (m.ImportJobStatus.SUCCEEDED, m.ImportJobStatus.FAILED):
            return None
        return ImportReportType(
            new=root.new_count,
            updated=root.updated_count,
            unchanged=root.unchanged_count,
            rejected=root.rejected_count,
            errors=[RowErrorType(**e) for e in root.errors or []],
        )


@strawberry.type(description="Why an upload was refused. Nothing was imported.")
class UploadError:
    code: str = strawberry.field(
        description="FILE_TOO_LARGE, UNKNOWN_FORMAT, NOT_FOUND, INVALID_INPUT, or why the "
        "file could not be read: BAD_ENCODING, MALFORMED_XML, ENTITIES_FORBIDDEN, "
        "TOO_MANY_ROWS, ..."
    )
    message: str
    field: str | None = None


@strawberry.type(description="The outcome of uploadTips: a report, a queued job, or errors.")
class UploadTipsPayload:
    report: ImportReportType | None = strawberry.field(
        default=None, description="The import's report, when the file was imported at once."
    )
    job: ImportJobType | None = strawberry.field(
        default=None, description="The background job, when the file was queued."
    )
    errors: list[UploadError] = strawberry.field(default_factory=list)


@strawberry.type
class IntakeQuery:
    @strawberry.field(
        extensions=allow("Query.importJob"),
        description=describe(
            "Query.importJob", "A background import job: status, rows done, and its report."
        ),
    )
    def import_job(self, info: Info, id: relay.GlobalID) -> ImportJobType | None:
        return resolve.import_job(info, id)  # type: ignore[return-value]


@strawberry.type
class IntakeMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.uploadTips"),
        description=describe(
            "Mutation.uploadTips",
            "Import a file of tips (CSV, JSON or CyberTipline-style XML; see "
            "docs/intake-formats.md) sent as a multipart request (GraphQL multipart request "
            "spec). Re-sending a tip (same source and reference) never duplicates it. Small "
            "files are imported at once and the report returned; with background, or above "
            "the inline size limit, the file is queued and the job returned (poll importJob).",
        ),
    )
    def upload_tips(
        self,
        info: Info,
        file: Upload,
        source_id: relay.GlobalID,
        format: str | None = None,
        mode: ImportModeEnum = ImportModeEnum.ACCEPT_VALID,
        background: bool = False,
    ) -> UploadTipsPayload:
        outcome = resolve.upload_tips(
            info,
            upload=file,
            source_id=source_id,
            format=format,
            mode=mode.value,
            background=background,
        )
        return UploadTipsPayload(
            report=ImportReportType.of(outcome.report, 1000) if outcome.report else None,
            job=outcome.job,  # type: ignore[arg-type]
            errors=[UploadError(code=c, message=msg, field=f) for c, msg, f in outcome.errors],
        )
