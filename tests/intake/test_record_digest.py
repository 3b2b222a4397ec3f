"""A record the source sent before, unchanged, is skipped unread (``DeferredTip``, the tip's
``intake_digest``); any other record is validated and compared as before."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.db import connection
from django.forms import modelform_factory
from django.test.utils import CaptureQueriesContext

from backend import models as m
from backend.intake import validation
from backend.intake.entry import import_file
from backend.intake.importer import ImportMode, import_tips
from backend.intake.parse import parse
from backend.intake.records import DeferredTip, IntakeTip
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
HEADER = "source_reference,received_at,category,narrative,email,phone,subject_name,subject_dob\n"
ROWS = [
    "D-1,2024-03-01T09:15:00Z,DISTRIBUTION,first,one@example.com,+1 202 555 0101,Ann Example,"
    "1990-04-12\n",
    "D-2,2024-03-02T09:15:00Z,POSSESSION,second,one@example.com,,,\n",
    "D-3,2024-03-03T09:15:00Z,PRODUCTION,third,,+1 202 555 0103,,\n",
]


def load(text: str, source: m.Source, **kwargs):
    return import_file(
        file=io.BytesIO(text.encode()),
        name="tips.csv",
        source=source,
        by=None,
        mode=kwargs.pop("mode", ImportMode.ACCEPT_VALID),
        **kwargs,
    )


def counts(report) -> tuple[int, int, int, int]:
    return (report.new, report.updated, report.unchanged, report.rejected)


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE", "COPY")
        or "pg_advisory" in q["sql"]
    ]


def test_an_unchanged_file_is_skipped_unread_and_unwritten(monkeypatch):
    # given a file imported once
    source = SourceFactory()
    first = load(HEADER + "".join(ROWS), source)
    assert counts(first) == (3, 0, 0, 0)
    assert all(t.intake_digest for t in m.Tip.objects.filter(source=source))
    # when the same file comes again, its rows in another order
    built = []
    real = validation.build_tip
    monkeypatch.setattr(validation, "build_tip", lambda raw: built.append(raw) or real(raw))
    with CaptureQueriesContext(connection) as queries:
        again = load(HEADER + "".join(reversed(ROWS)), source)
    # then every record is unchanged, none was validated, nothing was written or locked
    assert counts(again) == (0, 0, 3, 0)
    assert built == []
    assert writes(queries) == []
    # and the report names the same tips, in the file's order
    assert again.tip_ids == list(reversed(first.tip_ids))


def test_a_changed_record_is_read_compared_and_written():
    source = SourceFactory()
    load(HEADER + "".join(ROWS), source)
    before = m.Tip.objects.get(source_reference="D-2").intake_digest
    # when one record changes its narrative and another gains a phone number
    changed = [ROWS[0], ROWS[1].replace("second", "second corrected"), ROWS[2]]
    changed[2] = changed[2].replace(",,+1 202 555 0103", ",other@example.com,+1 202 555 0103")
    report = load(HEADER + "".join(changed), source)
    # then those two are updated and the third is skipped
    assert counts(report) == (0, 2, 1, 0)
    tip = m.Tip.objects.get(source_reference="D-2")
    assert tip.narrative == "second corrected"
    assert tip.intake_digest not in ("", before)
    assert m.TipIdentifier.objects.filter(tip__source_reference="D-3").count() == 2
    # and the changed file, sent once more, is skipped in turn
    assert counts(load(HEADER + "".join(changed), source)) == (0, 0, 3, 0)


def test_a_hand_edit_stands_when_the_source_resends_the_same_record():
    # given an imported tip an analyst corrected since
    source = SourceFactory()
    load(HEADER + "".join(ROWS), source)
    m.Tip.objects.filter(source_reference="D-1").update(narrative="corrected by hand")
    # when the source sends the same record again, it says nothing new: the correction stands
    assert counts(load(HEADER + ROWS[0], source)) == (0, 0, 1, 0)
    assert m.Tip.objects.get(source_reference="D-1").narrative == "corrected by hand"
    # when the source sends a changed record, its values are taken as before
    report = load(HEADER + ROWS[0].replace(",first,", ",first amended,"), source)
    assert counts(report) == (0, 1, 0, 0)
    assert m.Tip.objects.get(source_reference="D-1").narrative == "first amended"


def test_a_tip_rewritten_by_a_record_without_digest_is_compared_again():
    # given a tip imported from a file, then changed by records handed over built (no digest)
    source = SourceFactory()
    load(HEADER + ROWS[1], source)
    stored = m.Tip.objects.get(source_reference="D-2")
    rewritten = IntakeTip(
        row=1,
        source_reference="D-2",
        received_at=stored.received_at,
        category="POSSESSION",
        narrative="rewritten",
    )
    assert counts(import_tips(records=[rewritten], source=source, by=None)) == (0, 1, 0, 0)
    assert m.Tip.objects.get(source_reference="D-2").intake_digest == ""
    # when the first file comes again, it is not taken for the stored record: compared, it
    # puts the file's narrative back
    assert counts(load(HEADER + ROWS[1], source)) == (0, 1, 0, 0)
    assert m.Tip.objects.get(source_reference="D-2").narrative == "second"


def test_a_tip_stored_without_digest_gets_one_and_is_skipped_next_time():
    # given a tip stored by records handed over built, saying what the file says
    source = SourceFactory()
    (record,) = [
        r.build()
        for r in parse(
            io.BytesIO((HEADER + ROWS[2]).encode()), format="csv", max_rows=10, deferred=True
        )
    ]
    import_tips(records=[record], source=source, by=None)
    tip = m.Tip.objects.get(source_reference="D-3")
    assert tip.intake_digest == ""
    # when the file comes: compared, unchanged, and its digest kept without touching the tip
    assert counts(load(HEADER + ROWS[2], source)) == (0, 0, 1, 0)
    tip.refresh_from_db()
    assert tip.intake_digest != ""
    assert tip.updated_at == m.Tip.objects.get(pk=tip.pk).updated_at
    # then the next time it is skipped unread
    with CaptureQueriesContext(connection) as queries:
        assert counts(load(HEADER + ROWS[2], source)) == (0, 0, 1, 0)
    assert writes(queries) == []


def test_a_skipped_record_still_claims_its_reference_in_the_file():
    source = SourceFactory()
    load(HEADER + ROWS[0], source)
    # when a file repeats an unchanged record, then its reference with other content
    report = load(HEADER + ROWS[0] + ROWS[0] + ROWS[0].replace(",first,", ",again,"), source)
    # then the later rows are rejected as before
    assert counts(report) == (0, 0, 1, 2)
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "sourceReference"),
        (3, "sourceReference"),
    ]
    assert all("already used by row 1" in e.reason for e in report.errors)


def test_all_or_nothing_skips_nothing_into_its_report_when_a_row_is_bad():
    source = SourceFactory()
    load(HEADER + ROWS[0], source)
    bad = "D-9,not a date,DISTRIBUTION,bad,,,,\n"
    report = load(HEADER + ROWS[0] + bad, source, mode=ImportMode.ALL_OR_NOTHING)
    assert counts(report) == (0, 0, 0, 1)
    assert report.tip_ids == []


@pytest.mark.parametrize("name", ["good.csv", "good.json", "good.xml", "cybertipline_api.xml"])
def test_every_format_defers_the_same_tips_and_skips_them_on_reimport(name):
    data = (SAMPLES / name).read_bytes()
    fmt = name.rsplit(".", 1)[1]
    # the deferred records build exactly the tips (or errors) the plain parser yields
    plain = list(parse(io.BytesIO(data), format=fmt, max_rows=1000))
    deferred = list(parse(io.BytesIO(data), format=fmt, max_rows=1000, deferred=True))
    assert any(isinstance(r, DeferredTip) for r in deferred)
    rebuilt = []
    for record in deferred:
        if isinstance(record, DeferredTip):
            result = record.build()
            rebuilt.extend(result if isinstance(result, list) else [result])
            if not isinstance(result, list):
                assert record.reference == result.source_reference
        else:
            rebuilt.append(record)
    assert rebuilt == plain
    # and a second import of the file skips every tip the first stored
    source = SourceFactory()
    first = import_file(
        file=io.BytesIO(data), name=name, source=source, by=None, mode="ACCEPT_VALID"
    )
    again = import_file(
        file=io.BytesIO(data), name=name, source=source, by=None, mode="ACCEPT_VALID"
    )
    assert first.new > 0
    assert counts(again) == (0, 0, first.new, first.rejected)


def test_the_digest_is_of_what_the_record_says_not_where():
    raw = validation.RawTip(row=1, source_reference="X", narrative="a", received_at="2024")
    moved = validation.RawTip(row=7, source_reference="X", narrative="a", received_at="2024")
    other = validation.RawTip(row=1, source_reference="X", narrative="b", received_at="2024")
    assert validation.record_digest(raw) == validation.record_digest(moved)
    assert validation.record_digest(raw) != validation.record_digest(other)


def test_no_form_offers_the_digest_for_editing():
    # the admin's form and any other model form leave the importer's bookkeeping out
    assert "intake_digest" not in modelform_factory(m.Tip, fields="__all__").base_fields
    assert "narrative" in modelform_factory(m.Tip, fields="__all__").base_fields
