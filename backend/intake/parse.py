"""Entry points: pick the parser for a file and run it.

``parse(stream, format=..., max_rows=...)`` streams IntakeTip / RowError items from a binary
stream; ``detect_format(filename)`` names the format from the file name's extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath
from typing import BinaryIO

from backend.intake.csv_format import parse_csv
from backend.intake.json_format import parse_json
from backend.intake.records import DeferredTip, FileRejected, IntakeTip, Parser, RowError
from backend.intake.xml_format import parse_xml

__all__ = ["FORMATS", "PARSERS", "detect_format", "parse", "parse_csv", "parse_json", "parse_xml"]

PARSERS: dict[str, Parser] = {"csv": parse_csv, "json": parse_json, "xml": parse_xml}
FORMATS = tuple(PARSERS)
_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json", ".xml": "xml"}


def detect_format(filename: str) -> str:
    """ "csv", "json" or "xml" from the file name's extension (case-insensitive).

    Raises FileRejected("UNKNOWN_FORMAT") for any other extension.
    """
    suffix = PurePath(filename or "").suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(sorted(_EXTENSIONS))
        raise FileRejected(
            "UNKNOWN_FORMAT", f"Cannot tell the format of {filename!r}; expected one of: {known}."
        ) from None


def parse(
    stream: BinaryIO, *, format: str, max_rows: int, deferred: bool = False
) -> Iterator[IntakeTip | RowError | DeferredTip]:
    """Stream the tips of ``stream`` in ``format`` ("csv" | "json" | "xml", case-insensitive);
    with ``deferred``, a record is handed over as a ``DeferredTip``, validated only when the
    importer finds it is not the one stored already.

    Raises FileRejected("UNKNOWN_FORMAT") at once for another format; other FileRejected codes
    are raised while iterating, when the problem is met.
    """
    parser = PARSERS.get((format or "").strip().lower())
    if parser is None:
        raise FileRejected(
            "UNKNOWN_FORMAT", f"Unknown format {format!r}; expected one of: {', '.join(FORMATS)}."
        )
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise ValueError(f"max_rows must be a non-negative integer, not {max_rows!r}")
    return parser(stream, max_rows=max_rows, deferred=deferred)
