"""The one CSV writer of every download: statistics tables and the audit log export.

A CSV file is opened in a spreadsheet, and a spreadsheet runs a cell that starts like a
formula (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``): text that a client chose, such
as a username typed into a failed sign-in, must never become one. Every text cell is
therefore neutralised: one that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading apostrophe, which spreadsheets show as text (OWASP, "CSV Injection").
Numbers are written as numbers and are never neutralised; everything else is text.

Lines end in CRLF and quoting follows RFC 4180 (``csv.writer``'s defaults).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

__all__ = ["FORMULA_STARTS", "cell", "csv_lines", "csv_text", "neutralise"]

#: First characters that make a spreadsheet read a cell as a formula (tab and carriage
#: return because some spreadsheets skip them and read the character after).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet must show it: with a leading apostrophe when it starts like a
    formula, unchanged otherwise."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str:
    """One value as the text of a CSV cell: ``None`` empty, booleans ``true``/``false``,
    integers as they are, other numbers with at most four decimals, dates and date-times in
    ISO 8601, a list or tuple its items joined by ``;``; text (and a list's joined text) is
    neutralised (``neutralise``), numbers never are."""
    if value is None or isinstance(value, bool | int | float):
        return _plain(value)
    return neutralise(_plain(value))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(_plain(item) for item in value)
    return str(value)


class _Line:
    """A file for ``csv.writer`` that hands back each line instead of keeping it."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The lines of a CSV file, one at a time (for a streamed download): ``header``, then one
    line per row, each value written by ``cell``."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow([neutralise(name) for name in header])
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The whole CSV file as one string (see ``csv_lines``)."""
    out = io.StringIO()
    for line in csv_lines(header, rows):
        out.write(line)
    return out.getvalue()
