"""CyberTipline reports as NCMEC's Reporting API defines them (issue 14): every part mapped,
ids from wherever they sit or derived from the content, unknown elements kept."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from backend import models as m
from backend.identifiers import normalise
from backend.intake.importer import import_tips
from backend.intake.parse import parse
from backend.intake.records import FileRejected, IntakeIdentifier, IntakeSubject, IntakeTip
from tests.factories import SourceFactory

SAMPLE = Path(__file__).parent / "samples" / "cybertipline_api.xml"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parsed(data: bytes) -> list:
    return list(parse(io.BytesIO(data), format="xml", max_rows=1000))


def tips_of(data: bytes) -> list[IntakeTip]:
    items = parsed(data)
    assert all(isinstance(item, IntakeTip) for item in items), items
    return items


def one(data: bytes) -> IntakeTip:
    (tip,) = tips_of(data)
    return tip


def report(body: str, *, attributes: str = "") -> bytes:
    """A file of one report: the required incident summary and reporter, and ``body``."""
    return (
        f"<reports><report{attributes}><incidentSummary>"
        "<incidentType>Child Pornography (possession, manufacture, and distribution)"
        "</incidentType><incidentDateTime>2024-05-01T10:00:00Z</incidentDateTime>"
        "</incidentSummary><reporter><reportingPerson><firstName>John</firstName>"
        f"<lastName>Smith</lastName></reportingPerson></reporter>{body}</report></reports>"
    ).encode()


def ident(kind, value, qualifier="", event="REPORTED", at=None) -> IntakeIdentifier:
    return IntakeIdentifier(kind, value, qualifier, event, at)


# ---------------------------------------------------------------------------------------------
# the full report of the API, every part


def test_a_report_with_every_part_maps_each_of_them():
    # given the sample's first report: every optional part of the API's report, no id
    first = tips_of(SAMPLE.read_bytes())[0]
    # then the tip
    assert re.fullmatch(r"CT-[0-9a-f]{64}", first.source_reference)
    assert first.received_at == datetime(2024, 5, 20, 18, 30, tzinfo=timezone(-timedelta(hours=4)))
    assert first.category == "ENTICEMENT"
    assert first.escalated is True
    # its identifiers, in document order
    assert first.identifiers == (
        ident("URL", "https://files.example.net/share/a1b2"),
        ident("EMAIL", "pat.fake@example.org"),
        ident("IP_ADDRESS", "198.51.100.77", event="UPLOAD", at=utc(2024, 5, 19, 10)),
        ident("PHONE", "+44 7700 900123"),
        ident("EMAIL", "Pat.Fake@Example.org"),
        ident("PHONE", "+1 2025550143"),
        ident("USERNAME", "PatTheCoach", "ExampleChat"),
        ident("USERNAME", "100234567", "ExampleChat account id"),
        ident("URL", "https://examplechat.example/u/PatTheCoach"),
        ident("IP_ADDRESS", "203.0.113.50", event="LOGIN", at=utc(2024, 5, 20, 22)),
        ident("DEVICE_ID", "35-209900-176148-1", event="REGISTRATION", at=utc(2023, 1, 1)),
        ident("EMAIL", "billing.fake@example.org"),
        ident("USERNAME", "patpays", "ExamplePay"),
        ident("USERNAME", "kiddo_fake", "ExampleChat Kids"),
        ident("USERNAME", "vicky_fake", "ExampleChat"),
        ident(
            "FILE_HASH",
            "0CC175B9C0F1B6A831C399E269772661",
            "MD5",
            "UPLOAD",
            utc(2024, 5, 20, 17),
        ),
        ident(
            "FILE_HASH",
            "86F7E437FAA5A7FCE15D1DDCB9EAEAEA377667B8",
            "SHA1",
            "UPLOAD",
            utc(2024, 5, 20, 17),
        ),
        ident(
            "FILE_HASH",
            "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB",
            "SHA256",
            "UPLOAD",
            utc(2024, 5, 20, 17),
        ),
        ident(
            "FILE_HASH",
            "1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53"
            "02860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75",
            "SHA512",
            "UPLOAD",
            utc(2024, 5, 20, 17),
        ),
        ident("URL", "https://cdn.examplechat.example/m/IMG_0001.jpg"),
        ident("IP_ADDRESS", "203.0.113.51", event="UPLOAD", at=utc(2024, 5, 20, 17)),
    )
    # its people: the reported person (display name as alias), the billing account's holder,
    # the victim; never the reporter's staff or the officer
    assert first.subjects == (
        IntakeSubject("Pat Fakename", date(1980, 2, 29), "SUSPECT", ("Coach Pat",)),
        IntakeSubject("Pat Fakename-Billing", None, "OTHER"),
        IntakeSubject("Vicky Fakechild", date(2011, 3, 3), "VICTIM"),
    )
    # and the narrative: the escalation reason first, then everything else worth reading
    assert first.narrative.splitlines() == [
        "Escalated: Planned meeting with the child on 2024-06-02",
        "The reported user also used a second account.",
        "Platform: ExampleChat",
        "Incident time: Messages over three days",
        "Report annotations: sextortion",
        "Web page: hosted by a third party",
        "Web page: Link sent in chat",
        "Chat room: teens-lounge (ExampleChat)",
        "Peer-to-peer client: eMule",
        "Peer-to-peer: IP address 198.51.100.77 port 4662, possibly a proxy",
        "Peer-to-peer file names: holiday_01.avi, holiday_02.avi",
        "Peer-to-peer: Shared for two weeks",
        "Cell phone location: 51.5, -0.12",
        "Law enforcement: Example County Sheriff, case 24-1234, already reported to law "
        "enforcement",
        "Reported user address (Home): 1 Example Street, Springfield, IL, US",
        "Reported user bio: Youth football coach",
        "Reported user group: group-9",
        "Reported user prior CyberTipline reports: 111111, 222222",
        "Reported user: account permanently disabled 2024-05-21T00:00:00Z",
        "Reported user estimated location: Springfield, IL, US",
        "Reported user: Asked for photos",
        "Victim age: 13",
        "Victim school: Example Middle School",
        "Files: IMG_0001.jpg",
        "File IMG_0001.jpg: reported; industry classification B1; possibleSelfProduction; "
        "viewed by the ESP; uploaded 2024-05-20T17:00:00Z; PhotoDNA, PDQ hash kept in the raw "
        "record; Sent to the child",
        "Reported by: John Smith",
    ]


def test_the_raw_record_keeps_every_element_and_lists_the_unmapped_ones():
    # given the sample's first report / when parsed
    record = tips_of(SAMPLE.read_bytes())[0].raw_record
    # then every element is there as received, the unknown one with its attribute
    reported = record["report"]["personOrUserReported"]
    assert reported["futureElement"] == {
        "@code": "7",
        "#text": "added to the schema after this importer",
    }
    assert reported["priorCTReports"] == ["111111", "222222"]
    assert record["report"]["reporter"]["reportingPerson"]["email"] == "jsmith@esp.example.com"
    hashes = record["report"]["fileDetails"]["originalFileHash"]
    assert {"@hashType": "PhotoDNA", "#text": "00112233445566778899aabbccddeeff"} in hashes
    assert record["format"] == "cybertipline-xml"
    assert record["derivedReference"] is True
    # and the paths of what no tip field, identifier, subject or narrative line carries
    assert record["unmapped"] == [
        "internetDetails/emailIncident/content",
        "internetDetails/chatImIncident/content",
        "lawEnforcement/officerContact/firstName",
        "lawEnforcement/officerContact/lastName",
        "lawEnforcement/officerContact/email",
        "reporter/reportingPerson/email",
        "reporter/contactPerson/firstName",
        "reporter/contactPerson/lastName",
        "reporter/contactPerson/phone",
        "reporter/legalURL",
        "personOrUserReported/deviceId/idType",
        "personOrUserReported/futureElement",
        "fileDetails/fileName",
        "fileDetails/details/nameValuePair/name",
        "fileDetails/details/nameValuePair/value",
    ]


def test_the_reporters_staff_and_the_officer_are_neither_subjects_nor_identifiers():
    first = tips_of(SAMPLE.read_bytes())[0]
    values = {i.value.lower() for i in first.identifiers}
    assert "jsmith@esp.example.com" not in values
    assert "o.officer@sheriff.example.gov" not in values
    assert not any("2025550199" in value for value in values)
    assert {s.full_name for s in first.subjects}.isdisjoint({"John Smith", "Jane Doe"})


# ---------------------------------------------------------------------------------------------
# each optional part present or absent


def _without(path: str) -> bytes:
    """The sample's first report with every element at ``path`` (under the report) removed."""
    tree = ET.parse(SAMPLE)
    first = tree.getroot().find("report")
    parent_path, _, name = path.rpartition("/")
    for parent in [first] if not parent_path else first.findall(parent_path):
        for child in parent.findall(name):
            parent.remove(child)
    return b"<reports>" + ET.tostring(first) + b"</reports>"


OPTIONAL_PARTS = [
    "incidentSummary/platform",
    "incidentSummary/escalateToHighPriority",
    "incidentSummary/reportAnnotations",
    "incidentSummary/incidentDateTimeDescription",
    "internetDetails",
    "lawEnforcement",
    "personOrUserReported",
    "personOrUserReported/personOrUserReportedPerson",
    "personOrUserReported/espIdentifier",
    "personOrUserReported/screenName",
    "personOrUserReported/ipCaptureEvent",
    "personOrUserReported/deviceId",
    "personOrUserReported/associatedAccount",
    "intendedRecipient",
    "victim",
    "additionalInfo",
    "fileDetails",
    "fileDetails/originalFileHash",
    "fileDetails/details",
    "fileDetails/ipCaptureEvent",
]


@pytest.mark.parametrize("path", OPTIONAL_PARTS)
def test_a_report_lacking_an_optional_part_still_imports_with_the_rest(path):
    # given the full report, and the same report without one optional part
    full = tips_of(SAMPLE.read_bytes())[0]
    # when the shorter one is parsed
    lacking = one(_without(path))
    # then it is a tip (another report, so another derived reference) whose identifiers and
    # subjects are those of the full report, fewer or the same
    assert lacking.source_reference != full.source_reference
    assert set(lacking.identifiers) <= set(full.identifiers)
    assert {s.full_name for s in lacking.subjects} <= {s.full_name for s in full.subjects}
    assert lacking.category == full.category


def test_a_report_with_only_the_required_parts_is_a_tip_with_nothing_else():
    tip = one(report(""))
    assert (tip.identifiers, tip.subjects, tip.escalated) == ((), (), False)
    assert tip.narrative == "Reported by: John Smith"
    assert tip.raw_record["unmapped"] == []


def test_without_an_escalation_the_tip_is_not_escalated():
    tip = one(_without("incidentSummary/escalateToHighPriority"))
    assert tip.escalated is False
    assert not tip.narrative.startswith("Escalated")


# ---------------------------------------------------------------------------------------------
# the reference: an id wherever it sits, else derived from the content


@pytest.mark.parametrize(
    ("data", "reference"),
    [
        (report("", attributes=' id="A-1"'), "A-1"),
        (report("", attributes=' reportId="A-2"'), "A-2"),
        (report("<reportId>4564654</reportId>"), "4564654"),
        (report("<fileDetails><reportId>777</reportId><fileId>f1</fileId></fileDetails>"), "777"),
        (
            report(
                "<reportResponse><responseCode>0</responseCode><reportId>888</reportId>"
                "</reportResponse>"
            ),
            "888",
        ),
    ],
)
def test_the_report_id_is_read_wherever_it_sits(data, reference):
    assert one(data).source_reference == reference


def test_file_details_and_a_response_that_follow_a_report_belong_to_it():
    # given the sample's second report, followed by NCMEC's response and its file details
    second = tips_of(SAMPLE.read_bytes())[1]
    # then its id is NCMEC's report id, and the file's hash and name are the report's
    assert second.source_reference == "4564654"
    assert second.identifiers == (
        ident("USERNAME", "PatTheCoach", "ExampleChat"),
        ident("FILE_HASH", "0cc175b9c0f1b6a831c399e269772661", "MD5"),
    )
    assert "Files: mypic.jpg" in second.narrative
    assert second.raw_record["fileDetails"][0]["fileId"] == "b0754af766b426f2928a02c651ed4b99"
    assert second.raw_record["responses"][0]["reportId"] == "4564654"


def test_file_details_naming_another_report_than_the_one_they_follow_are_an_error():
    data = report("", attributes=' id="5"').replace(
        b"</reports>",
        b"<fileDetails><reportId>6</reportId><fileId>x</fileId></fileDetails></reports>",
    )
    (error,) = parsed(data)
    assert (error.row, error.field) == (1, "fileDetails/reportId")
    assert "'6' is not the id of the report it follows ('5')" in error.reason


def test_file_details_before_any_report_reject_the_file():
    data = b"<reports><fileDetails><reportId>1</reportId></fileDetails></reports>"
    with pytest.raises(FileRejected) as refused:
        parsed(data)
    assert refused.value.code == "MALFORMED_XML"


def test_a_report_without_id_gets_the_same_reference_however_it_is_laid_out():
    # given the same report: indented, on one line, its repeated parts in another order, and
    # with a different schema location and NCMEC file id
    body = (
        "<personOrUserReported><espService>ExampleChat</espService>"
        "<screenName>pat</screenName>"
        "<ipCaptureEvent><ipAddress>192.0.2.1</ipAddress></ipCaptureEvent>"
        "<ipCaptureEvent><ipAddress>192.0.2.2</ipAddress></ipCaptureEvent>"
        "</personOrUserReported>"
        "<fileDetails><fileId>aaa</fileId><originalFileHash hashType='MD5'>"
        "0cc175b9c0f1b6a831c399e269772661</originalFileHash></fileDetails>"
    )
    original = report(body)
    reindented = original.replace(b"><", b">\n   <")
    reordered = original.replace(
        b"<ipAddress>192.0.2.1</ipAddress>", b"<ipAddress>192.0.2.X</ipAddress>"
    ).replace(b"<ipAddress>192.0.2.2</ipAddress>", b"<ipAddress>192.0.2.1</ipAddress>")
    reordered = reordered.replace(b"192.0.2.X", b"192.0.2.2")
    other_ids = original.replace(b"<fileId>aaa</fileId>", b"<fileId>bbb</fileId>").replace(
        b"<report>",
        b'<report xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xsi:noNamespaceSchemaLocation="https://example.org/xsd">',
    )
    # when each is parsed / then they share one reference
    references = {one(data).source_reference for data in (original, reindented, reordered)}
    references.add(one(other_ids).source_reference)
    assert len(references) == 1
    # and a report that differs in one value gets another
    changed = one(
        original.replace(b"<screenName>pat</screenName>", b"<screenName>pam</screenName>")
    )
    assert changed.source_reference not in references


# ---------------------------------------------------------------------------------------------
# screen names and their platform


@pytest.mark.parametrize(
    ("summary_platform", "reporter", "section", "expected"),
    [
        # espService names the platform
        ("", "", "<espService>Snapchat</espService>", "Snapchat"),
        # without it: the platform of the incident summary
        ("<platform>ExampleChat</platform>", "", "", "ExampleChat"),
        # without either: the reporting ESP's name of the documented form
        ("", "<reportingEsp><espName>Example ESP</espName></reportingEsp>", "", "Example ESP"),
        # never the reporting person's own name: no platform, no USERNAME
        ("", "", "", None),
        # another company's user: not the reporter's platform either
        (
            "<platform>ExampleChat</platform>",
            "",
            "<thirdPartyUserReported>true</thirdPartyUserReported>",
            None,
        ),
    ],
)
def test_a_screen_name_is_filed_under_its_platform_never_under_a_persons_name(
    summary_platform, reporter, section, expected
):
    data = (
        "<report id='S'><incidentSummary><incidentType>Child Sex Tourism</incidentType>"
        f"{summary_platform}<incidentDateTime>2024-05-01T10:00:00Z</incidentDateTime>"
        f"</incidentSummary><reporter>{reporter}<reportingPerson><firstName>John</firstName>"
        "<lastName>Smith</lastName></reportingPerson></reporter><personOrUserReported>"
        f"{section}<screenName>pat_x</screenName><espIdentifier>42</espIdentifier>"
        "</personOrUserReported></report>"
    ).encode()
    tip = one(data)
    usernames = [(i.value, i.qualifier) for i in tip.identifiers if i.kind == "USERNAME"]
    if expected is None:
        assert usernames == []
        assert "screen name (platform not given): pat_x" in tip.narrative
        assert "account id (platform not given): 42" in tip.narrative
    else:
        assert usernames == [("pat_x", expected), ("42", f"{expected} account id")]
    assert all("john smith" not in q.lower() for _, q in usernames)


def test_the_same_account_in_two_reports_without_esp_service_is_one_identifier():
    # given two reports of one ESP that name the platform only in the incident summary
    def of(incident: str) -> IntakeTip:
        return one(
            (
                "<report><incidentSummary><incidentType>Child Sex Tourism</incidentType>"
                "<platform>ExampleChat</platform>"
                f"<incidentDateTime>{incident}</incidentDateTime></incidentSummary>"
                "<reporter><reportingPerson><firstName>A</firstName></reportingPerson>"
                "</reporter><personOrUserReported><screenName>Pat_X</screenName>"
                "</personOrUserReported></report>"
            ).encode()
        )

    keys = set()
    for tip in (of("2024-05-01T10:00:00Z"), of("2024-06-01T10:00:00Z")):
        (name,) = tip.identifiers
        norm = normalise(name.kind, name.value, qualifier=name.qualifier)
        keys.add((norm.kind, norm.qualifier, norm.value))
    # then both name the same identifier
    assert len(keys) == 1
    assert {(qualifier, value) for _, qualifier, value in keys} == {("examplechat", "pat_x")}


def test_a_platform_name_longer_than_a_qualifier_is_cut_not_refused():
    long_name = "Example Messenger for Tablets and Phones and Watches and Televisions Edition"
    tip = one(
        report(
            f"<personOrUserReported><espService>{long_name}</espService>"
            "<screenName>pat</screenName><espIdentifier>9</espIdentifier>"
            "</personOrUserReported>"
        )
    )
    assert [len(i.qualifier) <= 64 for i in tip.identifiers] == [True, True]
    assert tip.identifiers[0].qualifier == long_name[:64].rstrip()


# ---------------------------------------------------------------------------------------------
# hashes, peer-to-peer, escalation, phones


@pytest.mark.parametrize(
    ("hash_type", "value", "algorithm"),
    [
        ("MD5", "0CC175B9C0F1B6A831C399E269772661", "MD5"),
        ("md5", "0cc175b9c0f1b6a831c399e269772661", "MD5"),
        ("SHA1", "86F7E437FAA5A7FCE15D1DDCB9EAEAEA377667B8", "SHA1"),
        ("SHA-1", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", "SHA1"),
        ("SHA256", "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB", "SHA256"),
        ("sha_256", "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", "SHA256"),
        (
            "SHA-512",
            "1F40FC92DA241694750979EE6CF582F2D5D7D28E18335DE05ABC54D0560E0F53"
            "02860C652BF08D560252AA5E74210546F369FBBBCE8C12CFC7957B2652FE9A75",
            "SHA512",
        ),
    ],
)
def test_cryptographic_hashes_of_every_type_are_file_hash_identifiers(hash_type, value, algorithm):
    tip = one(
        report(
            f"<fileDetails><originalFileHash hashType='{hash_type}'>{value}</originalFileHash>"
            "</fileDetails>"
        )
    )
    (found,) = tip.identifiers
    assert (found.kind, found.value, found.qualifier) == ("FILE_HASH", value, algorithm)
    norm = normalise(found.kind, found.value, qualifier=found.qualifier)
    assert (norm.value, norm.qualifier) == (value.lower(), algorithm.lower())


@pytest.mark.parametrize("hash_type", ["PhotoDNA", "PDQ", "TMK+PDQF"])
def test_perceptual_hashes_stay_in_the_raw_record(hash_type):
    tip = one(
        report(
            f"<fileDetails><originalFileName>a.jpg</originalFileName><originalFileHash "
            f"hashType='{hash_type}'>ABCDEF</originalFileHash></fileDetails>"
        )
    )
    assert tip.identifiers == ()
    assert f"File a.jpg: {hash_type} hash kept in the raw record" in tip.narrative
    assert tip.raw_record["report"]["fileDetails"]["originalFileHash"] == {
        "@hashType": hash_type,
        "#text": "ABCDEF",
    }


def test_a_malformed_cryptographic_hash_is_an_error_on_its_element():
    (error,) = parsed(
        report("<fileDetails><originalFileHash hashType='MD5'>abc</originalFileHash></fileDetails>")
    )
    assert (error.row, error.field) == (1, "fileDetails/originalFileHash")


def test_peer_to_peer_details_are_kept():
    tip = one(
        report(
            "<internetDetails><peer2peerIncident><client>BitTorrent</client><ipCaptureEvent>"
            "<ipAddress>192.0.2.9</ipAddress><port>6881</port></ipCaptureEvent>"
            "<fileNames>x.zip</fileNames><additionalInfo>seeded</additionalInfo>"
            "</peer2peerIncident></internetDetails>"
        )
    )
    assert tip.identifiers == (ident("IP_ADDRESS", "192.0.2.9"),)
    assert tip.narrative.splitlines()[:4] == [
        "Peer-to-peer client: BitTorrent",
        "Peer-to-peer: IP address 192.0.2.9 port 6881",
        "Peer-to-peer file names: x.zip",
        "Peer-to-peer: seeded",
    ]


@pytest.mark.parametrize(
    ("text", "escalated", "line"),
    [
        ("Child at immediate risk", True, "Escalated: Child at immediate risk"),
        ("true", True, None),
        ("false", False, None),
    ],
)
def test_the_escalation_reason_is_kept(text, escalated, line):
    data = report("").replace(
        b"<incidentDateTime>",
        f"<escalateToHighPriority>{text}</escalateToHighPriority><incidentDateTime>".encode(),
    )
    tip = one(data)
    assert tip.escalated is escalated
    if line is None:
        assert "Escalated" not in tip.narrative
    else:
        assert tip.narrative.splitlines()[0] == line


def test_a_phone_with_its_country_calling_code_is_international():
    tip = one(
        report(
            "<victim><victimPerson><phone countryCallingCode='+44'>7700900123</phone>"
            "</victimPerson></victim>"
        )
    )
    assert tip.identifiers == (ident("PHONE", "+44 7700900123"),)
    assert normalise("PHONE", tip.identifiers[0].value).value == "+447700900123"


# ---------------------------------------------------------------------------------------------
# importing


@pytest.mark.django_db
def test_a_report_without_id_sent_twice_is_one_tip_and_another_report_is_another():
    source = SourceFactory()
    body = report(
        "<personOrUserReported><espService>ExampleChat</espService>"
        "<screenName>pat</screenName></personOrUserReported>"
    )
    # when the report is imported, then sent again (laid out differently)
    first = import_tips(
        records=parse(io.BytesIO(body), format="xml", max_rows=10), source=source, by=None
    )
    again = import_tips(
        records=parse(io.BytesIO(body.replace(b"><", b">\n<")), format="xml", max_rows=10),
        source=source,
        by=None,
    )
    # then the second import finds it unchanged
    assert (first.new, again.new, again.unchanged) == (1, 0, 1)
    assert first.tip_ids == again.tip_ids
    # and a different report is a new tip
    other = import_tips(
        records=parse(
            io.BytesIO(
                body.replace(b"<screenName>pat</screenName>", b"<screenName>sam</screenName>")
            ),
            format="xml",
            max_rows=10,
        ),
        source=source,
        by=None,
    )
    assert other.new == 1
    assert m.Tip.objects.filter(source=source).count() == 2


@pytest.mark.django_db
def test_imported_report_stores_hashes_lower_case_with_their_algorithm_and_its_raw_record():
    source = SourceFactory()
    with SAMPLE.open("rb") as stream:
        result = import_tips(
            records=parse(stream, format="xml", max_rows=10), source=source, by=None
        )
    assert (result.new, result.rejected) == (2, 0), result.errors
    tip = m.Tip.objects.get(pk=result.tip_ids[0])
    hashes = set(
        m.Identifier.objects.filter(tip_set=tip, kind="FILE_HASH").values_list("qualifier", "value")
    )
    assert hashes == {
        ("md5", "0cc175b9c0f1b6a831c399e269772661"),
        ("sha1", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"),
        ("sha256", "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
        (
            "sha512",
            "1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53"
            "02860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75",
        ),
    }
    # the unknown element is stored with the tip
    assert tip.raw_record["report"]["personOrUserReported"]["futureElement"]["@code"] == "7"
    assert "personOrUserReported/futureElement" in tip.raw_record["unmapped"]
    # the escalation is a priority factor, and the two reports share the MD5 and the account
    assert tip.escalated and "ESCALATED" in {f["name"] for f in tip.priority_factors}
    second = m.Tip.objects.get(pk=result.tip_ids[1])
    assert second.cluster_id is not None and second.cluster_id == tip.cluster_id
