"""Hostile content in an uploaded file rejects only its own row: a NUL character or an
unpaired surrogate (which no PostgreSQL text can hold), text longer than its column, a tip
nested too deeply to decode. The other rows are imported."""

from __future__ import annotations

import io
import json

import pytest

from backend import models as m
from backend.intake.json_format import parse_json
from backend.intake.records import IntakeTip, RowError
from tests.factories import SourceFactory
from tests.intake.test_upload import bearer, upload

HEADER = "source_reference,received_at,category,narrative,email,username,username_platform"


def _row(
    reference: str, narrative: str = "", email: str = "", username: str = "", platform: str = ""
) -> str:
    return f"{reference},2024-05-01T09:00:00Z,OTHER,{narrative},{email},{username},{platform}"


def _tip(reference: str, **fields: object) -> dict[str, object]:
    return {
        "source_reference": reference,
        "received_at": "2024-05-01T09:00:00Z",
        "category": "OTHER",
        **fields,
    }


def _outcome(items: list[IntakeTip | RowError]) -> list[tuple[int, str] | str]:
    return [
        item.source_reference if isinstance(item, IntakeTip) else (item.row, item.field)
        for item in items
    ]


def test_a_deeply_nested_json_tip_rejects_only_itself() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    document = (
        '{"tips": ['
        + json.dumps(_tip("A"))
        + ', {"source_reference": "B", "narrative": '
        + deep
        + ', "note": "brackets ]] in a string"}, '
        + json.dumps(_tip("C"))
        + "]}"
    )
    items = list(parse_json(io.BytesIO(document.encode()), max_rows=10))
    assert _outcome(items) == ["A", (2, "tip"), "C"]
    assert "too deeply" in items[1].reason


def test_a_deeply_nested_json_lines_tip_rejects_only_itself() -> None:
    deep = '{"a": ' * 50_000 + "1" + "}" * 50_000
    document = f"{json.dumps(_tip('A'))}\n{deep}\n{json.dumps(_tip('C'))}\n"
    items = list(parse_json(io.BytesIO(document.encode()), max_rows=10))
    assert _outcome(items) == ["A", (2, "tip"), "C"]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"narrative": "a\x00b"}, "narrative", "NUL"),
        ({"narrative": "a\ud800b"}, "narrative", "surrogate"),
        (
            {"subjects": [{"full_name": "Some One", "aliases": ["a" * 201]}]},
            "subjects[0].aliases",
            "200",
        ),
        (
            {"identifiers": [{"kind": "URL", "value": "https://x.example/" + "a" * 2048}]},
            "identifiers[0].value",
            "2048",
        ),
        (
            {"identifiers": [{"kind": "USERNAME", "value": "x", "qualifier": "q" * 65}]},
            "identifiers[0].value",
            "64",
        ),
    ],
)
def test_a_json_value_no_column_can_hold_rejects_its_row(fields, field, reason) -> None:
    document = json.dumps({"tips": [_tip("A"), _tip("B", **fields), _tip("C")]})
    items = list(parse_json(io.BytesIO(document.encode()), max_rows=10))
    assert _outcome(items) == ["A", (2, field), "C"]
    assert reason in items[1].reason


@pytest.mark.django_db
def test_an_uploaded_csv_with_a_nul_byte_rejects_only_that_row() -> None:
    # given a CSV whose second row holds a NUL byte, and whose third an over-long e-mail
    content = "\n".join(
        [
            HEADER,
            _row("CT-1", "first"),
            _row("CT-2", "nul\x00here"),
            _row("CT-3", email="x" * 2049 + "@example.com"),
            _row("CT-4", username="someone", platform="p" * 65),
            _row("CT-5", "last"),
        ]
    ).encode()
    source = SourceFactory()
    # when it is uploaded
    payload = upload(content, source=source, auth=bearer())["data"]["uploadTips"]
    # then the other rows are imported, and each bad row is reported with its field
    assert payload["errors"] == []
    report = payload["report"]
    assert (report["new"], report["rejected"]) == (2, 3)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (2, "narrative"),
        (3, "email"),
        (4, "username"),
    ]
    assert "NUL" in report["errors"][0]["reason"]
    assert sorted(
        m.Tip.objects.filter(source=source).values_list("source_reference", flat=True)
    ) == [
        "CT-1",
        "CT-5",
    ]


@pytest.mark.django_db
def test_an_uploaded_json_file_with_a_deep_tip_imports_the_others() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    content = (
        '{"tips": ['
        + json.dumps(_tip("J-1"))
        + ', {"source_reference": "J-2", "narrative": '
        + deep
        + "}, "
        + json.dumps(_tip("J-3", narrative="a\u0000b"))
        + ", "
        + json.dumps(_tip("J-4"))
        + "]}"
    ).encode()
    source = SourceFactory()
    payload = upload(content, source=source, auth=bearer(), filename="tips.json")["data"][
        "uploadTips"
    ]
    report = payload["report"]
    assert (report["new"], report["rejected"]) == (2, 2)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(2, "tip"), (3, "narrative")]
