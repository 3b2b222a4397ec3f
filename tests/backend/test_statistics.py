"""Statistics equal the same figures computed independently, in Python, from generated data;
suppression hides small groups and anything a published total would give back."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from backend import models as m
from backend.errors import InvalidInput
from backend.services import statistics as stats
from backend.services.statistics import CountRow, Window
from tests.factories import OfficeFactory, SourceFactory, TipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ZONES = ("UTC", "America/New_York", "Asia/Kolkata")


def bucket(when: dt.datetime, interval: str | None, zone: str) -> dt.date | None:
    """The period of ``when``, computed without SQL: local date, ISO week start, month start."""
    if interval is None:
        return None
    day = when.astimezone(zoneinfo.ZoneInfo(zone)).date()
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (what percentile_cont does)."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Generated:
    tips: list[m.Tip]

    def live(self) -> list[m.Tip]:
        return [t for t in self.tips if t.removed_at is None]


@pytest.fixture
def generated() -> Generated:
    """~240 tips over ~100 days with every dimension varied, some removed, some in clusters."""
    rng = random.Random(20261125)
    sources = [SourceFactory(kind=kind) for kind in m.SourceKind.values]
    clusters = [m.Cluster.objects.create(size=0) for _ in range(25)]
    rows = []
    for n in range(240):
        received = NOW - dt.timedelta(minutes=rng.randint(0, 100 * 24 * 60))
        decided = rng.random() < 0.6
        actionable = rng.random() < 0.5 if decided else None
        reviewed_at = received + dt.timedelta(minutes=rng.randint(30, 20 * 24 * 60))
        referred = bool(actionable) and rng.random() < 0.6
        rows.append(
            m.Tip(
                source=rng.choice(sources),
                source_reference=f"GEN-{n:05d}",
                received_at=received,
                category=rng.choice(m.TipCategory.values),
                status=rng.choice(m.TipStatus.values),
                priority=rng.randint(1, 5),
                handling_caveat=m.HandlingCaveat.values[n % 3],
                is_actionable=actionable,
                reviewed_at=reviewed_at if decided else None,
                referred_at=reviewed_at + dt.timedelta(hours=rng.randint(1, 400))
                if referred
                else None,
                cluster=rng.choice(clusters) if rng.random() < 0.7 else None,
                removed_at=NOW if rng.random() < 0.05 else None,
            )
        )
    return Generated(tips=m.Tip.objects.bulk_create(rows))


ALL = Window()


# -- tip counts ---------------------------------------------------------------------------

DIMENSION_OF: dict[str, Callable[[m.Tip], str]] = {
    "source_kind": lambda t: t.source.kind,
    "category": lambda t: t.category,
    "status": lambda t: t.status,
    "priority_band": lambda t: str(t.priority),
    "handling_caveat": lambda t: t.handling_caveat,
}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("interval", [None, "day", "week", "month"])
@pytest.mark.parametrize("by", [None, *DIMENSION_OF])
def test_tip_counts_equal_independent_counts(
    generated: Generated, by: str | None, interval: str | None, zone: str
) -> None:
    # given every live tip bucketed and grouped in Python
    expected = Counter(
        (bucket(t.received_at, interval, zone), DIMENSION_OF[by](t) if by else None)
        for t in generated.live()
    )
    # when
    table = stats.tip_counts(window=Window(interval=interval, time_zone=zone), by=by, threshold=0)
    # then
    assert {(r.period, r.group): r.count for r in table.rows} == dict(expected)
    assert table.total == len(generated.live())
    assert not any(r.suppressed for r in table.rows)


def test_turnaround_within_a_window_counts_only_its_tips(generated: Generated) -> None:
    live = sorted(generated.live(), key=lambda t: t.received_at)
    since, until = live[30].received_at, live[200].received_at
    inside = [t for t in live if since <= t.received_at < until and t.reviewed_at]
    window = Window(since=since, until=until, interval="week")
    table = stats.tip_turnaround(window=window, threshold=0)
    reviews = [r for r in table.rows if r.milestone == "review"]
    assert sum(r.tips for r in reviews) == len(inside)


def test_tip_counts_window_includes_since_and_excludes_until(generated: Generated) -> None:
    live = sorted(generated.live(), key=lambda t: t.received_at)
    since, until = live[20].received_at, live[120].received_at
    table = stats.tip_counts(window=Window(since=since, until=until), by=None, threshold=0)
    assert table.total == sum(1 for t in live if since <= t.received_at < until) == 100


def test_removed_tips_are_not_counted(generated: Generated) -> None:
    removed = [t for t in generated.tips if t.removed_at is not None]
    assert removed, "the generator removes some tips"
    assert stats.tip_counts(window=ALL, by=None, threshold=0).total == len(generated.live())


# -- actionable share, turnaround ---------------------------------------------------------


@pytest.mark.parametrize("interval", [None, "week", "month"])
def test_actionable_share_equals_independent_share(
    generated: Generated, interval: str | None
) -> None:
    reviewed: Counter[dt.date | None] = Counter()
    actionable: Counter[dt.date | None] = Counter()
    for t in generated.live():
        if t.is_actionable is not None:
            period = bucket(t.received_at, interval, "UTC")
            reviewed[period] += 1
            actionable[period] += t.is_actionable
    table = stats.actionable_share(window=Window(interval=interval), threshold=0)
    assert {r.period: (r.reviewed, r.actionable) for r in table.rows} == {
        p: (reviewed[p], actionable[p]) for p in reviewed
    }
    for row in table.rows:
        assert row.share == pytest.approx(actionable[row.period] / reviewed[row.period], abs=1e-4)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
@pytest.mark.parametrize("interval", [None, "day", "week", "month"])
def test_turnaround_median_and_p90_equal_independent_percentiles(
    generated: Generated, interval: str | None, zone: str
) -> None:
    hours: dict[tuple[str, dt.date | None], list[float]] = defaultdict(list)
    for t in generated.live():
        period = bucket(t.received_at, interval, zone)
        for milestone, reached in (("review", t.reviewed_at), ("referral", t.referred_at)):
            if reached is not None:
                hours[milestone, period].append((reached - t.received_at).total_seconds() / 3600)
    # (by day: the periods run as several parallel branches of whole periods)
    table = stats.tip_turnaround(window=Window(interval=interval, time_zone=zone), threshold=0)
    assert {(r.milestone, r.period) for r in table.rows} == set(hours)
    for row in table.rows:
        values = hours[row.milestone, row.period]
        assert row.tips == len(values)
        assert row.median_hours == pytest.approx(percentile(values, 0.5), abs=0.01)
        assert row.p90_hours == pytest.approx(percentile(values, 0.9), abs=0.01)


# -- leads, lookups, screening, clusters --------------------------------------------------


def test_lead_statistics_equal_independent_counts() -> None:
    rng = random.Random(5)
    offices = [OfficeFactory() for _ in range(3)]
    expected: Counter[tuple[str | None, str, str | None]] = Counter()
    for n in range(60):
        status = rng.choice(m.LeadStatus.values)
        needs_office = status not in ("DRAFT", "CANCELLED")
        office = rng.choice(offices) if needs_office or rng.random() < 0.5 else None
        outcome = rng.choice(m.LeadOutcome.values) if status == "CLOSED" else ""
        removed = rng.random() < 0.1
        m.Lead.objects.create(
            title=f"L{n}",
            status=status,
            office=office,
            outcome=outcome,
            removed_at=NOW if removed else None,
        )
        if not removed:
            expected[office.name if office else None, status, outcome or None] += 1
    table = stats.lead_statistics(window=ALL, threshold=0)
    assert {(r.office, r.status, r.outcome): r.count for r in table.rows} == dict(expected)
    assert table.total == sum(expected.values())


def test_lookup_statistics_count_investigator_lookups_per_day_and_hit_rate() -> None:
    rng = random.Random(9)
    investigators = [UserFactory(role=m.Role.INVESTIGATOR) for _ in range(3)]
    analyst = UserFactory(role=m.Role.ANALYST)
    expected: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for n in range(80):
        by = analyst if n % 7 == 0 else rng.choice(investigators)
        hits = rng.choice([0, 0, 1, 3])
        lookup = m.TravellerLookup.objects.create(
            user=by, criteria={"n": n}, subject_hits=hits, tip_hits=hits
        )
        when = NOW - dt.timedelta(hours=rng.randint(0, 24 * 20))
        m.TravellerLookup.objects.filter(pk=lookup.pk).update(created_at=when)
        if by.role == m.Role.INVESTIGATOR:  # analysts' lookups are not counted
            day = bucket(when, "day", "Europe/London")
            expected[day][0] += 1
            expected[day][1] += hits > 0
    table = stats.lookup_statistics(
        window=Window(interval="day", time_zone="Europe/London"), threshold=0
    )
    assert {r.period: [r.lookups, r.with_matches] for r in table.rows} == dict(expected)
    for row in table.rows:
        assert row.hit_rate == pytest.approx(row.with_matches / row.lookups, abs=1e-4)


def test_screening_outcomes_count_targeting_notes_by_outcome(generated: Generated) -> None:
    rng = random.Random(3)
    officer = UserFactory(role=m.Role.INVESTIGATOR)
    tip_type = ContentType.objects.get_for_model(m.Tip)
    expected: Counter[str] = Counter()
    for tip in generated.tips[:50]:
        outcome = rng.choice(m.ScreeningOutcome.values)
        m.Note.objects.create(
            content_type=tip_type,
            object_id=tip.pk,
            author=officer,
            kind=m.NoteKind.TARGETING,
            body="screened",
            screening_outcome=outcome,
        )
        expected[outcome] += 1
    m.Note.objects.create(content_type=tip_type, object_id=tip.pk, author=officer, body="general")
    today = timezone.localdate(timezone.now(), zoneinfo.ZoneInfo("UTC"))
    table = stats.screening_outcomes(window=Window(interval="day"), threshold=0)
    assert {(r.period, r.group): r.count for r in table.rows} == {
        (today, outcome): n for outcome, n in expected.items()
    }


def test_cluster_sizes_bucket_live_tips_per_cluster(generated: Generated) -> None:
    sizes = Counter(t.cluster_id if t.cluster_id else -t.pk for t in generated.live())
    expected: Counter[str] = Counter()
    for size in sizes.values():
        label = next(
            label
            for label, low, high in stats.CLUSTER_SIZE_BUCKETS
            if low <= size and (high is None or size <= high)
        )
        expected[label] += 1
    table = stats.cluster_sizes(threshold=0)
    assert {r.group: r.count for r in table.rows} == dict(expected)
    assert [r.group for r in table.rows] == [
        label for label, _, _ in stats.CLUSTER_SIZE_BUCKETS if label in expected
    ]


# -- suppression --------------------------------------------------------------------------


def rows(*cells: tuple[str | None, str | None, int]) -> list[CountRow]:
    return [CountRow(period=p, group=g, count=c) for p, g, c in cells]  # type: ignore[arg-type]


def blank(row: CountRow) -> None:
    row.count = None


def by_all(row: CountRow) -> Hashable:
    return None


def test_groups_below_the_threshold_are_suppressed() -> None:
    table = rows((None, "A", 50), (None, "B", 40), (None, "C", 12), (None, "D", 9), (None, "E", 30))
    stats.suppress(table, 10, blank=blank)
    assert [(r.group, r.count, r.suppressed) for r in table] == [
        ("A", 50, False),
        ("B", 40, False),
        ("C", 12, False),
        ("D", None, True),
        ("E", 30, False),
    ]


def test_one_hidden_group_takes_the_next_smallest_with_it_against_the_total() -> None:
    # given D (9) hidden: the total minus A, B, C, E would give it back
    table = rows((None, "A", 50), (None, "B", 40), (None, "C", 12), (None, "D", 9), (None, "E", 30))
    stats.suppress(table, 10, margins=[by_all], blank=blank)
    # then C, the smallest visible group, is hidden too: only C + D = 21 can be derived
    assert {r.group for r in table if r.suppressed} == {"C", "D"}


def test_no_threshold_suppresses_nothing() -> None:
    table = rows((None, "A", 1), (None, "B", 2))
    stats.suppress(table, 0, margins=[by_all], blank=blank)
    assert [r.count for r in table] == [1, 2]


def test_suppression_never_leaves_a_margin_with_a_small_hidden_sum() -> None:
    rng = random.Random(77)
    for _ in range(200):
        threshold = rng.randint(2, 12)
        table = [
            CountRow(period=p, group=g, count=rng.choice([1, 2, 3, 5, 8, 13, 40]))  # type: ignore[arg-type]
            for p in ("w1", "w2", "w3")
            for g in ("A", "B", "C", "D")
            if rng.random() < 0.85
        ]
        sizes = {id(r): r.count for r in table}
        margins = [by_all, lambda r: r.period, lambda r: r.group]
        stats.suppress(table, threshold, margins=margins, blank=blank)
        for row in table:
            assert row.suppressed or sizes[id(row)] >= threshold
            assert (row.count is None) == row.suppressed
        for key in margins:
            hidden: Counter[Hashable] = Counter()
            for row in table:
                if row.suppressed:
                    hidden[key(row)] += sizes[id(row)]
            for group, total in hidden.items():
                members = [r for r in table if key(r) == group]
                assert total >= threshold or all(r.suppressed for r in members)


def test_reporting_tables_suppress_small_groups_and_their_total(generated: Generated) -> None:
    exact = stats.tip_counts(window=Window(interval="week"), by="category", threshold=0)
    table = stats.tip_counts(window=Window(interval="week"), by="category", threshold=10)
    assert table.threshold == 10
    hidden = [r for r in table.rows if r.suppressed]
    assert hidden and all(r.count is None for r in hidden)
    small = {(r.period, r.group) for r in exact.rows if r.count < 10}
    assert small <= {(r.period, r.group) for r in hidden}
    assert table.total == exact.total  # 200+ tips: the total is published


def test_a_total_below_the_threshold_is_not_published() -> None:
    SourceFactory()
    for n in range(3):
        m.Tip.objects.create(
            source=m.Source.objects.first(),
            source_reference=f"S{n}",
            received_at=NOW,
            category=m.TipCategory.OTHER,
        )
    assert stats.tip_counts(window=ALL, by=None, threshold=5).total is None
    assert stats.tip_counts(window=ALL, by=None, threshold=3).total == 3


# -- CSV and bad input --------------------------------------------------------------------


def test_csv_has_a_header_and_one_line_per_row_with_suppressed_figures_empty() -> None:
    table = stats.StatTable(
        CountRow,
        rows((dt.date(2026, 1, 5), "=HYPERLINK()", 12), (dt.date(2026, 1, 5), "B", 3)),
        threshold=10,
    )
    stats.suppress(table.rows, 10, blank=blank)
    assert table.csv().splitlines() == [
        "period,group,count,suppressed",
        "2026-01-05,'=HYPERLINK(),12,false",
        "2026-01-05,B,,true",
    ]


def test_an_empty_table_still_has_its_header() -> None:
    assert stats.lead_statistics(window=ALL, threshold=0).csv() == (
        "office,status,outcome,count,suppressed\r\n"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "timeZone"),
        ({"interval": "fortnight"}, "interval"),
        ({"since": NOW, "until": NOW}, "until"),
        ({"since": dt.datetime(2026, 1, 1)}, "since"),  # no UTC offset
    ],
)
def test_a_bad_window_is_refused_with_the_field_at_fault(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Window(**kwargs)
    assert refused.value.field == field


def test_an_unknown_dimension_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        stats.tip_counts(window=ALL, by="name", threshold=0)
    assert refused.value.field == "by"


def test_too_many_rows_are_refused(generated: Generated, settings) -> None:
    settings.STATS_MAX_ROWS = 20
    with pytest.raises(InvalidInput, match="coarser interval"):
        stats.tip_counts(window=Window(interval="day"), by="category", threshold=0)
    assert stats.tip_counts(window=ALL, by="category", threshold=0).rows


# -- the fixed grid of suppressed callers (align_window) --------------------------------------

LATER = dt.datetime(2026, 12, 15, 9, 30, tzinfo=dt.UTC)  # "now" for the alignment


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("asked", "since", "until"),
    [
        # days: since back to its midnight, until on to the next one
        (
            Window(since=utc(2026, 11, 20, 14), until=utc(2026, 11, 20, 14, 0, 1)),
            (11, 20),
            (11, 21),
        ),
        # a midnight stays where it is
        (Window(since=utc(2026, 11, 20), until=utc(2026, 11, 22)), (11, 20), (11, 22)),
        # ISO weeks: Monday to Monday
        (
            Window(since=utc(2026, 11, 20), until=utc(2026, 11, 21), interval="week"),
            (11, 16),
            (11, 23),
        ),
        # months
        (
            Window(since=utc(2026, 11, 20), until=utc(2026, 11, 21), interval="month"),
            (11, 1),
            (12, 1),
        ),
        # until no later than the last midnight, an open until too
        (Window(since=utc(2026, 12, 1, 5), until=utc(2027, 1, 1)), (12, 1), (12, 15)),
        (Window(since=utc(2026, 12, 1, 5)), (12, 1), (12, 15)),
        # a window within today is empty
        (Window(since=utc(2026, 12, 15, 1)), (12, 15), (12, 15)),
        (Window(since=utc(2026, 12, 16), until=utc(2026, 12, 17)), (12, 16), (12, 16)),
    ],
)
def test_align_window_puts_the_window_on_whole_periods(
    asked: Window, since: tuple[int, int], until: tuple[int, int]
) -> None:
    aligned = stats.align_window(asked, time_zone="UTC", now=LATER)
    assert (aligned.since, aligned.until) == (utc(2026, *since), utc(2026, *until))
    assert (aligned.interval, aligned.time_zone, aligned.aligned) == (asked.interval, "UTC", True)


def test_align_window_uses_the_reporting_zone_and_its_daylight_saving_time() -> None:
    # a summer afternoon asked in Kathmandu, aligned in London (UTC+1 in July)
    asked = Window(
        since=utc(2026, 7, 10, 15), until=utc(2026, 7, 10, 16), time_zone="Asia/Kathmandu"
    )
    aligned = stats.align_window(asked, time_zone="Europe/London", now=LATER)
    assert (aligned.since, aligned.until) == (utc(2026, 7, 9, 23), utc(2026, 7, 10, 23))
    assert aligned.time_zone == "Europe/London"


def test_aligned_windows_a_second_apart_count_the_same() -> None:
    # given 4 tips in one second of a day with 30 others
    source = SourceFactory()
    second = utc(2026, 11, 20, 14)
    TipFactory.create_batch(30, source=source, received_at=utc(2026, 11, 20, 9))
    TipFactory.create_batch(4, source=source, received_at=second)
    # then the totals of the windows up to that second and up to the next are the same
    totals = [
        stats.tip_counts(
            window=stats.align_window(Window(until=until), time_zone="UTC", now=LATER),
            by=None,
            threshold=10,
        ).total
        for until in (second, second + dt.timedelta(seconds=1))
    ]
    assert totals == [34, 34]


def test_an_open_window_is_left_open_at_its_start() -> None:
    aligned = stats.align_window(Window(until=utc(2026, 11, 20, 14)), time_zone="UTC", now=LATER)
    assert (aligned.since, aligned.until) == (None, utc(2026, 11, 21))
