"""JSON intake, streamed without holding the file: three accepted shapes.

* ``{"tips": [ {...}, {...} ]}`` - other top-level keys are allowed (and ignored) before or
  after ``tips`` as long as each of their values is small;
* ``[ {...}, {...} ]`` - a bare array of tips;
* JSON Lines - one tip object after another (normally one per line).

A small hand-written scanner walks the top level and the ``tips`` array and hands each element
to ``json.JSONDecoder.raw_decode``; only the current element (at most ``MAX_ELEMENT_CHARS``) is
ever in memory. See docs/intake-formats.md for the fields of a tip.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from backend.intake.records import DeferredTip, FileRejected, IntakeTip, RowError
from backend.intake.validation import RawIdentifier, RawSubject, RawTip, built

__all__ = ["MAX_ELEMENT_CHARS", "TOO_DEEP", "parse_json"]

CHUNK_CHARS = 64 * 1024
MAX_ELEMENT_CHARS = 8 * 1024 * 1024  # one tip (or one other top-level value)
_WHITESPACE = " \t\n\r"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
#: A whole string, a bracket, or the opening quote of a string the buffer cuts off.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}"]')


class _TooDeep:
    """A value nested too deeply to decode (it was skipped)."""

    def __repr__(self) -> str:
        return "TOO_DEEP"


#: What ``_Scanner.value`` returns for a value nested too deeply to decode.
TOO_DEEP = _TooDeep()


def _malformed(message: str) -> FileRejected:
    return FileRejected("MALFORMED_JSON", f"The file is not valid JSON: {message}")


class _Scanner:
    """Top-level tokens and whole values, read incrementally from a text stream."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.text = text
        self.buffer = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of the buffer
        self.eof = False

    def _fill(self, at_least: int = CHUNK_CHARS) -> bool:
        if self.eof:
            return False
        if self.pos > CHUNK_CHARS:
            self.consumed += self.pos
            self.buffer = self.buffer[self.pos :]
            self.pos = 0
        chunk = self.text.read(max(at_least, CHUNK_CHARS))
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    @property
    def offset(self) -> int:
        return self.consumed + self.pos

    def peek(self) -> str:
        """The next non-blank character ("" at the end), without consuming it."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                return ""

    def expect(self, allowed: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            found = repr(char) if char else "end of file"
            wanted = " or ".join(repr(c) for c in allowed)
            raise _malformed(f"expected {wanted} at character {self.offset}, found {found}")
        self.pos += 1
        return char

    def value(self) -> object:
        """Decode the next whole JSON value; ``TOO_DEEP`` for one nested too deeply to decode
        (it is skipped, so that only its own tip is rejected)."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except RecursionError:
                self.pos = self._end_of_value()
                return TOO_DEEP
            except json.JSONDecodeError as exc:
                if self._grow():
                    continue
                raise _malformed(f"{exc.msg} at character {self.consumed + exc.pos}") from None
            except ValueError as exc:  # NaN / Infinity
                raise _malformed(f"{exc} at character {self.offset}") from None
            if end == len(self.buffer) and self._grow():
                continue  # a number at the end of the buffer may go on in the next chunk
            self.pos = end
            return value

    def _end_of_value(self) -> int:
        """Where the array or object at ``pos`` ends, found without recursion: brackets are
        counted, strings skipped whole. Reads on (up to ``MAX_ELEMENT_CHARS``) as needed."""
        while True:
            depth = 0
            for match in _STRUCTURE.finditer(self.buffer, self.pos):
                token = match.group()
                if token == '"':
                    break  # a string that goes on past the buffer: read more, scan again
                if token.startswith('"'):
                    continue
                depth += 1 if token in "[{" else -1
                if depth == 0:
                    return match.end()
            if not self._grow():
                raise _malformed(f"the value at character {self.offset} never ends")

    def _grow(self) -> bool:
        pending = len(self.buffer) - self.pos
        if pending >= MAX_ELEMENT_CHARS:
            raise _malformed(
                f"the value at character {self.offset} is not valid JSON or is larger than "
                f"{MAX_ELEMENT_CHARS} characters"
            )
        return self._fill(at_least=pending)


def _tip_from_object(row: int, obj: object) -> RawTip | RowError:
    if obj is TOO_DEEP or (isinstance(obj, dict) and TOO_DEEP in obj.values()):
        return RowError(row, "tip", "nests lists or objects too deeply to be read")
    if not isinstance(obj, dict):
        return RowError(row, "tip", f"must be a JSON object, not {type(obj).__name__}")
    raw = RawTip(
        row=row,
        source_reference=obj.get("source_reference"),
        received_at=obj.get("received_at"),
        category=obj.get("category"),
        narrative=obj.get("narrative"),
        priority=obj.get("priority"),
        handling_caveat=obj.get("handling_caveat"),
        escalated=obj.get("escalated"),
    )
    identifiers = obj.get("identifiers")
    if identifiers is not None and not isinstance(identifiers, list):
        raw.errors.append(RowError(row, "identifiers", "must be a list"))
    for index, item in enumerate(identifiers if isinstance(identifiers, list) else []):
        where = f"identifiers[{index}]"
        if not isinstance(item, dict):
            raw.errors.append(RowError(row, where, "must be an object"))
            continue
        raw.identifiers.append(
            RawIdentifier(
                kind=item.get("kind"),
                value=item.get("value"),
                qualifier=item.get("qualifier"),
                event=item.get("event"),
                captured_at=item.get("captured_at"),
                where=where,
            )
        )
    subjects = obj.get("subjects")
    if subjects is not None and not isinstance(subjects, list):
        raw.errors.append(RowError(row, "subjects", "must be a list"))
    for index, item in enumerate(subjects if isinstance(subjects, list) else []):
        where = f"subjects[{index}]"
        if not isinstance(item, dict):
            raw.errors.append(RowError(row, where, "must be an object"))
            continue
        raw.subjects.append(
            RawSubject(
                full_name=item.get("full_name"),
                date_of_birth=item.get("date_of_birth"),
                role=item.get("role"),
                aliases=item.get("aliases"),
                nationality=item.get("nationality"),
                where=where,
            )
        )
    return raw


def _objects(scanner: _Scanner) -> Iterator[object]:
    """Every tip object of the document, in order, whatever its shape."""
    first = scanner.peek()
    if first == "[":
        yield from _array(scanner)
    elif first == "{":
        scanner.expect("{")
        members: dict[str, object] = {}
        saw_tips = False
        if scanner.peek() != "}":
            while True:
                key = scanner.value()
                if not isinstance(key, str):
                    raise _malformed(f"expected a key string at character {scanner.offset}")
                scanner.expect(":")
                if key == "tips" and scanner.peek() == "[":
                    saw_tips = True
                    yield from _array(scanner)
                else:
                    members[key] = scanner.value()
                if scanner.expect(",}") == "}":
                    break
        else:
            scanner.expect("}")
        if saw_tips:
            if scanner.peek():
                raise _malformed(f"unexpected data after the document at {scanner.offset}")
            return
        # JSON Lines: that object was the first tip; more follow
        yield members
        while scanner.peek():
            if scanner.peek() != "{":
                raise _malformed(
                    f"expected a tip object at character {scanner.offset} (JSON Lines)"
                )
            yield scanner.value()
    elif first == "":
        raise _malformed("the file is empty")
    else:
        raise _malformed(f"expected '{{' or '[' at character {scanner.offset}, found {first!r}")


def _array(scanner: _Scanner) -> Iterator[object]:
    scanner.expect("[")
    if scanner.peek() == "]":
        scanner.expect("]")
        return
    while True:
        yield scanner.value()
        if scanner.expect(",]") == "]":
            return


def parse_json(
    stream: BinaryIO, *, max_rows: int, deferred: bool = False
) -> Iterator[IntakeTip | RowError | DeferredTip]:
    """Yield one IntakeTip, or the RowErrors of a bad tip, per tip object (row = index + 1); a
    DeferredTip when ``deferred`` (``backend.intake.validation.built``)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict")
    try:
        scanner = _Scanner(text)
        try:
            for row, obj in enumerate(_objects(scanner), start=1):
                if row > max_rows:
                    raise FileRejected("TOO_MANY_ROWS", f"The file has more than {max_rows} tips.")
                raw = _tip_from_object(row, obj)
                if isinstance(raw, RowError):
                    yield raw
                else:
                    yield from built(raw, deferred=deferred)
        except UnicodeDecodeError as exc:
            raise FileRejected(
                "BAD_ENCODING",
                f"The file is not valid UTF-8 ({exc.reason}); save it as UTF-8 and retry.",
            ) from None
    finally:
        text.detach()
