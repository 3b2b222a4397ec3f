"""Parsers of bulk-intake files: CSV, JSON and CyberTipline-style XML (issue 6)."""

from __future__ import annotations

import io
import json
import tracemalloc
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from backend.intake.parse import detect_format, parse, parse_csv
from backend.intake.records import (
    FileRejected,
    IntakeIdentifier,
    IntakeSubject,
    IntakeTip,
    RowError,
)
from backend.vocabulary import HandlingCaveat, SightingEvent, SubjectRole, TipCategory

SAMPLES = Path(__file__).parent / "samples"


def run(name: str, *, max_rows: int = 1000) -> list[IntakeTip | RowError]:
    with (SAMPLES / name).open("rb") as stream:
        return list(parse(stream, format=detect_format(name), max_rows=max_rows))


def run_bytes(data: bytes, fmt: str, *, max_rows: int = 1000) -> list[IntakeTip | RowError]:
    return list(parse(io.BytesIO(data), format=fmt, max_rows=max_rows))


def rejected(data: bytes, fmt: str, *, max_rows: int = 1000) -> FileRejected:
    with pytest.raises(FileRejected) as info:
        run_bytes(data, fmt, max_rows=max_rows)
    return info.value


def errors_of(items: list[IntakeTip | RowError]) -> list[tuple[int, str]]:
    return [(item.row, item.field) for item in items if isinstance(item, RowError)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ident(kind: str, value: str, qualifier: str = "", event: str = "REPORTED", at=None):
    return IntakeIdentifier(kind, value, qualifier, event, at)


# ------------------------------------------------------------------------------------------
# good samples


def test_good_csv_parses_to_the_expected_tips():
    # given the committed good.csv / when it is parsed
    items = run("good.csv")
    # then every row is a tip with exactly the values of the file
    assert items == [
        IntakeTip(
            row=1,
            source_reference="CSV-0001",
            received_at=utc(2024, 3, 1, 9, 15),
            category="DISTRIBUTION",
            narrative="Fake sample tip, for tests only.",
            priority=2,
            handling_caveat="LAW_ENFORCEMENT_SENSITIVE",
            escalated=True,
            identifiers=(
                ident("EMAIL", "alice.example@example.com"),
                ident("EMAIL", "a.backup@example.org"),
                ident("USERNAME", "alice_x", "instagram"),
                ident("PHONE", "+1 202-555-0143"),
                ident("IP_ADDRESS", "192.0.2.10", at=utc(2024, 2, 28, 22, 1)),
                ident("URL", "https://example.com/gallery/1"),
                ident("FILE_HASH", "d41d8cd98f00b204e9800998ecf8427e", "MD5"),
            ),
            subjects=(
                IntakeSubject("Alice Example", date(1990, 4, 12), "SUSPECT"),
                IntakeSubject("Bob Example", None, "WITNESS"),
            ),
        ),
        IntakeTip(
            row=2,
            source_reference="CSV-0002",
            received_at=utc(2024, 3, 2, 10, 0),
            category="ENTICEMENT",
            identifiers=(
                ident("IP_ADDRESS", "198.51.100.7"),
                ident("PASSPORT", "X1234567", "US"),
            ),
        ),
        IntakeTip(
            row=3,
            source_reference="CSV-0003",
            received_at=datetime(2024, 3, 3, 11, 30, tzinfo=timezone(timedelta(hours=2))),
            category="CHILD_SEX_TOURISM",
            narrative="Travel plans seen in chat.",
            priority=5,
            identifiers=(
                ident("URL", "http://travel.example.net/offer"),
                ident("DEVICE_ID", "DEV-abc-0042"),
            ),
            subjects=(IntakeSubject("Carol Example"),),
        ),
    ]


def test_good_json_parses_to_the_expected_tips():
    # given the committed good.json ({"tips": [...]}) / when it is parsed
    items = run("good.json")
    # then
    assert items == [
        IntakeTip(
            row=1,
            source_reference="JSON-0001",
            received_at=utc(2024, 4, 1, 8, 0),
            category="POSSESSION",
            narrative="Fake sample tip, for tests only.",
            priority=1,
            handling_caveat="OWNER_ONLY",
            escalated=True,
            identifiers=(
                ident("EMAIL", "dave.example@example.com"),
                ident("USERNAME", "@dave_x", "twitter"),
                ident("IP_ADDRESS", "203.0.113.5", event="LOGIN", at=utc(2024, 3, 31, 23, 59)),
            ),
            subjects=(
                IntakeSubject("Dave Example", date(1985, 7, 30), "SUSPECT", ("D. Example",), "US"),
            ),
        ),
        IntakeTip(
            row=2,
            source_reference="JSON-0002",
            received_at=utc(2024, 4, 2, 12, 0),
            category="DISTRIBUTION",
            identifiers=(
                ident("FILE_HASH", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "SHA1", "UPLOAD"),
            ),
        ),
        IntakeTip(
            row=3,
            source_reference="JSON-0003",
            received_at=datetime(2024, 4, 3, 15, 45, tzinfo=timezone(timedelta(hours=-5))),
            category="OTHER",
            priority=4,
            identifiers=(ident("PHONE", "+1 312 555 0188"),),
            subjects=(IntakeSubject("Erin Example", None, "VICTIM"),),
        ),
    ]


def test_good_xml_parses_to_the_expected_tips():
    # given the committed CyberTipline-style good.xml / when it is parsed
    items = run("good.xml")
    # then
    assert items == [
        IntakeTip(
            row=1,
            source_reference="XML-0001",
            received_at=utc(2024, 5, 1, 10, 0),
            category="DISTRIBUTION",
            narrative="Chat room: fake-room (Discord)\nFiles: fake1.jpg\nReported by: Example ESP",
            escalated=True,
            identifiers=(
                ident("EMAIL", "frank.example@example.com"),
                ident("URL", "https://example.com/share/abc"),
                ident("USERNAME", "frankie_fake", "Discord"),
                ident("PHONE", "+1 202-555-0101"),
                ident("IP_ADDRESS", "198.51.100.23", event="UPLOAD", at=utc(2024, 4, 30, 21)),
                ident("EMAIL", "frank.other@example.org"),
                ident("PHONE", "+1 202-555-0102"),
                ident("USERNAME", "frank_fake", "Instagram"),
                ident("IP_ADDRESS", "192.0.2.44", event="LOGIN", at=utc(2024, 4, 29, 8, 30)),
                ident("DEVICE_ID", "IMEI-000000000000001"),
                ident("FILE_HASH", "0CC175B9C0F1B6A831C399E269772661", "MD5"),
            ),
            subjects=(IntakeSubject("Frank Example", date(1979, 1, 15), "SUSPECT"),),
        ),
        IntakeTip(
            row=2,
            source_reference="XML-0002",
            received_at=utc(2024, 5, 2, 11, 0),
            category="ENTICEMENT",
            identifiers=(
                ident("USERNAME", "grace_fake", "Snapchat"),
                ident("IP_ADDRESS", "203.0.113.9", event="REGISTRATION", at=utc(2024, 1, 1)),
            ),
        ),
        IntakeTip(
            row=3,
            source_reference="XML-0003",
            received_at=datetime(2024, 5, 3, 12, 0, tzinfo=timezone(timedelta(hours=1))),
            category="CHILD_SEX_TOURISM",
            narrative="Files: fake2.png",
            identifiers=(
                ident(
                    "FILE_HASH",
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    "SHA256",
                ),
            ),
        ),
    ]


def test_json_bare_array_and_json_lines_give_the_same_tips_as_the_wrapper():
    # given the same two tips as {"tips": [...]}, as a bare array and as JSON Lines
    tip_a = b'{"source_reference": "A", "received_at": "2024-01-01T00:00:00Z", "category": "OTHER"}'
    tip_b = b'{"source_reference": "B", "received_at": "2024-01-02T00:00:00Z", "category": "x"}'
    wrapped = b'{"version": 1, "tips": [' + tip_a + b", " + tip_b + b'], "note": "ok"}'
    bare = b"[" + tip_a + b",\n" + tip_b + b"]"
    lines = tip_a + b"\n" + tip_b + b"\n"
    # when each is parsed
    results = [run_bytes(data, "json") for data in (wrapped, bare, lines)]
    # then all three agree: row 1 a tip, row 2 an unknown category
    expected = [
        IntakeTip(1, "A", utc(2024, 1, 1), "OTHER"),
        RowError(
            2,
            "category",
            "unknown category 'x' (expected one of: POSSESSION, DISTRIBUTION, PRODUCTION, "
            "ENTICEMENT, CHILD_SEX_TOURISM, OTHER)",
        ),
    ]
    assert results == [expected, expected, expected]


# ------------------------------------------------------------------------------------------
# malformed samples


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("broken.xml", "MALFORMED_XML"),
        ("billion_laughs.xml", "ENTITIES_FORBIDDEN"),
        ("external_entity.xml", "ENTITIES_FORBIDDEN"),
        ("latin1.csv", "BAD_ENCODING"),
    ],
)
def test_malformed_sample_is_rejected_with_its_code(name, code):
    # given a malformed committed sample / when it is parsed / then the whole file is rejected
    with pytest.raises(FileRejected) as info:
        run(name)
    assert info.value.code == code


def test_missing_required_fields_are_reported_per_row():
    # given missing_field.csv (row 1 lacks category, row 2 source_reference) / when parsed
    items = run("missing_field.csv")
    # then
    assert items == [
        RowError(1, "category", "required"),
        RowError(2, "source_reference", "required"),
    ]


def test_malformed_identifiers_are_reported_with_their_json_path():
    # given bad_identifier.json (identifiers 2, 3, 4 are wrong) / when parsed
    items = run("bad_identifier.json")
    # then one error per bad identifier, and no tip
    assert items == [
        RowError(1, "identifiers[2].value", "Invalid e-mail address 'not-an-email': missing '@'"),
        RowError(
            1,
            "identifiers[3].value",
            "Invalid username 'nobody_fake': a platform (qualifier) is required for usernames",
        ),
        RowError(
            1,
            "identifiers[4].value",
            "Invalid file hash 'abc123': md5 hash must be 32 hex characters long, got 6",
        ),
    ]


def test_bad_rows_are_reported_and_good_rows_still_parse():
    # given bad_rows.csv: rows 1 and 5 good, rows 2-4 bad / when parsed
    items = run("bad_rows.csv")
    # then the good rows are tips and each problem of a bad row is one error
    assert [item.source_reference for item in items if isinstance(item, IntakeTip)] == [
        "ROW-1",
        "ROW-5",
    ]
    assert [item.row for item in items if isinstance(item, IntakeTip)] == [1, 5]
    assert errors_of(items) == [
        (2, "received_at"),
        (3, "category"),
        (3, "priority"),
        (3, "email"),
        (3, "ip_address"),
        (4, "subject_dob"),
    ]
    reasons = {(item.row, item.field): item.reason for item in items if isinstance(item, RowError)}
    assert reasons[(2, "received_at")] == (
        "'yesterday' is not a date-time: expected an ISO 8601 date-time such as "
        "2024-05-01T12:30:00Z"
    )
    assert reasons[(3, "priority")] == "9 is out of range (1 highest to 5 lowest)"
    assert reasons[(3, "ip_address")] == (
        "Invalid IP address '192.0.2.300': not a valid IPv4 or IPv6 address"
    )
    assert reasons[(4, "subject_dob")] == (
        "'1990-02-30' is not a valid date (day is out of range for month)"
    )


def test_csv_without_required_columns_is_rejected():
    # given a header without received_at and category / when parsed / then
    error = rejected(b"source_reference,email\nA,a@example.com\n", "csv")
    assert error.code == "MISSING_COLUMNS"
    assert error.message == "The CSV header lacks required column(s): received_at, category."


@pytest.mark.parametrize(
    ("data", "fmt", "code"),
    [
        (b'{"tips": [{"source_reference": "A",}]}', "json", "MALFORMED_JSON"),
        (b'{"tips": [{"source_reference": "A"}', "json", "MALFORMED_JSON"),
        (b"", "json", "MALFORMED_JSON"),
        (b"hello", "json", "MALFORMED_JSON"),
        (b'[{"a": NaN}]', "json", "MALFORMED_JSON"),
        (b'[{"narrative": "caf\xe9"}]', "json", "BAD_ENCODING"),
        (b"<reports><report></reports>", "xml", "MALFORMED_XML"),
        (b"\xff\xfe<\x00r\x00/\x00>\x00", "xml", "BAD_ENCODING"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><reports/>', "xml", "BAD_ENCODING"),
        (b"<reports><report>caf\xe9</report></reports>", "xml", "BAD_ENCODING"),
        (b"", "csv", "MISSING_COLUMNS"),
        (b'source_reference,received_at,category\n"A,unterminated\n', "csv", "MALFORMED_CSV"),
    ],
)
def test_file_level_problems_raise_file_rejected(data, fmt, code):
    # given a broken file / when parsed / then the file is rejected with the code
    assert rejected(data, fmt).code == code


def test_a_bad_tip_in_a_json_array_is_a_row_error_not_a_rejection():
    # given an array with a non-object and a wrongly typed identifiers list
    data = (
        b'[42, {"source_reference": "B", "received_at": "2024-01-01T00:00:00Z", '
        b'"category": "other", "identifiers": {"kind": "EMAIL"}, "subjects": [{"role": "x"}]}]'
    )
    # when parsed
    items = run_bytes(data, "json")
    # then
    assert items == [
        RowError(1, "tip", "must be a JSON object, not int"),
        RowError(2, "identifiers", "must be a list"),
        RowError(2, "subjects[0].full_name", "required"),
        RowError(
            2,
            "subjects[0].role",
            "unknown role 'x' (expected one of: SUSPECT, VICTIM, WITNESS, REPORTING_PERSON, OTHER)",
        ),
    ]


def test_xml_errors_name_the_element_path():
    # given a report with an unknown incident type and a bad e-mail and IP time (and no id,
    # which is no error: the report gets a reference derived from its content, issue 14)
    data = b"""<reports><report><incidentSummary><incidentType>Spam</incidentType>
      <incidentDateTime>2024-05-01T10:00:00Z</incidentDateTime></incidentSummary>
      <internetDetails><emailIncident><emailAddress>nope</emailAddress></emailIncident>
      </internetDetails><personOrUserReported><ipCaptureEvent><ipAddress>192.0.2.1</ipAddress>
      <eventName>Purchase</eventName><dateTime>soon</dateTime></ipCaptureEvent>
      </personOrUserReported></report></reports>"""
    # when parsed
    items = run_bytes(data, "xml")
    # then
    assert errors_of(items) == [
        (1, "incidentSummary/incidentType"),
        (1, "internetDetails/emailIncident/emailAddress"),
        (1, "personOrUserReported/ipCaptureEvent/dateTime"),
    ]


def test_xml_single_report_root_namespaces_and_unknown_event_names():
    # given a lone namespaced <report> whose IP event is not a known SightingEvent
    data = b"""<?xml version="1.0" encoding="utf-8"?>
    <report xmlns="https://example.org/cybertip" id="NS-1">
      <incidentSummary><incidentType>child sex trafficking</incidentType>
      <incidentDateTime>2024-05-01T10:00:00</incidentDateTime></incidentSummary>
      <personOrUserReported><ipCaptureEvent><ipAddress>2001:db8::1</ipAddress>
      <eventName>Chat</eventName></ipCaptureEvent></personOrUserReported>
    </report>"""
    # when parsed / then the report is row 1, the event falls back to OTHER
    assert run_bytes(data, "xml") == [
        IntakeTip(
            1,
            "NS-1",
            utc(2024, 5, 1, 10),
            "OTHER",
            identifiers=(ident("IP_ADDRESS", "2001:db8::1", event="OTHER"),),
        )
    ]


# ------------------------------------------------------------------------------------------
# categories, dates, limits, BOM, dispatch


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("possession", "POSSESSION"),
        ("Child Pornography (possession, manufacture, and distribution)", "DISTRIBUTION"),
        ("Online Enticement of Children for Sexual Acts", "ENTICEMENT"),
        ("Child Sex Tourism", "CHILD_SEX_TOURISM"),
        ("child-sex-tourism", "CHILD_SEX_TOURISM"),
        ("Unsolicited Obscene Material Sent to a Child", "OTHER"),
        ("Misleading Domain Name", "OTHER"),
    ],
)
def test_categories_are_case_insensitive_with_cybertipline_synonyms(given, expected):
    # given a tip with the category spelled as in the file / when parsed
    data = (
        f'[{{"source_reference": "C", "received_at": "2024-01-01T00:00:00Z", '
        f'"category": "{given}"}}]'.encode()
    )
    # then
    assert run_bytes(data, "json") == [IntakeTip(1, "C", utc(2024, 1, 1), expected)]


def test_naive_times_are_utc_and_dates_alone_are_rejected():
    data = (
        b"source_reference,received_at,category\nA,2024-01-01T10:00:00,OTHER\nB,2024-01-01,OTHER\n"
    )
    items = run_bytes(data, "csv")
    assert items == [
        IntakeTip(1, "A", utc(2024, 1, 1, 10), "OTHER"),
        RowError(
            2,
            "received_at",
            "'2024-01-01' is not a date-time: expected an ISO 8601 date-time such as "
            "2024-05-01T12:30:00Z",
        ),
    ]


def test_utf8_bom_is_accepted():
    # given CSV, JSON and XML files that start with a UTF-8 BOM
    bom = b"\xef\xbb\xbf"
    csv_data = bom + b"source_reference,received_at,category\nA,2024-01-01T00:00:00Z,OTHER\n"
    json_data = (
        bom + b'[{"source_reference": "A", "received_at": "2024-01-01T00:00:00Z", '
        b'"category": "OTHER"}]'
    )
    xml_data = (
        bom + b'<?xml version="1.0" encoding="UTF-8"?><reports><report id="A">'
        b"<incidentSummary><incidentType>Other</incidentType>"
        b"<incidentDateTime>2024-01-01T00:00:00Z</incidentDateTime></incidentSummary>"
        b"</report></reports>"
    )
    expected = [IntakeTip(1, "A", utc(2024, 1, 1), "OTHER")]
    # when parsed / then the BOM is not part of the first column or value
    assert run_bytes(csv_data, "csv") == expected
    assert run_bytes(json_data, "json") == expected
    assert run_bytes(xml_data, "xml") == expected


@pytest.mark.parametrize("name", ["good.csv", "good.json", "good.xml"])
def test_more_rows_than_max_rows_is_rejected(name):
    # given a sample with 3 tips / when parsed with max_rows=2 / then
    with pytest.raises(FileRejected) as info:
        run(name, max_rows=2)
    assert info.value.code == "TOO_MANY_ROWS"
    # and max_rows equal to the count is fine
    assert len(run(name, max_rows=3)) == 3


def test_parsers_stream_one_item_at_a_time():
    # given a CSV whose second row is cut off by bad encoding
    data = (
        b"source_reference,received_at,category\nA,2024-01-01T00:00:00Z,OTHER\n"
        + (b"x" * 100_000)
        + b"\xe9\n"
    )
    items = parse_csv(io.BytesIO(data), max_rows=10)
    # when only the first item is taken / then it arrives before the bad bytes are read
    assert next(items) == IntakeTip(1, "A", utc(2024, 1, 1), "OTHER")
    with pytest.raises(FileRejected):
        next(items)


def test_the_callers_stream_stays_open():
    stream = io.BytesIO(b"source_reference,received_at,category\n")
    assert list(parse_csv(stream, max_rows=1)) == []
    assert not stream.closed


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("tips.csv", "csv"),
        ("TIPS.CSV", "csv"),
        ("a.b.json", "json"),
        ("tips.jsonl", "json"),
        ("tips.ndjson", "json"),
        ("report.XML", "xml"),
    ],
)
def test_detect_format(filename, expected):
    assert detect_format(filename) == expected


@pytest.mark.parametrize("filename", ["tips.xlsx", "tips", "", "csv"])
def test_detect_format_rejects_unknown_extensions(filename):
    with pytest.raises(FileRejected) as info:
        detect_format(filename)
    assert info.value.code == "UNKNOWN_FORMAT"


def test_parse_rejects_an_unknown_format_and_dispatches_known_ones():
    with pytest.raises(FileRejected) as info:
        parse(io.BytesIO(b""), format="yaml", max_rows=1)
    assert info.value.code == "UNKNOWN_FORMAT"
    with (SAMPLES / "good.json").open("rb") as stream:
        assert len(list(parse(stream, format="JSON", max_rows=5))) == 3


def _one_tip(**fields: object) -> bytes:
    tip = {"source_reference": "V", "received_at": "2024-01-01T00:00:00Z", "category": "OTHER"}
    return json.dumps([tip | fields]).encode()


def test_the_parsers_read_every_choice_the_models_accept_and_no_other():
    # given the models' choices (backend.vocabulary: the models, the schema and the parsers
    # all read them from there), each value of each, and one no model accepts
    fields = {
        "category": (TipCategory.values, lambda v: {"category": v}, lambda t: t.category),
        "handling_caveat": (
            HandlingCaveat.values,
            lambda v: {"handling_caveat": v},
            lambda t: t.handling_caveat,
        ),
        "identifiers[0].event": (
            SightingEvent.values,
            lambda v: {"identifiers": [{"kind": "EMAIL", "value": "a@example.com", "event": v}]},
            lambda t: t.identifiers[0].event,
        ),
        "subjects[0].role": (
            SubjectRole.values,
            lambda v: {"subjects": [{"full_name": "A Person", "role": v}]},
            lambda t: t.subjects[0].role,
        ),
    }
    for field, (values, spelled, read) in fields.items():
        # when a file gives each value / then it is read as given
        for value in values:
            [tip] = run_bytes(_one_tip(**spelled(value)), "json")
            assert isinstance(tip, IntakeTip) and read(tip) == value, (field, value)
        # and a value no model accepts is a row error naming the field
        assert errors_of(run_bytes(_one_tip(**spelled("NOT_A_VALUE")), "json")) == [(1, field)]


# ------------------------------------------------------------------------------------------
# streaming: a ~50 MB file is parsed in bounded memory

TARGET_BYTES = 50 * 1024 * 1024
PEAK_LIMIT = 10 * 1024 * 1024  # the files are 50 MB; a streaming parse peaks under 1 MB
FILLER = "Fake narrative for the streaming test. " * 100  # ~4 KB per tip


def _write_csv(path: Path) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("source_reference,received_at,category,narrative,email,ip_address\n")
        while out.tell() < TARGET_BYTES:
            rows += 1
            out.write(
                f"BIG-{rows},2024-01-01T00:00:00Z,OTHER,{FILLER},"
                f"user{rows}@example.com,192.0.2.{rows % 250}\n"
            )
    return rows


def _write_xml(path: Path) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<reports>\n')
        while out.tell() < TARGET_BYTES:
            rows += 1
            out.write(
                f'<report id="BIG-{rows}"><incidentSummary><incidentType>Other</incidentType>'
                "<incidentDateTime>2024-01-01T00:00:00Z</incidentDateTime></incidentSummary>"
                f"<narrative>{FILLER}</narrative><internetDetails><emailIncident>"
                f"<emailAddress>user{rows}@example.com</emailAddress></emailIncident>"
                "</internetDetails></report>\n"
            )
        out.write("</reports>\n")
    return rows


def _write_json(path: Path) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{"tips": [\n')
        while out.tell() < TARGET_BYTES:
            if rows:
                out.write(",\n")
            rows += 1
            out.write(
                f'{{"source_reference": "BIG-{rows}", "received_at": "2024-01-01T00:00:00Z", '
                f'"category": "OTHER", "narrative": "{FILLER}", "identifiers": '
                f'[{{"kind": "EMAIL", "value": "user{rows}@example.com"}}]}}'
            )
        out.write("\n]}\n")
    return rows


@pytest.mark.parametrize(
    ("fmt", "writer"), [("csv", _write_csv), ("xml", _write_xml), ("json", _write_json)]
)
def test_a_50_mb_file_is_parsed_in_bounded_memory(tmp_path, fmt, writer):
    # given a ~50 MB file on disk
    path = tmp_path / f"big.{fmt}"
    rows = writer(path)
    assert path.stat().st_size >= TARGET_BYTES
    # when every item is parsed (and dropped) under tracemalloc
    tips = errors = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for item in parse(stream, format=fmt, max_rows=rows):
                if isinstance(item, IntakeTip):
                    tips += 1
                else:
                    errors += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then every row is a tip and the peak stayed far below the file size
    assert (tips, errors) == (rows, 0)
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB"
