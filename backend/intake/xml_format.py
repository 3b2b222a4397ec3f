"""XML intake modelled on the NCMEC CyberTipline report; see docs/intake-formats.md.

Parsed with ``defusedxml.ElementTree.iterparse``: any DTD (and so any entity declaration,
internal or external) is refused, and each ``<report>`` is dropped from the tree as soon as it
has been read, so memory stays flat however many reports the file has. Element names are
matched without their namespace and case-insensitively.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from backend.intake.records import FileRejected, IntakeTip, RowError
from backend.intake.validation import RawIdentifier, RawSubject, RawTip, build_tip, event_for

__all__ = ["parse_xml"]

_DECLARATION_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_FALSE = frozenset({"", "false", "no", "n", "0"})


class _Utf8Checked:
    """A read-only byte stream that raises UnicodeDecodeError on bytes that are not UTF-8."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.first = True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if self.first:
            self.first = False
            match = _DECLARATION_RE.match(data.removeprefix(codecs.BOM_UTF8))
            if match and codecs.lookup(match[1].decode("ascii")).name != "utf-8":
                raise FileRejected(
                    "BAD_ENCODING",
                    f"The XML declares encoding {match[1].decode('ascii')!r}; only UTF-8 is "
                    "accepted.",
                )
        self.decoder.decode(data, final=not data)
        return data


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1].lower()


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    name = name.lower()
    return [child for child in element if _local(child.tag) == name]


def _child(element: Element | None, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _child_text(element: Element | None, name: str) -> str | None:
    return _text(_child(element, name))


def _descendants(element: Element, name: str) -> list[Element]:
    name = name.lower()
    return [node for node in element.iter() if node is not element and _local(node.tag) == name]


def _attribute(element: Element, *names: str) -> str | None:
    wanted = {name.lower() for name in names}
    for key, value in element.attrib.items():
        if _local(key) in wanted and value.strip():
            return value.strip()
    return None


def _ip_event(raw: RawTip, capture: Element, where: str) -> None:
    address = _child_text(capture, "ipAddress")
    if address is None:
        return
    event_name = _child_text(capture, "eventName")
    raw.identifiers.append(
        RawIdentifier(
            kind="IP_ADDRESS",
            value=address,
            event=(event_for(event_name) or "OTHER") if event_name else None,
            captured_at=_child_text(capture, "dateTime"),
            value_field=f"{where}/ipCaptureEvent/ipAddress",
            kind_field=f"{where}/ipCaptureEvent/ipAddress",
            captured_at_field=f"{where}/ipCaptureEvent/dateTime",
            event_field=f"{where}/ipCaptureEvent/eventName",
        )
    )


def _simple(raw: RawTip, kind: str, value: str | None, path: str, qualifier: str | None = None):
    if value is None:
        return
    raw.identifiers.append(
        RawIdentifier(
            kind=kind, value=value, qualifier=qualifier, value_field=path, kind_field=path
        )
    )


def _reporter_name(report: Element) -> str | None:
    reporter = _child(report, "reporter")
    if reporter is None:
        return None
    esp = _child_text(reporter, "reportingEsp")
    company = _child_text(_child(reporter, "reportingEsp"), "espName") or _child_text(
        reporter, "espName"
    )
    person = _child(reporter, "reportingPerson")
    person_name = " ".join(
        part for part in (_child_text(person, "firstName"), _child_text(person, "lastName")) if part
    )
    return company or esp or person_name or None


def _read_report(row: int, report: Element) -> RawTip:
    summary = _child(report, "incidentSummary")
    reference = _attribute(report, "id", "reportId") or _child_text(report, "reportId")
    received = _child_text(report, "receivedDateTime") or _child_text(summary, "incidentDateTime")
    escalate = _child(summary, "escalateToHighPriority")
    escalated = None
    if escalate is not None:
        escalated = (_text(escalate) or "true").lower() not in _FALSE
    reporter = _reporter_name(report)
    raw = RawTip(
        row=row,
        source_reference=reference,
        received_at=received,
        category=_child_text(summary, "incidentType"),
        priority=_child_text(report, "priority"),
        handling_caveat=_child_text(report, "handlingCaveat"),
        escalated=escalated,
        names={
            "source_reference": "reportId",
            "received_at": (
                "receivedDateTime"
                if _child(report, "receivedDateTime") is not None
                else "incidentSummary/incidentDateTime"
            ),
            "category": "incidentSummary/incidentType",
            "priority": "priority",
            "handling_caveat": "handlingCaveat",
            "escalated": "incidentSummary/escalateToHighPriority",
            "narrative": "narrative",
        },
    )
    narrative: list[str] = []
    own = _child_text(report, "narrative") or _child_text(summary, "additionalInformation")
    if own:
        narrative.append(own)

    for details in _children(report, "internetDetails"):
        base = "internetDetails"
        for incident in _children(details, "emailIncident"):
            for email in _children(incident, "emailAddress"):
                _simple(raw, "EMAIL", _text(email), f"{base}/emailIncident/emailAddress")
        for incident in _children(details, "webPageIncident"):
            for url in _children(incident, "url"):
                _simple(raw, "URL", _text(url), f"{base}/webPageIncident/url")
        for incident in _children(details, "chatImIncident"):
            client = _child_text(incident, "chatClient")
            room = _child_text(incident, "chatRoomName")
            if room:
                narrative.append(f"Chat room: {room}" + (f" ({client})" if client else ""))
            for name in _descendants(incident, "screenName"):
                _simple(
                    raw,
                    "USERNAME",
                    _text(name),
                    f"{base}/chatImIncident/screenName",
                    qualifier=client,
                )
        for incident in _children(details, "cellPhoneIncident"):
            for phone in _children(incident, "phoneNumber"):
                _simple(raw, "PHONE", _text(phone), f"{base}/cellPhoneIncident/phoneNumber")
        for incident in _children(details, "peer2peerIncident"):
            for capture in _children(incident, "ipCaptureEvent"):
                _ip_event(raw, capture, f"{base}/peer2peerIncident")

    for reported in _children(report, "personOrUserReported"):
        base = "personOrUserReported"
        person = _child(reported, "personOrUserReportedPerson")
        for holder, path in ((person, f"{base}/personOrUserReportedPerson"), (reported, base)):
            for email in _children(holder, "email"):
                _simple(raw, "EMAIL", _text(email), f"{path}/email")
            for phone in _children(holder, "phone"):
                _simple(raw, "PHONE", _text(phone), f"{path}/phone")
        service = _child_text(reported, "espService") or reporter
        for name in _children(reported, "screenName"):
            _simple(raw, "USERNAME", _text(name), f"{base}/screenName", qualifier=service)
        for capture in _children(reported, "ipCaptureEvent"):
            _ip_event(raw, capture, base)
        for device in _children(reported, "deviceId"):
            _simple(raw, "DEVICE_ID", _text(device), f"{base}/deviceId")
        full_name = " ".join(
            part
            for part in (_child_text(person, "firstName"), _child_text(person, "lastName"))
            if part
        )
        if full_name:
            path = f"{base}/personOrUserReportedPerson"
            raw.subjects.append(
                RawSubject(
                    full_name=full_name,
                    date_of_birth=_child_text(person, "dateOfBirth"),
                    role="SUSPECT",
                    full_name_field=f"{path}/lastName",
                    date_of_birth_field=f"{path}/dateOfBirth",
                )
            )

    file_names: list[str] = []
    for details in _children(report, "fileDetails"):
        base = "fileDetails"
        name = _child_text(details, "originalFileName")
        if name:
            file_names.append(name)
        shared_type = _child_text(details, "hashType")
        for tag in ("fileHash", "hash"):
            for element in _children(details, tag):
                algorithm = _attribute(element, "hashType", "type") or shared_type
                _simple(raw, "FILE_HASH", _text(element), f"{base}/{tag}", qualifier=algorithm)
        for capture in _children(details, "ipCaptureEvent"):
            _ip_event(raw, capture, base)
    if file_names:
        narrative.append("Files: " + ", ".join(file_names))
    if reporter:
        narrative.append(f"Reported by: {reporter}")
    raw.narrative = "\n".join(narrative)
    return raw


def parse_xml(stream: BinaryIO, *, max_rows: int) -> Iterator[IntakeTip | RowError]:
    """Yield one IntakeTip, or the RowErrors of a bad report, per ``<report>`` element.

    The root may be any element whose children are ``<report>`` elements, or a single
    ``<report>``. ``row`` is the report's position (1 = first report).
    """
    events = iterparse(_Utf8Checked(stream), events=("start", "end"), forbid_dtd=True)
    depth = 0
    root: Element | None = None
    row = 0
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if root is None:
                    root = element
                if _local(element.tag) == "report" and depth <= 2:
                    row += 1
                    if row > max_rows:
                        raise FileRejected(
                            "TOO_MANY_ROWS", f"The file has more than {max_rows} reports."
                        )
                continue
            depth -= 1
            if depth > 1:
                continue
            if _local(element.tag) == "report":
                result = build_tip(_read_report(row, element))
                if isinstance(result, list):
                    yield from result
                else:
                    yield result
            if depth == 1 and root is not None and _local(root.tag) != "report":
                root.clear()  # drop the finished child (report or anything else)
    except DefusedXmlException as exc:
        raise FileRejected(
            "ENTITIES_FORBIDDEN",
            f"The XML has a DTD or entity declarations, which are not accepted ({exc}).",
        ) from None
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "BAD_ENCODING",
            f"The file is not valid UTF-8 ({exc.reason}); save it as UTF-8 and retry.",
        ) from None
    except ParseError as exc:
        raise FileRejected("MALFORMED_XML", f"The XML is not well-formed: {exc}") from None
