"""The accounting of disclosures as a CSV file, for auditors and program managers whose
accounts may act: ``GET /disclosures/<record id>.csv``, the ``accountingOfDisclosures``
query as a download. The one gate (``permissions.gate``, door ``DISCLOSURE_ACCOUNTING``, whose
roles are the query's) decides, and every request, refused or not, leaves its audit row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from strawberry import relay

from audit.operations import TYPE_NAMES, caller_fields
from audit.views import refused_download
from audit.writer import write_event
from backend.csv_export import csv_lines
from backend.errors import DomainError, InvalidId
from backend.services import disclosures as service
from permissions.gate import DISCLOSURE_ACCOUNTING

__all__ = ["COLUMNS", "accounted_record", "accounting_csv"]

#: The CSV's columns: the fields of the query's ``DisclosureRow``, in snake case; the record
#: also as its type and number, for a reader without a global id decoder. A disclosure made
#: by an alert has an ``alert_id`` and no ``lookup_id``; ``redisseminations`` lists the
#: partner's requests to pass the record on, "STATUS to RECIPIENT for PURPOSE (decided AT by
#: USERNAME)", separated by "; ".
COLUMNS = (
    "record_id",
    "record_type",
    "record_number",
    "concerns",
    "disclosed_at",
    "recipient_username",
    "recipient_full_name",
    "recipient_agency",
    "recipient_role",
    "lookup_id",
    "purpose",
    "screening_reference",
    "alert_id",
    "redisseminations",
)
#: HTTP status of a refused record id, by its code.
_STATUS = {"INVALID_ID": 400, "NOT_FOUND": 404}


def _audit(
    request: HttpRequest,
    outcome: str,
    codes: list[str],
    record_id: str,
    returned: list[str] | None = None,
) -> None:
    write_event(
        kind="OPERATION",
        operation_type="export",
        operation_name=DISCLOSURE_ACCOUNTING.name,
        outcome=outcome,
        error_codes=codes,
        variables={"recordId": record_id},
        records_returned=returned or [],
        **caller_fields(request),
    )


def accounted_record(record_id: str) -> service.AccountedRecord:
    """The record a global id names, for the CSV download and the query alike: ``InvalidId``
    for a malformed id or a kind of record that is never disclosed, ``RecordNotFound`` for
    none (``backend.services.disclosures.accounted_record``)."""
    try:
        gid = relay.GlobalID.from_id(record_id)
    except Exception:  # the decoder's own message names its internals
        raise InvalidId(f"{record_id!r} is not a record's global id", field="recordId") from None
    return service.accounted_record(type_name=gid.type_name, node_id=gid.node_id)


def _line(entry: service.DisclosureEntry) -> list[Any]:
    return [
        str(relay.GlobalID(entry.record_type, str(entry.record_pk))),
        entry.record_type,
        entry.record_pk,
        entry.concerns,
        entry.disclosed_at,
        entry.recipient_username,
        entry.recipient_full_name,
        entry.recipient_agency,
        entry.recipient_role,
        _gid("TravellerLookup", entry.lookup_id),
        entry.purpose,
        entry.screening_reference,
        _gid("Alert", entry.alert_id),
        "; ".join(str(line) for line in entry.redisseminations),
    ]


def _gid(type_name: str, pk: int | None) -> str | None:
    return None if pk is None else str(relay.GlobalID(type_name, str(pk)))


def _lines(record: service.AccountedRecord) -> Iterator[list[Any]]:
    for entry in service.accounting_entries(record):
        yield _line(entry)


def accounting_csv(request: HttpRequest, record_id: str) -> HttpResponse:
    """GET /disclosures/<record id>.csv: the accounting of disclosures of a tip, subject or
    identifier (by global id) as CSV, the same lines as the ``accountingOfDisclosures`` query,
    oldest first, every one (no pages).

    Cells are written by ``backend.csv_export``: text that starts like a spreadsheet formula
    (a username or agency someone typed) gets a leading apostrophe. Another method than GET is
    405 ``METHOD_NOT_ALLOWED``; a malformed id, or the id of a record that is never disclosed,
    400 ``INVALID_ID``; an unknown record 404 ``NOT_FOUND``. A refusal by the gate is JSON:
    ``error``, ``code``, ``problems`` and ``reasons``, status 401 when nobody is signed in and
    403 otherwise. Each request writes one audit row with the outcome and codes; an allowed
    one names every record the file has lines about (``records_returned``), as the query's
    row would."""
    refusal = refused_download(
        request,
        DISCLOSURE_ACCOUNTING,
        lambda outcome, codes: _audit(request, outcome, codes, record_id),
    )
    if refusal is not None:
        return refusal
    try:
        record = accounted_record(record_id)
    except DomainError as exc:  # our own message says what is wrong with the id
        _audit(request, "INVALID", [exc.code], record_id)
        return JsonResponse({"error": exc.message, "code": exc.code}, status=_STATUS[exc.code])
    returned = [f"{TYPE_NAMES[model]}:{pk}" for model, pk in service.records_in(record)]
    _audit(request, "ALLOWED", [], record_id, returned)
    response = StreamingHttpResponse(csv_lines(COLUMNS, _lines(record)), content_type="text/csv")
    filename = f"disclosures-{record.type_name.lower()}-{record.pk}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
