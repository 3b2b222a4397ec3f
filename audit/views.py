"""CSV export of an audit search, for auditors and system administrators whose accounts may
act: the one gate (``permissions.gate``, door ``AUDIT_EXPORT``, whose roles are those of the
``auditEvents`` query) decides, and every request, refused or not, leaves its audit row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from strawberry import relay

from audit.operations import caller_fields
from audit.search import AuditSearch, audit_search
from audit.writer import write_event
from backend.csv_export import csv_lines
from permissions.gate import AUDIT_EXPORT, check_request

__all__ = ["export_csv", "refused_download"]

COLUMNS = [
    "seq",
    "occurred_at",
    "kind",
    "username",
    "role",
    "auth_method",
    "client_address",
    "operation_type",
    "operation_name",
    "outcome",
    "error_codes",
    "duration_ms",
    "records_returned",
    "records_changed",
    "query_hash_id",
]


def _when(request: HttpRequest, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        parsed = parse_datetime(raw)
    except ValueError:  # well-formed but impossible, such as month 13
        parsed = None
    if parsed is None:
        raise ValueError(f"{name} must be an ISO 8601 date-time, got {raw!r}")
    return parsed


def _record(request: HttpRequest) -> relay.GlobalID | None:
    raw = request.GET.get("record_id")
    if not raw:
        return None
    try:
        return relay.GlobalID.from_id(raw)
    except Exception:  # the decoder's own message names its internals
        raise ValueError(f"record_id must be a record's global id, got {raw!r}") from None


def _audit(request: HttpRequest, outcome: str, codes: list[str], params: dict[str, Any]) -> None:
    write_event(
        kind="OPERATION",
        operation_type="export",
        operation_name="auditExportCsv",
        outcome=outcome,
        error_codes=codes,
        variables=params,
        **caller_fields(request),
    )


def refused_download(
    request: HttpRequest, door: str, audit: Callable[[str, list[str]], None]
) -> HttpResponse | None:
    """The answer refusing a CSV download, after ``audit(outcome, codes)`` wrote its row, or
    None when it may go on: another method than GET is 405 ``METHOD_NOT_ALLOWED``; a refusal
    of the one gate at ``door`` is its JSON (``error``, ``code``, ``problems``, ``reasons``)
    with status 401 when nobody is signed in, else 403."""
    if request.method not in ("GET", "HEAD"):
        audit("INVALID", ["METHOD_NOT_ALLOWED"])
        response = JsonResponse({"error": "use GET", "code": "METHOD_NOT_ALLOWED"}, status=405)
        response["Allow"] = "GET"
        return response
    decision = check_request(request, door)
    if not decision.allowed:
        audit("DENIED", decision.codes)
        return JsonResponse(decision.as_json(), status=decision.status)
    return None


def export_csv(request: HttpRequest) -> HttpResponse:
    """GET /audit/export.csv?username=&role=&kind=&outcome=&operation_name=&occurred_from=
    &occurred_to=&record_id=&seen_only=1 — the same search as the auditEvents query.

    Cells are written by ``backend.csv_export``: text a client chose (the username of a failed
    sign-in, an operation name) that starts like a spreadsheet formula gets a leading
    apostrophe. Another method than GET is refused with 405 ``METHOD_NOT_ALLOWED``.

    A refusal is JSON: ``error`` (every reason in one sentence), ``code`` (the first
    problem's), ``problems`` (every code) and ``reasons``, with status 401 when nobody is
    signed in and 403 otherwise; its audit row carries the same codes."""
    params = {k: v for k, v in request.GET.items()}
    refusal = refused_download(
        request, AUDIT_EXPORT, lambda outcome, codes: _audit(request, outcome, codes, params)
    )
    if refusal is not None:
        return refusal
    try:
        record = _record(request)
        where = AuditSearch(
            username=request.GET.get("username") or None,
            role=request.GET.get("role") or None,
            kind=request.GET.get("kind") or None,
            outcome=request.GET.get("outcome") or None,
            operation_name=request.GET.get("operation_name") or None,
            occurred_from=_when(request, "occurred_from"),
            occurred_to=_when(request, "occurred_to"),
            record=None if record is None else (record.type_name, record.node_id),
            seen_only=request.GET.get("seen_only") in {"1", "true"},
        )
    except ValueError as exc:  # a malformed parameter: our own message says which
        _audit(request, "INVALID", ["INVALID_INPUT"], params)
        return JsonResponse({"error": str(exc), "code": "INVALID_INPUT"}, status=400)
    rows = audit_search(where).values_list(*COLUMNS)
    _audit(request, "ALLOWED", [], params)
    lines = csv_lines(COLUMNS, rows.iterator(chunk_size=2000))
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
