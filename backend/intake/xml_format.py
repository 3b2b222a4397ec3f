"""XML intake of NCMEC CyberTipline reports; see docs/intake-formats.md.

Two shapes are read: the report structure of NCMEC's CyberTipline Reporting API (its XSD, the
``<report>`` an ESP's client submits and the ``<fileDetails>`` it sends for each file), and the
simpler CyberTipline-style form this platform documented first (``id`` attribute, ``fileHash``,
``receivedDateTime``, ...). Both may be mixed in one file.

Parsed with ``defusedxml.ElementTree.iterparse``: any DTD (and so any entity declaration,
internal or external) is refused, and each ``<report>`` is dropped from the tree once it has been
read (with the ``<fileDetails>`` that follow it), so memory stays flat however many reports the
file has. Element names are matched without their namespace and case-insensitively.

Every report keeps, as the tip's raw record, all of its elements as received, mapped or not,
with the paths of the ones not mapped; a report with no id gets a reference derived from its
content, so that the same report sent again is recognised.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from backend.intake.records import DeferredTip, FileRejected, IntakeTip, RowError
from backend.intake.validation import RawIdentifier, RawSubject, RawTip, built, event_for
from backend.vocabulary import MAX_QUALIFIER

__all__ = ["derived_reference", "parse_xml"]

_DECLARATION_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_FALSE = frozenset({"", "false", "no", "n", "0"})
_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "y", "n", "1", "0"})
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"

#: The prefix of a reference derived from a report's content (a report with no id).
DERIVED_PREFIX = "CT-"

#: Cryptographic hash types (keys: the hashType lower-cased, without '-', '_' or spaces) and the
#: algorithm name the identifier normaliser knows. They identify one exact file and become
#: FILE_HASH identifiers. Any other type (PhotoDNA, PDQ, ...) is a perceptual hash, matched by
#: distance rather than equality, and is kept in the raw record only.
_CRYPTOGRAPHIC = {
    "md5": "MD5",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha2256": "SHA256",
    "sha512": "SHA512",
    "sha2512": "SHA512",
}

#: Parts of a report left out of its derived reference: ids NCMEC assigns per submission
#: (report and file ids), the responses that carry them, and this platform's own processing
#: fields of the documented form (receipt time, priority, handling caveat).
_VOLATILE = frozenset(
    {
        "reportid",
        "fileid",
        "reportresponse",
        "reportdoneresponse",
        "receiveddatetime",
        "priority",
        "handlingcaveat",
    }
)
_RESPONSES = ("reportResponse", "reportDoneResponse")
#: Leaves never listed as not mapped: report ids (the reference is one, or they name this very
#: report) and the status of NCMEC's responses.
_SELF_EVIDENT = frozenset({"reportid", "responsecode", "responsedescription"})


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


# ---------------------------------------------------------------------------------------------
# element helpers


def _name(tag: object) -> str:
    """The local name as written (namespace dropped); "" for comments and PIs."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _local(tag: object) -> str:
    return _name(tag).lower()


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    name = name.lower()
    return [child for child in element if _local(child.tag) == name]


def _child(element: Element | None, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _raw_text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _attribute(element: Element, *names: str) -> str | None:
    wanted = {name.lower() for name in names}
    for key, value in element.attrib.items():
        if _local(key) in wanted and value.strip():
            return value.strip()
    return None


def _elements(element: Element) -> list[Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _algorithm(hash_type: str | None) -> str | None:
    """The normaliser's algorithm name for a cryptographic hashType, else None."""
    if hash_type is None:
        return None
    return _CRYPTOGRAPHIC.get(re.sub(r"[\s_-]+", "", hash_type).lower())


# ---------------------------------------------------------------------------------------------
# the raw record and the derived reference


def _tree(element: Element) -> Any:
    """The element as JSON: its text alone when it has no attributes or children; otherwise an
    object of ``@attribute``, ``#text`` and one key per child name (a list when repeated)."""
    children = _elements(element)
    text = (element.text or "").strip()
    if not element.attrib and not children:
        return text
    node: dict[str, Any] = {"@" + _name(key): value for key, value in element.attrib.items()}
    if text:
        node["#text"] = text
    for child in children:
        key, value = _name(child.tag), _tree(child)
        if key not in node:
            node[key] = value
        elif isinstance(node[key], list):
            node[key].append(value)
        else:
            node[key] = [node[key], value]
    return node


def _collapsed(text: str | None) -> str:
    return " ".join((text or "").split())


def _canonical(element: Element) -> list[Any] | None:
    """A form of the element that does not depend on layout: names lower-cased, whitespace runs
    collapsed, attributes and children sorted, volatile parts (``_VOLATILE``, ``xsi:``
    attributes) left out."""
    name = _local(element.tag)
    if name in _VOLATILE:
        return None
    attributes = sorted(
        (_local(key), _collapsed(value))
        for key, value in element.attrib.items()
        if not key.startswith(_XSI)
    )
    children = [node for child in _elements(element) if (node := _canonical(child)) is not None]
    children.sort(key=_dumps)
    return [name, attributes, _collapsed(element.text), children, _collapsed(element.tail)]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def derived_reference(report: Element, files: list[Element] | tuple[Element, ...] = ()) -> str:
    """``CT-`` and the SHA-256 of the report's canonical form (with the ``<fileDetails>`` that
    follow it): the same for the same report however it is laid out or re-sent."""
    root = _canonical(report) or ["report", [], "", [], ""]
    extra = [node for element in files if (node := _canonical(element)) is not None]
    content = [root[0], root[1], root[2], sorted([*root[3], *extra], key=_dumps)]
    return DERIVED_PREFIX + hashlib.sha256(_dumps(content).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# one report


class _Report:
    """Reads one ``<report>`` (and the ``<fileDetails>`` and responses that follow it) into a
    RawTip, noting every element whose value it used, so that the others can be listed as not
    mapped in the raw record."""

    def __init__(
        self, row: int, report: Element, files: list[Element], responses: list[Element]
    ) -> None:
        self.row = row
        self.report = report
        self.files = files  # <fileDetails> that followed the report in the file
        self.responses = responses  # <reportResponse>/<reportDoneResponse> that followed it
        self.used: set[int] = set()
        self.derived = False  # the reference was derived from the content
        self.raw = RawTip(row=row)
        self.lines: list[str] = []

    # -- reading, with a note of what was used ---------------------------------------------

    def text(self, element: Element | None) -> str | None:
        if element is None:
            return None
        self.used.add(id(element))
        return _raw_text(element)

    def child_text(self, element: Element | None, name: str) -> str | None:
        return self.text(_child(element, name))

    def texts(self, element: Element | None, name: str) -> list[str]:
        return [value for child in _children(element, name) if (value := self.text(child))]

    def flag(self, element: Element | None, name: str) -> bool:
        """True when the child ``name`` is present and not false (``<spam/>`` is true)."""
        found = _child(element, name)
        if found is None:
            return False
        self.used.add(id(found))
        return (_raw_text(found) or "true").lower() not in _FALSE

    def identifier(
        self,
        kind: str,
        value: str | None,
        path: str,
        qualifier: str | None = None,
        *,
        event: str | None = None,
        captured_at: str | None = None,
        event_field: str | None = None,
        captured_at_field: str | None = None,
    ) -> None:
        if value is None:
            return
        self.raw.identifiers.append(
            RawIdentifier(
                kind=kind,
                value=value,
                qualifier=qualifier,
                event=event,
                captured_at=captured_at,
                value_field=path,
                kind_field=path,
                event_field=event_field,
                captured_at_field=captured_at_field,
            )
        )

    def line(self, text: str | None) -> None:
        if text:
            self.lines.append(text)

    # -- common types ----------------------------------------------------------------------

    def ip_event(self, capture: Element, where: str, label: str) -> None:
        address = self.child_text(capture, "ipAddress")
        if address is None:
            return
        event_name = self.child_text(capture, "eventName")
        self.identifier(
            "IP_ADDRESS",
            address,
            f"{where}/ipCaptureEvent/ipAddress",
            event=(event_for(event_name) or "OTHER") if event_name else None,
            captured_at=self.child_text(capture, "dateTime"),
            event_field=f"{where}/ipCaptureEvent/eventName",
            captured_at_field=f"{where}/ipCaptureEvent/dateTime",
        )
        notes = []
        if port := self.child_text(capture, "port"):
            notes.append(f"port {port}")
        if self.flag(capture, "possibleProxy"):
            notes.append("possibly a proxy")
        if notes:
            self.line(f"{label}: IP address {address} " + ", ".join(notes))

    def device(self, device: Element, where: str) -> None:
        value_element = _child(device, "idValue")
        if value_element is None:  # the documented form: the id as the element's text
            self.identifier("DEVICE_ID", self.text(device), f"{where}/deviceId")
            return
        event_name = self.child_text(device, "eventName")
        self.identifier(
            "DEVICE_ID",
            self.text(value_element),
            f"{where}/deviceId/idValue",
            event=(event_for(event_name) or "OTHER") if event_name else None,
            captured_at=self.child_text(device, "dateTime"),
            event_field=f"{where}/deviceId/eventName",
            captured_at_field=f"{where}/deviceId/dateTime",
        )

    def phones(self, holder: Element | None, name: str, path: str) -> None:
        for phone in _children(holder, name):
            number = self.text(phone)
            code = _attribute(phone, "countryCallingCode")
            if number and code and not number.startswith("+"):
                number = f"+{code.lstrip('+')} {number}"
            self.identifier("PHONE", number, path)

    def address(self, holder: Element | None, label: str) -> None:
        for address in _children(holder, "address"):
            parts = [
                self.child_text(address, part)
                for part in ("address", "city", "state", "nonUsaState", "zipCode", "country")
            ]
            kind = _attribute(address, "type")
            text = ", ".join(part for part in parts if part)
            if text:
                self.line(f"{label} address{f' ({kind})' if kind else ''}: {text}")

    # -- the report ------------------------------------------------------------------------

    def read(self) -> RawTip:
        report, raw = self.report, self.raw
        summary = _child(report, "incidentSummary")
        received = self.child_text(report, "receivedDateTime")
        incident = self.child_text(summary, "incidentDateTime")
        raw.received_at = received or incident
        raw.category = self.child_text(summary, "incidentType")
        raw.priority = self.child_text(report, "priority")
        raw.handling_caveat = self.child_text(report, "handlingCaveat")
        raw.names = {
            "source_reference": "reportId",
            "received_at": "receivedDateTime" if received else "incidentSummary/incidentDateTime",
            "category": "incidentSummary/incidentType",
            "priority": "priority",
            "handling_caveat": "handlingCaveat",
            "escalated": "incidentSummary/escalateToHighPriority",
            "narrative": "narrative",
        }
        escalate = _child(summary, "escalateToHighPriority")
        if escalate is not None:
            reason = self.text(escalate)
            raw.escalated = (reason or "true").lower() not in _FALSE
            if reason and reason.lower() not in _BOOLEAN_WORDS:
                self.line(f"Escalated: {reason}")
        self.line(self.child_text(report, "narrative"))
        self.line(self.child_text(summary, "additionalInformation"))
        self.line(self.child_text(report, "additionalInfo"))
        if received and incident:  # the documented form's receipt time is the tip's
            self.line(f"Incident date and time: {incident}")
        platform = self.summary(summary)
        default_platform = platform or self.reporting_esp()

        for details in _children(report, "internetDetails"):
            self.internet_details(details, default_platform)
        for enforcement in _children(report, "lawEnforcement"):
            self.law_enforcement(enforcement)
        parties = (
            ("personOrUserReported", "personOrUserReportedPerson", "SUSPECT", "Reported user"),
            ("intendedRecipient", "intendedRecipientPerson", "OTHER", "Intended recipient"),
            ("victim", "victimPerson", "VICTIM", "Victim"),
        )
        for tag, person_tag, role, label in parties:
            for section in _children(report, tag):
                self.party(section, tag, person_tag, role, label, default_platform)

        names: list[str] = []
        files_at = len(self.lines)
        nested = _children(report, "fileDetails")
        for details in [*nested, *self.files]:
            self.file_details(details, names)
        if names:  # the list of files comes before the lines about each file
            self.lines.insert(files_at, "Files: " + ", ".join(names))
        reporter = self.reporter_name()
        if reporter:
            self.line(f"Reported by: {reporter}")
        raw.narrative = "\n".join(self.lines)
        self.reference(nested)
        raw.raw_record = self.record()
        return raw

    def summary(self, summary: Element | None) -> str | None:
        platform = self.child_text(summary, "platform")
        if platform:
            self.line(f"Platform: {platform}")
        described = self.child_text(summary, "incidentDateTimeDescription")
        self.line(_prefixed("Incident time", described))
        annotations = _child(summary, "reportAnnotations")
        tags = []
        if annotations is not None:
            self.used.add(id(annotations))
            tags = [_name(tag.tag) for tag in _elements(annotations)]
        flagged = [tag for tag in tags if self.flag(annotations, tag)]
        if flagged:
            self.line("Report annotations: " + ", ".join(flagged))
        batched = _child(self.report, "batchedReport")
        if batched is not None:
            self.used.add(id(batched))
            self.line(f"Batched report: {_attribute(batched, 'reason') or 'yes'}")
        return platform

    def reporting_esp(self) -> str | None:
        """The reporting company's name where the documented form gives it (the API's report
        has none: the ESP is the account that submits it). Never a person's name."""
        reporter = _child(self.report, "reporter")
        esp = _child(reporter, "reportingEsp")
        return (
            self.child_text(esp, "espName")
            or self.child_text(reporter, "espName")
            or (self.text(esp) if esp is not None and not _elements(esp) else None)
        )

    def reporter_name(self) -> str | None:
        person = _child(_child(self.report, "reporter"), "reportingPerson")
        name = " ".join(
            part
            for part in (self.child_text(person, "firstName"), self.child_text(person, "lastName"))
            if part
        )
        return self.reporting_esp() or name or None

    def internet_details(self, details: Element, default_platform: str | None) -> None:
        base = "internetDetails"
        for incident in _children(details, "emailIncident"):
            for email in _children(incident, "emailAddress"):
                self.identifier("EMAIL", self.text(email), f"{base}/emailIncident/emailAddress")
            self.line(_prefixed("E-mail", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "webPageIncident"):
            for url in _children(incident, "url"):
                self.identifier("URL", self.text(url), f"{base}/webPageIncident/url")
            if (_attribute(incident, "thirdPartyHostedContent") or "").lower() == "true":
                self.line("Web page: hosted by a third party")
            self.line(_prefixed("Web page", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "chatImIncident"):
            client = self.child_text(incident, "chatClient")
            room = self.child_text(incident, "chatRoomName")
            if room:
                self.line(f"Chat room: {room}" + (f" ({client})" if client else ""))
            elif client:
                self.line(f"Chat client: {client}")
            for name in _descendants(incident, "screenName"):  # the documented form
                self.screen_name(
                    self.text(name), client or default_platform, f"{base}/chatImIncident/screenName"
                )
            self.line(_prefixed("Chat", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "onlineGamingIncident"):
            game = self.child_text(incident, "gameName")
            console = self.child_text(incident, "console")
            if game or console:
                self.line(
                    f"Online game: {game or 'unnamed'}" + (f" ({console})" if console else "")
                )
            self.line(_prefixed("Online game", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "cellPhoneIncident"):
            self.phones(incident, "phoneNumber", f"{base}/cellPhoneIncident/phoneNumber")
            latitude = self.child_text(incident, "latitude")
            longitude = self.child_text(incident, "longitude")
            if latitude and longitude:
                self.line(f"Cell phone location: {latitude}, {longitude}")
            self.line(_prefixed("Cell phone", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "nonInternetIncident"):
            self.line(_prefixed("Location", self.child_text(incident, "locationName")))
            for address in _children(incident, "incidentAddress"):
                parts = [
                    self.child_text(address, part)
                    for part in ("address", "city", "state", "nonUsaState", "zipCode", "country")
                ]
                self.line(_prefixed("Incident address", ", ".join(p for p in parts if p)))
            self.line(_prefixed("Offline incident", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "peer2peerIncident"):
            self.line(_prefixed("Peer-to-peer client", self.child_text(incident, "client")))
            for capture in _children(incident, "ipCaptureEvent"):
                self.ip_event(capture, f"{base}/peer2peerIncident", "Peer-to-peer")
            self.line(_prefixed("Peer-to-peer file names", self.child_text(incident, "fileNames")))
            self.line(_prefixed("Peer-to-peer", self.child_text(incident, "additionalInfo")))
        for incident in _children(details, "newsgroupIncident"):
            self.line(_prefixed("Newsgroup", self.child_text(incident, "name")))
            for email in _children(incident, "emailAddress"):
                self.identifier("EMAIL", self.text(email), f"{base}/newsgroupIncident/emailAddress")
            self.line(_prefixed("Newsgroup", self.child_text(incident, "additionalInfo")))

    def law_enforcement(self, enforcement: Element) -> None:
        parts = []
        if agency := self.child_text(enforcement, "agencyName"):
            parts.append(agency)
        if case := self.child_text(enforcement, "caseNumber"):
            parts.append(f"case {case}")
        if self.flag(enforcement, "reportedToLe"):
            parts.append("already reported to law enforcement")
        if self.flag(enforcement, "servedLegalProcessDomestic"):
            parts.append("domestic legal process served")
        international = _child(enforcement, "servedLegalProcessInternational")
        if self.flag(enforcement, "servedLegalProcessInternational"):
            country = (
                _attribute(international, "fleaCountry") if international is not None else None
            )
            parts.append(
                "international legal process served" + (f" ({country})" if country else "")
            )
        if parts:
            self.line("Law enforcement: " + ", ".join(parts))

    def screen_name(
        self, value: str | None, platform: str | None, path: str, label: str = ""
    ) -> None:
        """A screen name is a USERNAME on its platform; with no platform known it is never
        filed under a guessed one (it would link unrelated accounts): narrative only."""
        if value is None:
            return
        if platform:
            self.identifier("USERNAME", value, path, qualifier=_platform(platform))
        else:
            who = f"{label} screen name" if label else "Screen name"
            self.line(f"{who} (platform not given): {value}")

    def party(
        self,
        section: Element,
        base: str,
        person_tag: str | None,
        role: str,
        label: str,
        default_platform: str | None,
    ) -> None:
        """A reported user, intended recipient, victim or associated account: identifiers,
        the person as a subject, and the rest as narrative lines."""
        person = _child(section, person_tag) if person_tag else section
        person_path = f"{base}/{person_tag}" if person_tag else base
        holders = [(person, person_path)]
        if person_tag:  # the documented form also puts email/phone directly in the section
            holders.append((section, base))
        for holder, path in holders:
            for email in _children(holder, "email"):
                self.identifier("EMAIL", self.text(email), f"{path}/email")
            self.phones(holder, "phone", f"{path}/phone")

        service = self.child_text(section, "espService")
        if person_tag is None:  # an associated account names its platform itself
            platform = service or self.child_text(section, "platform")
        elif self.flag(section, "thirdPartyUserReported"):
            platform = service  # another company's user: not the reporter's platform
            self.line(f"{label}: uses another company's service")
        else:
            platform = service or default_platform
        for name in _children(section, "screenName"):
            self.screen_name(self.text(name), platform, f"{base}/screenName", label)
        for account in _children(section, "espIdentifier"):
            value = self.text(account)
            if value and platform:
                qualifier = _platform(platform, " account id")
                self.identifier("USERNAME", value, f"{base}/espIdentifier", qualifier=qualifier)
            elif value:
                self.line(f"{label} account id (platform not given): {value}")
        for url in _children(section, "profileUrl"):
            self.identifier("URL", self.text(url), f"{base}/profileUrl")
        for capture in _children(section, "ipCaptureEvent"):
            self.ip_event(capture, base, label)
        for device in _children(section, "deviceId"):
            self.device(device, base)

        display_names = self.texts(section, "displayName")
        full_name = " ".join(
            part
            for part in (
                self.child_text(person, "firstName"),
                self.child_text(person, "middleName"),
                self.child_text(person, "lastName"),
            )
            if part
        )
        if full_name:
            self.raw.subjects.append(
                RawSubject(
                    full_name=full_name,
                    date_of_birth=self.child_text(person, "dateOfBirth"),
                    role=role,
                    aliases=display_names or None,
                    full_name_field=f"{person_path}/lastName",
                    date_of_birth_field=f"{person_path}/dateOfBirth",
                    aliases_field=f"{base}/displayName",
                )
            )
        else:
            self.line(_prefixed(f"{label} display names", ", ".join(display_names)))
            if dob := self.child_text(person, "dateOfBirth"):
                self.line(f"{label} date of birth: {dob}")
        age = self.child_text(person, "age") or self.child_text(person, "approximateAge")
        self.line(_prefixed(f"{label} age", age))
        self.address(person, label)
        self.line(_prefixed(f"{label} vehicle", self.child_text(section, "vehicleDescription")))
        self.line(_prefixed(f"{label} school", self.child_text(section, "schoolName")))
        if self.flag(section, "compromisedAccount"):
            self.line(f"{label}: account reported as compromised")
        self.line(_prefixed(f"{label} bio", self.child_text(section, "profileBio")))
        self.line(_prefixed(f"{label} group", self.child_text(section, "groupIdentifier")))
        prior = self.texts(section, "priorCTReports") + self.texts(section, "priorCTReport")
        self.line(_prefixed(f"{label} prior CyberTipline reports", ", ".join(prior)))
        for tag, what in (
            ("accountTemporarilyDisabled", "temporarily disabled"),
            ("accountPermanentlyDisabled", "permanently disabled"),
        ):
            disabled = _child(section, tag)
            if self.flag(section, tag) and disabled is not None:
                when = _attribute(disabled, "disabledDate")
                self.line(f"{label}: account {what}" + (f" {when}" if when else ""))
        location = _child(section, "estimatedLocation")
        if location is not None:
            parts = [self.child_text(location, p) for p in ("city", "region", "countryCode")]
            self.line(_prefixed(f"{label} estimated location", ", ".join(p for p in parts if p)))
        for info in self.texts(section, "additionalInfo"):
            self.line(f"{label}: {info}")
        for account in _children(section, "associatedAccount"):
            kind = _attribute(account, "type")
            self.party(
                account,
                f"{base}/associatedAccount",
                None,
                "OTHER",
                f"{label}'s associated account" + (f" ({kind})" if kind else ""),
                None,
            )

    def file_details(self, details: Element, names: list[str]) -> None:
        base = "fileDetails"
        name = self.child_text(details, "originalFileName") or self.child_text(details, "fileName")
        if name:
            names.append(name)
        uploaded = self.child_text(details, "uploadedToEspTimestamp")
        event = "UPLOAD" if uploaded else None
        other: list[str] = []

        def file_hash(value: str | None, hash_type: str | None, path: str) -> None:
            if value is None:
                return
            algorithm = _algorithm(hash_type)
            if hash_type is None or algorithm:  # no type: inferred from the length
                self.identifier(
                    "FILE_HASH",
                    value,
                    path,
                    qualifier=algorithm,
                    event=event,
                    captured_at=uploaded,
                    captured_at_field=f"{base}/uploadedToEspTimestamp",
                )
            else:
                other.append(hash_type)

        for element in _children(details, "originalFileHash"):
            file_hash(
                self.text(element),
                _attribute(element, "hashType", "type"),
                f"{base}/originalFileHash",
            )
        shared_type = self.child_text(details, "hashType")  # the documented form
        for tag in ("fileHash", "hash"):
            for element in _children(details, tag):
                file_hash(
                    self.text(element),
                    _attribute(element, "hashType", "type") or shared_type,
                    f"{base}/{tag}",
                )
        for metadata in _children(details, "details"):
            for pair in _children(metadata, "nameValuePair"):
                kind = _attribute(pair, "type") or _attribute(metadata, "type")
                if (kind or "").upper() == "HASH":
                    file_hash(
                        self.child_text(pair, "value"),
                        self.child_text(pair, "name"),
                        f"{base}/details/nameValuePair/value",
                    )
        self.identifier("URL", self.child_text(details, "locationOfFile"), f"{base}/locationOfFile")
        for capture in _children(details, "ipCaptureEvent"):
            self.ip_event(capture, base, f"File {name or 'unnamed'}")
        for device in _children(details, "deviceId"):
            self.device(device, base)

        facts = []
        if relevance := self.child_text(details, "fileRelevance"):
            facts.append(relevance.lower())
        if classification := self.child_text(details, "industryClassification"):
            facts.append(f"industry classification {classification}")
        annotations = _child(details, "fileAnnotations")
        tags = []
        if annotations is not None:
            self.used.add(id(annotations))
            tags = [_name(tag.tag) for tag in _elements(annotations)]
        facts += [tag for tag in tags if self.flag(annotations, tag)]
        if self.flag(details, "potentialMeme"):
            facts.append("potentialMeme")
        for tag, fact in (
            ("publiclyAvailable", "publicly available"),
            ("fileViewedByEsp", "viewed by the ESP"),
            ("exifViewedByEsp", "EXIF viewed by the ESP"),
        ):
            if self.flag(details, tag):
                facts.append(fact)
        if uploaded:
            facts.append(f"uploaded {uploaded}")
        if other:
            kinds = ", ".join(dict.fromkeys(other))
            facts.append(f"{kinds} hash kept in the raw record")
        facts += self.texts(details, "additionalInfo")
        if facts:
            self.line(f"File {name or 'unnamed'}: " + "; ".join(facts))

    # -- reference and raw record ----------------------------------------------------------

    def reference(self, nested_files: list[Element]) -> None:
        report, raw = self.report, self.raw
        explicit = _attribute(report, "id", "reportId") or self.child_text(report, "reportId")
        if explicit is None:
            for response in [
                *(r for tag in _RESPONSES for r in _children(report, tag)),
                *self.responses,
            ]:
                if explicit := self.child_text(response, "reportId"):
                    break
        for details in self.files:  # a file that follows the report must be this report's
            named = self.child_text(details, "reportId")
            if explicit is not None and named is not None and named != explicit:
                raw.errors.append(
                    RowError(
                        self.row,
                        "fileDetails/reportId",
                        f"{named!r} is not the id of the report it follows ({explicit!r})",
                    )
                )
        if explicit is None:
            named_ids = list(
                dict.fromkeys(
                    value
                    for details in [*nested_files, *self.files]
                    if (value := self.child_text(details, "reportId"))
                )
            )
            if len(named_ids) > 1:
                raw.errors.append(
                    RowError(
                        self.row,
                        "fileDetails/reportId",
                        "the files name different reports: " + ", ".join(named_ids),
                    )
                )
            elif named_ids:
                explicit = named_ids[0]
        for details in [*nested_files, *self.files]:
            self.text(_child(details, "fileId"))  # NCMEC's id of an uploaded file: kept as is
        if explicit is not None:
            raw.source_reference = explicit
        else:
            raw.source_reference = derived_reference(report, self.files)
            self.derived = True

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"format": "cybertipline-xml", "report": _tree(self.report)}
        if self.files:
            record["fileDetails"] = [_tree(details) for details in self.files]
        if self.responses:
            record["responses"] = [_tree(response) for response in self.responses]
        if self.derived:
            record["derivedReference"] = True
        unmapped: dict[str, None] = {}
        for top, prefix in [
            (self.report, ""),
            *((details, "fileDetails/") for details in self.files),
            *((response, _name(response.tag) + "/") for response in self.responses),
        ]:
            for path in self.unmapped(top, prefix):
                unmapped[path] = None
        record["unmapped"] = list(unmapped)
        return record

    def unmapped(self, element: Element, prefix: str) -> Iterator[str]:
        """Paths (relative to the report, no indexes) of the leaf elements not used."""
        for child in _elements(element):
            path = prefix + _name(child.tag)
            if _elements(child):
                yield from self.unmapped(child, path + "/")
            elif id(child) not in self.used and _local(child.tag) not in _SELF_EVIDENT:
                yield path


def _platform(name: str, suffix: str = "") -> str:
    """A platform as a USERNAME qualifier: cut to fit (the same long name always gives the same
    qualifier; a name too long must not cost the whole report)."""
    return " ".join(name.split())[: MAX_QUALIFIER - len(suffix)].rstrip() + suffix


def _prefixed(label: str, text: str | None) -> str | None:
    return f"{label}: {text}" if text else None


def _descendants(element: Element, name: str) -> list[Element]:
    name = name.lower()
    return [node for node in element.iter() if node is not element and _local(node.tag) == name]


# ---------------------------------------------------------------------------------------------
# the file


def _build(
    row: int, report: Element, files: list[Element], responses: list[Element], deferred: bool
) -> Iterator[IntakeTip | RowError | DeferredTip]:
    yield from built(_Report(row, report, files, responses).read(), deferred=deferred)


def parse_xml(
    stream: BinaryIO, *, max_rows: int, deferred: bool = False
) -> Iterator[IntakeTip | RowError | DeferredTip]:
    """Yield one IntakeTip, or the RowErrors of a bad report, per ``<report>`` element (a
    DeferredTip when ``deferred``: ``backend.intake.validation.built``).

    The root may be any element whose children are ``<report>`` elements, or a single
    ``<report>``. ``row`` is the report's position (1 = first report). A ``<fileDetails>``
    (or a ``<reportResponse>``) beside the reports belongs to the report it follows.
    """
    events = iterparse(_Utf8Checked(stream), events=("start", "end"), forbid_dtd=True)
    depth = 0
    root: Element | None = None
    row = 0
    pending: tuple[int, Element] | None = None
    files: list[Element] = []
    responses: list[Element] = []
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
            tag = _local(element.tag)
            if depth == 0:  # the root
                if tag == "report":
                    yield from _build(row, element, [], [], deferred)
                elif tag == "filedetails":
                    raise _orphan()
                continue
            if root is not None and _local(root.tag) == "report":
                continue  # a part of the single report the file is
            if tag == "report":
                if pending is not None:
                    yield from _build(*pending, files, responses, deferred)
                pending, files, responses = (row, element), [], []
            elif tag == "filedetails":
                if pending is None:
                    raise _orphan()
                files.append(element)
            elif tag in ("reportresponse", "reportdoneresponse") and pending is not None:
                responses.append(element)
            if root is not None:
                root.clear()  # drop the finished child (kept alive only while pending)
        if pending is not None:
            yield from _build(*pending, files, responses, deferred)
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


def _orphan() -> FileRejected:
    return FileRejected(
        "MALFORMED_XML",
        "A <fileDetails> must be inside the <report> it belongs to or follow it; this one "
        "comes before any report.",
    )
