"""backend.intake.importer: set-based, idempotent, all-or-nothing or batch-atomic bulk import."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q

from backend import models as m
from backend.intake import importer
from backend.intake.importer import ImportMode, import_tips
from backend.intake.records import IntakeIdentifier, IntakeSubject, IntakeTip, RowError
from backend.services.tips import SightingSpec, create_tip
from tests.factories import LeadFactory, OfficeFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

RECEIVED = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


class SimulatedCrash(RuntimeError):
    """A crash in the middle of a batch, injected by ``crash_in_batch``."""


def crash_in_batch(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """Make the importer crash in its ``batch``-th batch (from 1), after that batch's tips,
    identifiers, sightings, subjects and links were written: the linking step the importer
    runs for each batch does its work, then raises."""
    real = importer.link_tips
    calls = 0

    def link_then_crash(**kwargs):
        nonlocal calls
        calls += 1
        result = real(**kwargs)
        if calls == batch:
            raise SimulatedCrash(f"simulated crash in batch {batch}")
        return result

    monkeypatch.setattr(importer, "link_tips", link_then_crash)


def tip(row: int, *, ref: str | None = None, email: str | None = None, **fields) -> IntakeTip:
    identifiers = (IntakeIdentifier(kind="EMAIL", value=email),) if email else ()
    values = {
        "row": row,
        "source_reference": ref or f"R-{row}",
        "received_at": RECEIVED,
        "category": "DISTRIBUTION",
        "narrative": f"narrative {row}",
        "identifiers": identifiers,
        **fields,
    }
    return IntakeTip(**values)


def counts(report) -> tuple[int, int, int, int]:
    return (report.new, report.updated, report.unchanged, report.rejected)


def assert_one_notice(lead: m.Lead, reference: str, offices: set[int]) -> None:
    """Exactly one deconfliction notice exists: about ``lead``, raised by the tip of
    ``reference``, with a copy for each of ``offices``."""
    notice = m.DeconflictionNotice.objects.get()
    assert notice.lead_id == lead.pk
    assert notice.triggered_by_tip.source_reference == reference
    assert set(notice.recipients.values_list("office_id", flat=True)) == offices


def test_import_creates_tips_with_identifiers_subjects_links_and_scores():
    # given three tips, two of which share an e-mail address written differently
    source = SourceFactory()
    person = IntakeSubject(full_name="José Álvarez", date_of_birth=dt.date(1980, 2, 3))
    records = [
        tip(1, email="Shared@Example.com", subjects=(person,)),
        tip(2, email=" shared@EXAMPLE.com", category="PRODUCTION"),
        tip(3, email="other@example.com", priority=1),
    ]
    # when they are imported
    report = import_tips(records=records, source=source, by=None)
    # then all three are new, stored with normalised identifiers, linked and scored
    assert counts(report) == (3, 0, 0, 0)
    assert report.errors == []
    tips = {t.source_reference: t for t in m.Tip.objects.filter(source=source)}
    assert set(tips) == {"R-1", "R-2", "R-3"}
    assert m.Identifier.objects.filter(kind="EMAIL", value="shared@example.com").count() == 1
    assert tips["R-1"].cluster_id == tips["R-2"].cluster_id is not None
    assert tips["R-3"].cluster_id != tips["R-1"].cluster_id
    assert m.TipLink.objects.filter(from_tip=tips["R-1"], to_tip=tips["R-2"]).count() == 1
    subject = m.Subject.objects.get()
    assert (subject.full_name, subject.names_folded) == ("José Álvarez", "jose alvarez")
    # PRODUCTION (40) + one prior tip in the cluster (5) = 45, band 3; priority given stays
    assert (tips["R-2"].priority_score, tips["R-2"].priority) == (45.0, 3)
    assert (tips["R-3"].priority_score, tips["R-3"].priority) == (20.0, 1)


def test_reimport_is_idempotent_and_reports_new_updated_unchanged():
    # given a file imported once
    source = SourceFactory()
    first = [tip(1, email="a@example.com"), tip(2, email="b@example.com"), tip(3)]
    import_tips(records=first, source=source, by=None)
    # when the same file is imported again
    again = import_tips(records=first, source=source, by=None)
    # then nothing is new, nothing is duplicated
    assert counts(again) == (0, 0, 3, 0)
    assert m.Tip.objects.filter(source=source).count() == 3
    assert m.TipIdentifier.objects.count() == 2

    # when an overlapping file arrives: one changed narrative, one new identifier, one new tip
    overlapping = [
        tip(1, email="a@example.com", narrative="corrected"),
        tip(
            2,
            identifiers=(
                IntakeIdentifier(kind="EMAIL", value="b@example.com"),
                IntakeIdentifier(kind="PHONE", value="+1 202 555 0101"),
            ),
        ),
        tip(3),
        tip(4, email="a@example.com"),
    ]
    report = import_tips(records=overlapping, source=source, by=None)
    # then it says so, and the graph holds each tip, sighting and link once
    assert counts(report) == (1, 2, 1, 0)
    assert m.Tip.objects.filter(source=source).count() == 4
    assert m.Tip.objects.get(source_reference="R-1").narrative == "corrected"
    assert m.TipIdentifier.objects.filter(tip__source_reference="R-2").count() == 2
    assert m.TipIdentifier.objects.count() == 4
    r1, r4 = m.Tip.objects.get(source_reference="R-1"), m.Tip.objects.get(source_reference="R-4")
    assert r1.cluster_id == r4.cluster_id


def test_reimport_with_subjects_does_not_duplicate_them():
    # given a tip naming a person without a date of birth and one with
    source = SourceFactory()
    people = (
        IntakeSubject(full_name="Unknown Uploader"),
        IntakeSubject(full_name="Ann Example", date_of_birth=dt.date(1990, 1, 1), role="VICTIM"),
    )
    import_tips(records=[tip(1, subjects=people)], source=source, by=None)
    # when it is imported again, and another tip names the same dated person
    report = import_tips(
        records=[tip(1, subjects=people), tip(2, subjects=people[1:])], source=source, by=None
    )
    # then the stored people are reused, and the two tips are linked through the shared one
    assert counts(report) == (1, 0, 1, 0)
    assert m.Subject.objects.count() == 2
    assert m.TipSubject.objects.count() == 3
    assert m.TipLink.objects.filter(kind="SHARED_SUBJECT").count() == 1


def test_all_or_nothing_with_one_bad_row_imports_nothing_and_reports_every_bad_row():
    # given a file whose second row has a malformed e-mail and whose fourth the parser rejected
    source = SourceFactory()
    records = [
        tip(1, email="fine@example.com"),
        tip(2, email="not an address"),
        tip(3),
        RowError(4, "received_at", "missing"),
    ]
    # when it is imported all-or-nothing
    report = import_tips(
        records=records, source=source, by=None, mode=ImportMode.ALL_OR_NOTHING, batch_size=1
    )
    # then nothing is written and both bad rows are reported
    assert counts(report) == (0, 0, 0, 2)
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "identifiers[0].value"),
        (4, "received_at"),
    ]
    assert m.Tip.objects.count() == 0
    assert m.Identifier.objects.count() == 0


def test_accept_valid_imports_the_rest_and_reports_the_bad_rows():
    # given a file with a malformed e-mail, an unknown category and a repeated reference
    source = SourceFactory()
    records = [
        tip(1, email="fine@example.com"),
        tip(2, email="not an address"),
        tip(3, category="NOPE"),
        tip(4),
        tip(5, ref="R-1"),
    ]
    # when it is imported accepting valid rows
    report = import_tips(records=records, source=source, by=None, batch_size=2)
    # then the valid rows are imported and each bad row is reported with its field and reason
    assert counts(report) == (2, 0, 0, 3)
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "identifiers[0].value"),
        (3, "category"),
        (5, "sourceReference"),
    ]
    assert "Invalid e-mail address 'not an address'" in report.errors[0].reason
    assert report.errors[2].reason == "'R-1' is already used by row 1 of this file"
    assert set(m.Tip.objects.values_list("source_reference", flat=True)) == {"R-1", "R-4"}


def test_crash_mid_batch_leaves_nothing_of_that_batch_and_a_rerun_completes_it(monkeypatch):
    # given five tips imported in batches of two, with a crash injected in the second batch
    source = SourceFactory()
    records = [tip(n, email=f"p{n}@example.com") for n in range(1, 6)]
    progress: list[tuple[int, int]] = []
    crash_in_batch(monkeypatch, 2)
    # when the import runs
    with pytest.raises(SimulatedCrash):
        import_tips(
            records=records,
            source=source,
            by=None,
            batch_size=2,
            progress=lambda done, rejected: progress.append((done, rejected)),
        )
    # then the first batch is kept and nothing of the crashed batch (rows 3-4) persisted
    assert progress == [(2, 0)]
    assert set(m.Tip.objects.values_list("source_reference", flat=True)) == {"R-1", "R-2"}
    assert set(m.Identifier.objects.values_list("value", flat=True)) == {
        "p1@example.com",
        "p2@example.com",
    }
    # when the same file is imported again, without a crash
    monkeypatch.undo()
    report = import_tips(records=records, source=source, by=None, batch_size=2)
    # then it completes the import without duplicating the first batch
    assert counts(report) == (3, 0, 2, 0)
    assert m.Tip.objects.count() == 5
    assert m.TipIdentifier.objects.count() == 5


def test_crash_in_all_or_nothing_mode_leaves_nothing(monkeypatch):
    # given a whole-file import that crashes in its second batch
    source = SourceFactory()
    records = [tip(n) for n in range(1, 6)]
    crash_in_batch(monkeypatch, 2)
    # when it runs
    with pytest.raises(SimulatedCrash):
        import_tips(
            records=records,
            source=source,
            by=None,
            mode=ImportMode.ALL_OR_NOTHING,
            batch_size=2,
        )
    # then not even the first batch is kept
    assert m.Tip.objects.count() == 0


def test_imported_tips_link_and_cluster_exactly_like_hand_entered_ones():
    # given a hand-entered tip with an e-mail address and an IP address
    source = SourceFactory()
    by_hand = create_tip(
        by=None,
        source=source,
        source_reference="HAND-1",
        received_at=RECEIVED,
        category="OTHER",
        identifiers=[
            SightingSpec(kind="EMAIL", value="shared@example.com"),
            SightingSpec(kind="IP_ADDRESS", value="203.0.113.7"),
        ],
    )
    # when a file brings one tip sharing the address and one sharing the IP two days later
    late = RECEIVED + dt.timedelta(days=2)
    report = import_tips(
        records=[
            tip(1, email="SHARED@example.com"),
            tip(
                2,
                received_at=late,
                identifiers=(IntakeIdentifier(kind="IP_ADDRESS", value="203.0.113.7"),),
            ),
        ],
        source=source,
        by=None,
    )
    # then the e-mail links (cluster of two, both scored with the prior tip), the IP outside the
    # 24-hour window does not, as for hand-entered tips
    assert counts(report) == (2, 0, 0, 0)
    shared, ip = (m.Tip.objects.get(source_reference=r) for r in ("R-1", "R-2"))
    by_hand.refresh_from_db()
    assert shared.cluster_id == by_hand.cluster_id
    assert m.Cluster.objects.get(pk=shared.cluster_id).size == 2
    assert ip.cluster_id != by_hand.cluster_id
    assert not m.TipLink.objects.filter(Q(from_tip=ip) | Q(to_tip=ip)).exists()
    assert [f["name"] for f in shared.priority_factors] == ["CATEGORY", "PRIOR_TIPS_IN_CLUSTER"]


def test_import_raises_deconfliction_notices_for_another_offices_active_lead():
    # given another office's referred lead built from a tip with an e-mail address
    other, mine = OfficeFactory(), OfficeFactory()
    source = SourceFactory()
    old = create_tip(
        by=None,
        source=source,
        source_reference="OLD",
        received_at=RECEIVED,
        category="OTHER",
        identifiers=[SightingSpec(kind="EMAIL", value="target@example.com")],
    )
    lead = LeadFactory(office=other, status=m.LeadStatus.REFERRED)
    lead.tips.add(old)
    analyst = UserFactory(office=mine)
    # when an analyst of my office imports a tip with that address, and an unrelated one
    import_tips(
        records=[tip(1, email="target@example.com"), tip(2, email="x@example.com")],
        source=source,
        by=analyst,
    )
    # then one notice names the imported tip, with a copy for both offices
    assert_one_notice(lead, "R-1", {other.pk, mine.pk})


def test_import_raises_deconfliction_notices_through_a_shared_person():
    # given another office's active lead built from an imported tip that names a person (and
    # shares no identifier with what comes next)
    other, mine = OfficeFactory(), OfficeFactory()
    source = SourceFactory()
    person = IntakeSubject(full_name="Mara Quint", date_of_birth=dt.date(1979, 4, 5))
    import_tips(
        records=[tip(1, ref="OLD", email="a@example.com", subjects=(person,))],
        source=source,
        by=None,
    )
    old = m.Tip.objects.get(source_reference="OLD")
    lead = LeadFactory(office=other, status=m.LeadStatus.ACCEPTED)
    lead.tips.add(old)
    analyst = UserFactory(office=mine)
    # when an analyst of my office imports a tip naming the same person (written differently),
    # and one naming someone else
    stranger = IntakeSubject(full_name="Mara Quint", date_of_birth=dt.date(1990, 1, 1))
    import_tips(
        records=[
            tip(
                2,
                email="b@example.com",
                subjects=(IntakeSubject("  mara   QUINT ", dt.date(1979, 4, 5)),),
            ),
            tip(3, email="c@example.com", subjects=(stranger,)),
        ],
        source=source,
        by=analyst,
    )
    # then one notice, through the person, names the tip that named them (a copy for both)
    assert_one_notice(lead, "R-2", {other.pk, mine.pk})


def test_identifier_first_and_last_seen_take_in_every_batch():
    # given an e-mail seen in a first file, twice in one batch
    source = SourceFactory()
    at = [RECEIVED + dt.timedelta(days=d) for d in range(5)]
    import_tips(
        records=[
            tip(1, email="seen@example.com", received_at=at[2]),
            tip(2, email="seen@example.com", received_at=at[3]),
        ],
        source=source,
        by=None,
    )
    stored = m.Identifier.objects.get(value="seen@example.com")
    assert (stored.first_seen, stored.last_seen) == (at[2], at[3])
    # when later files see it earlier and later (in batches of one)
    import_tips(
        records=[tip(3, email="seen@example.com", received_at=at[0])],
        source=source,
        by=None,
    )
    import_tips(
        records=[
            tip(4, email="Seen@Example.com", received_at=at[4]),
            tip(5, email="other@example.com", received_at=at[1]),
        ],
        source=source,
        by=None,
        batch_size=1,
    )
    # then the stored identifier spans all of them, and the new one its own sighting
    stored.refresh_from_db()
    assert (stored.first_seen, stored.last_seen) == (at[0], at[4])
    other = m.Identifier.objects.get(value="other@example.com")
    assert (other.first_seen, other.last_seen) == (at[1], at[1])


def test_rows_written_without_instances_must_name_every_column():
    # given the importer's writer of plain rows (sightings and named subjects), asked to write
    # tip subjects without saying what goes in their role
    # then it refuses, naming the column, before writing anything
    with pytest.raises(TypeError, match="role"):
        importer._copy_rows(m.TipSubject, ("tip_id", "subject_id"), [(1, 2)])
    assert not m.TipSubject.objects.exists()


def test_an_imported_subject_is_the_row_a_new_subject_instance_would_save():
    # given a tip naming a person with aliases and a nationality, imported by an analyst
    source, analyst = SourceFactory(), UserFactory()
    person = IntakeSubject(
        full_name="José Álvarez",
        date_of_birth=dt.date(1980, 2, 3),
        aliases=("Pepe", "J. Alvarez"),
        nationality="ES",
    )
    import_tips(records=[tip(1, subjects=(person,))], source=source, by=analyst)
    # then the stored subject holds, column by column, what saving the model would have
    stored = m.Subject.objects.get()
    expected = m.Subject(
        full_name="José Álvarez",
        aliases=["Pepe", "J. Alvarez"],
        date_of_birth=dt.date(1980, 2, 3),
        nationality="ES",
        created_by=analyst,
    )
    expected.save()  # computes names_folded and the defaults, as a hand-entered subject
    clocks = ("id", "created_at", "updated_at")
    columns = [f.attname for f in m.Subject._meta.concrete_fields if f.attname not in clocks]
    assert {c: getattr(stored, c) for c in columns} == {c: getattr(expected, c) for c in columns}
    assert stored.created_at is not None


def test_imported_scores_are_those_of_the_stored_facts():
    # given a person on a sex-offender registry, named in a stored tip
    from backend.services.priority import assess_priority, facts_of, stored_factors

    source = SourceFactory()
    offender = IntakeSubject(full_name="Rolf Tarn", date_of_birth=dt.date(1970, 6, 7))
    import_tips(
        records=[tip(1, ref="FIRST", email="r@example.com", subjects=(offender,))],
        source=source,
        by=None,
    )
    m.Subject.objects.filter(full_name="Rolf Tarn").update(sex_offender_registered=True)
    victim = IntakeSubject(full_name="Rolf Tarn", date_of_birth=dt.date(1970, 6, 7), role="VICTIM")
    # when tips naming them as suspect and as victim, one sharing an e-mail with the first, and
    # others are imported in one batch
    import_tips(
        records=[
            tip(2, email="x@example.com", subjects=(offender,), category="PRODUCTION"),
            tip(3, email="y@example.com", subjects=(victim,)),
            tip(4, email="r@example.com", escalated=True),
            tip(5, email="x@example.com"),
            tip(6, email="lone@example.com", category="POSSESSION"),
        ],
        source=source,
        by=None,
    )
    # then every imported tip's score and factors are what its stored facts give (a tip is
    # scored when it is written: the first one is not written again)
    for stored in m.Tip.objects.filter(source=source).exclude(source_reference="FIRST"):
        expected = assess_priority(facts_of(stored))
        assert (stored.priority_score, stored.priority_factors) == (
            expected.score,
            stored_factors(expected),
        ), stored.source_reference
    names = {
        t.source_reference: {f["name"] for f in t.priority_factors}
        for t in m.Tip.objects.filter(source=source)
    }
    assert "SEX_OFFENDER_REGISTERED" in names["R-2"]
    assert "SEX_OFFENDER_REGISTERED" not in names["R-3"]
    assert "PRIOR_TIPS_IN_CLUSTER" in names["R-5"]


def _shaped(prefix: str, exchange: int, size: int) -> list[IntakeTip]:
    """``size`` tips, each with an e-mail of its own and a person with a birth date, every two
    sharing a phone number (so that they link and their clusters merge)."""
    return [
        tip(
            n,
            ref=f"{prefix}-{n}",
            identifiers=(
                IntakeIdentifier(kind="EMAIL", value=f"{prefix}{n}@example.com"),
                IntakeIdentifier(kind="PHONE", value=f"+1 202 555 {exchange}{n // 2:02d}"),
            ),
            subjects=(IntakeSubject(f"{prefix} Person {n}", dt.date(1980, 1, 1 + n % 28)),),
        )
        for n in range(1, size + 1)
    ]


def test_a_batch_runs_as_many_statements_for_sixty_tips_as_for_ten():
    # given two files of the same shape, of 10 and of 60 tips, with values of their own
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small, large = _shaped("small", 11, 10), _shaped("large", 22, 60)
    # (after one import, so that per-process caches such as content types are warm)
    import_tips(records=_shaped("warm", 33, 2), source=SourceFactory(), by=None)
    # when each is imported as one batch
    statements = []
    for records in (small, large):
        with CaptureQueriesContext(connection) as captured:
            report = import_tips(records=records, source=SourceFactory(), by=None)
        assert counts(report) == (len(records), 0, 0, 0)
        statements.append(len(captured))
    # then both ran the same statements: set-based, none per row
    assert statements[0] == statements[1], statements
