"""CSV intake: one row per tip, identifiers and subjects in repeated columns.

See docs/intake-formats.md for the columns. The file is read as UTF-8 (a BOM is allowed)
through ``io.TextIOWrapper`` and ``csv.reader``, one record at a time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

from backend.intake.records import DeferredTip, FileRejected, IntakeTip, RowError
from backend.intake.validation import RawIdentifier, RawSubject, RawTip, built

__all__ = ["IDENTIFIER_COLUMNS", "REQUIRED_COLUMNS", "SUBJECT_COLUMNS", "TIP_COLUMNS", "parse_csv"]

REQUIRED_COLUMNS = ("source_reference", "received_at", "category")
TIP_COLUMNS = (
    *REQUIRED_COLUMNS,
    "narrative",
    "priority",
    "handling_caveat",
    "escalated",
)
# value column -> (identifier kind, {role: companion column})
IDENTIFIER_COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "email": ("EMAIL", {}),
    "username": ("USERNAME", {"qualifier": "username_platform"}),
    "phone": ("PHONE", {}),
    "ip_address": ("IP_ADDRESS", {"captured_at": "ip_captured_at", "event": "ip_event"}),
    "url": ("URL", {}),
    "domain": ("DOMAIN", {}),
    "file_hash": ("FILE_HASH", {"qualifier": "file_hash_algorithm"}),
    "passport": ("PASSPORT", {"qualifier": "passport_country"}),
    "payment_account": ("PAYMENT_ACCOUNT", {"qualifier": "payment_provider"}),
    "device_id": ("DEVICE_ID", {}),
}
# subject attribute -> column
SUBJECT_COLUMNS: dict[str, str] = {
    "full_name": "subject_name",
    "date_of_birth": "subject_dob",
    "role": "subject_role",
    "aliases": "subject_aliases",
    "nationality": "subject_nationality",
}
ALIAS_SEPARATOR = ";"

_COMPANIONS = {
    column for _, companions in IDENTIFIER_COLUMNS.values() for column in companions.values()
}
_REPEATABLE = set(IDENTIFIER_COLUMNS) | _COMPANIONS | set(SUBJECT_COLUMNS.values())
_SUFFIX_RE = re.compile(r"^(?P<base>[a-z_]+?)(?:_(?P<n>[0-9]+))?$")


def _split_column(name: str) -> tuple[str, int] | None:
    """``email_2`` -> (``email``, 2); ``email`` -> (``email``, 1); unknown -> None."""
    if name in _REPEATABLE:
        return name, 1
    match = _SUFFIX_RE.match(name)
    if match and match["n"] and match["base"] in _REPEATABLE:
        return match["base"], int(match["n"])
    return None


def _column_name(base: str, n: int) -> str:
    return base if n == 1 else f"{base}_{n}"


class _Layout:
    """Where each value lives in a row, worked out once from the header."""

    def __init__(self, header: list[str]) -> None:
        self.names = [name.strip().lower() for name in header]
        self.width = len(self.names)
        self.index: dict[str, int] = {}
        for position, name in enumerate(self.names):
            self.index.setdefault(name, position)
        missing = [column for column in REQUIRED_COLUMNS if column not in self.index]
        if missing:
            raise FileRejected(
                "MISSING_COLUMNS",
                f"The CSV header lacks required column(s): {', '.join(missing)}.",
            )
        # identifier groups and subject groups, in the order their columns first appear
        self.identifier_groups: list[tuple[str, int]] = []
        self.subject_groups: list[int] = []
        subject_columns = set(SUBJECT_COLUMNS.values())
        for name in self.names:
            split = _split_column(name)
            if split is None:
                continue
            base, n = split
            if base in IDENTIFIER_COLUMNS and (base, n) not in self.identifier_groups:
                self.identifier_groups.append((base, n))
            elif base in subject_columns and n not in self.subject_groups:
                self.subject_groups.append(n)
        # each group's column names, worked out here once rather than for every row:
        # (kind, value column, {role: companion column})
        self.identifier_columns: list[tuple[str, str, dict[str, str]]] = [
            (
                IDENTIFIER_COLUMNS[base][0],
                _column_name(base, n),
                {
                    role: _column_name(column, n)
                    for role, column in IDENTIFIER_COLUMNS[base][1].items()
                },
            )
            for base, n in self.identifier_groups
        ]
        self.subject_columns: list[dict[str, str]] = [
            {part: _column_name(base, n) for part, base in SUBJECT_COLUMNS.items()}
            for n in self.subject_groups
        ]

    def cell(self, record: list[str], name: str) -> str | None:
        position = self.index.get(name)
        if position is None or position >= len(record):
            return None
        value = record[position].strip()
        return value or None

    def read(self, row: int, record: list[str]) -> RawTip:
        raw = RawTip(row=row, **{column: self.cell(record, column) for column in TIP_COLUMNS})
        if len(record) > self.width:
            raw.errors.append(
                RowError(row, "row", f"has {len(record)} cells but the header has {self.width}")
            )
        for kind, value_column, fields in self.identifier_columns:
            value = self.cell(record, value_column)
            if value is None:
                continue  # a companion cell without a value is ignored
            raw.identifiers.append(
                RawIdentifier(
                    kind=kind,
                    value=value,
                    qualifier=self.cell(record, fields.get("qualifier", "")),
                    event=self.cell(record, fields.get("event", "")),
                    captured_at=self.cell(record, fields.get("captured_at", "")),
                    value_field=value_column,
                    kind_field=value_column,
                    event_field=fields.get("event"),
                    captured_at_field=fields.get("captured_at"),
                )
            )
        for columns in self.subject_columns:
            values = {part: self.cell(record, column) for part, column in columns.items()}
            if not any(values.values()):
                continue
            aliases = values.pop("aliases")
            raw.subjects.append(
                RawSubject(
                    **values,
                    aliases=aliases.split(ALIAS_SEPARATOR) if aliases else None,
                    **{f"{part}_field": column for part, column in columns.items()},
                )
            )
        return raw


def parse_csv(
    stream: BinaryIO, *, max_rows: int, deferred: bool = False
) -> Iterator[IntakeTip | RowError | DeferredTip]:
    """Yield one IntakeTip, or the RowErrors of a bad row, per CSV data row (a DeferredTip when
    ``deferred``: ``backend.intake.validation.built``).

    Rows are numbered from 1 after the header; a blank line is skipped but keeps its number.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        reader = csv.reader(text, strict=True)
        try:
            try:
                header = next(reader)
            except StopIteration:
                raise FileRejected("MISSING_COLUMNS", "The CSV file is empty.") from None
            layout = _Layout(header)
            row = count = 0
            for record in reader:
                row += 1
                if not any(cell.strip() for cell in record):
                    continue
                count += 1
                if count > max_rows:
                    raise FileRejected("TOO_MANY_ROWS", f"The file has more than {max_rows} rows.")
                yield from built(layout.read(row, record), deferred=deferred)
        except UnicodeDecodeError as exc:
            raise FileRejected(
                "BAD_ENCODING",
                f"The file is not valid UTF-8 ({exc.reason}); save it as UTF-8 and retry.",
            ) from None
        except csv.Error as exc:
            raise FileRejected(
                "MALFORMED_CSV", f"The CSV is malformed near line {reader.line_num}: {exc}"
            ) from None
    finally:
        text.detach()  # leave the caller's stream open
