"""Statistics for trend analysis and reporting: counts, shares, turnaround times, time series.

Every statistic is one aggregate SQL statement over the live records of a time window (tips by
the time they were received, leads by the time they were created, lookups and targeting notes
by the time they were made), optionally bucketed by day, week (ISO, from Monday) or month in a
named time zone. Tip statistics read only ``tip_statistics_idx``, a covering index, so they
stay fast at millions of tips without a rollup to keep in step (bench/stats_bench.py measures
them at a million tips); the one exception is the count by handling caveat, which reads the
tips' rows. Each statement runs with ``_PLANNER`` settings, local to it, and counts
are written so that PostgreSQL hashes them in parallel workers (see ``_rows``).

Results are ``StatTable`` objects: typed rows and a CSV rendering. Small groups are suppressed
(``suppress``): any group smaller than the caller's threshold loses its figures, and further
groups are hidden until no published total (of the table, of a period, of a group) could give
a hidden figure back by subtraction.

Suppression within one table does not stop a caller from subtracting two tables: the totals of
``until: T`` and ``until: T + 1s`` differ by the records of that one second. For callers whose
small groups are suppressed, ``align_window`` therefore puts every window on one fixed grid:
whole periods (the series' interval, else days) in the reporting time zone
(``STATS_REPORTING_TIME_ZONE``), ending at the last midnight there. Any two such windows differ
by whole days or nothing, and a day in progress is never counted, so neither subtracting two
queries nor asking the same one again a second later tells anything finer than a day.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from backend.csv_export import csv_text
from backend.errors import InvalidInput
from backend.models import NoteKind, Role, Tip
from backend.replicas import read_cursor, reading_from_replica
from backend.services.disclosures import purpose_sql

__all__ = [
    "CLUSTER_SIZE_BUCKETS",
    "DIMENSIONS",
    "INTERVALS",
    "MILESTONES",
    "CountRow",
    "LeadRow",
    "LookupRow",
    "Partners",
    "ShareRow",
    "StatTable",
    "TurnaroundRow",
    "Window",
    "actionable_share",
    "align_window",
    "cluster_sizes",
    "lead_statistics",
    "lookup_hits_by_category",
    "lookup_statistics",
    "lookups_by_purpose",
    "screening_outcomes",
    "suppress",
    "tip_counts",
    "tip_turnaround",
]

#: Bucket sizes PostgreSQL's date_trunc understands.
INTERVALS = ("day", "week", "month")
#: What tips can be grouped by, and the SQL expression of each (never caller text).
DIMENSIONS: dict[str, str] = {
    "source_kind": "s.kind",
    "category": "t.category",
    "status": "t.status",
    "priority_band": "t.priority::text",
    # NONE, LAW_ENFORCEMENT_SENSITIVE or OWNER_ONLY. Not in tip_statistics_idx: this grouping
    # reads the table's rows of the window (the others read the index alone).
    "handling_caveat": "t.handling_caveat",
}
#: Turnaround milestones and the tip column that records each.
MILESTONES: dict[str, str] = {"review": "t.reviewed_at", "referral": "t.referred_at"}
#: Cluster-size buckets: (label, smallest size, largest size or None).
CLUSTER_SIZE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("11-50", 11, 50),
    ("51+", 51, None),
)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


@dataclass(frozen=True)
class Window:
    """The records a statistic covers: ``since <= time < until`` (either open), bucketed by
    ``interval`` (None: one bucket) in ``time_zone``. ``aligned``: the window was put on the
    fixed grid by ``align_window`` (it may then be empty, ``since == until``)."""

    since: datetime | None = None
    until: datetime | None = None
    interval: str | None = None
    time_zone: str = "UTC"
    aligned: bool = False

    def __post_init__(self) -> None:
        if self.time_zone not in _time_zones():
            raise InvalidInput(
                f"unknown time zone {self.time_zone!r}; use an IANA name such as Europe/London",
                field="timeZone",
            )
        if self.interval is not None and self.interval not in INTERVALS:
            raise InvalidInput(f"unknown interval {self.interval!r}", field="interval")
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"{name} needs a UTC offset", field=name)
        if (
            self.since is not None
            and self.until is not None
            and (self.since > self.until or (self.since == self.until and not self.aligned))
        ):
            raise InvalidInput("since must be earlier than until", field="until")

    def period(self, column: str) -> str:
        """SQL for the bucket (a local date) of ``column``; parameters ``unit`` and ``tz``."""
        if self.interval is None:
            return "NULL::date"
        return f"date_trunc(%(unit)s, {column} AT TIME ZONE %(tz)s)::date"

    def where(self, column: str) -> str:
        """SQL conditions (each starting with AND) limiting ``column`` to the window."""
        sql = ""
        if self.since is not None:
            sql += f" AND {column} >= %(since)s"
        if self.until is not None:
            sql += f" AND {column} < %(until)s"
        return sql

    @property
    def params(self) -> dict[str, Any]:
        return {
            "unit": self.interval,
            "tz": self.time_zone,
            "since": self.since,
            "until": self.until,
        }


def align_window(window: Window, *, time_zone: str, now: datetime) -> Window:
    """``window`` on the fixed grid of callers whose small groups are suppressed.

    In ``time_zone`` (the reporting time zone, whatever zone was asked: two zones' midnights
    are minutes apart, and two grids would give those minutes back by subtraction), ``since``
    goes back to the start of its period and ``until`` on to the end of its period, the period
    being the window's interval, or a day without one; ``until`` then stops at the last
    midnight before ``now`` (an open ``until`` too), so that a day still running is never
    counted. The window may come out empty (``since == until``), never longer than whole
    periods around the one asked."""
    zone = zoneinfo.ZoneInfo(time_zone)
    unit = window.interval or "day"
    since = _period_floor(window.since, unit, zone) if window.since is not None else None
    last_midnight = _period_floor(now, "day", zone)
    until = last_midnight
    if window.until is not None:
        until = min(_period_ceiling(window.until, unit, zone), last_midnight)
    if since is not None and until < since:
        until = since
    return Window(
        since=since, until=until, interval=window.interval, time_zone=time_zone, aligned=True
    )


def _period_floor(instant: datetime, unit: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """The start (local midnight in ``zone``) of the ``unit`` period holding ``instant``."""
    start = _period_start(instant.astimezone(zone).date(), unit)
    return datetime.combine(start, time(), tzinfo=zone)


def _period_ceiling(instant: datetime, unit: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """``instant`` itself when it starts a ``unit`` period in ``zone``, else the next start."""
    floor = _period_floor(instant, unit, zone)
    if floor == instant:
        return floor
    return datetime.combine(_next_period(floor.date(), unit), time(), tzinfo=zone)


@dataclass
class CountRow:
    """How many records fall in one period and group."""

    period: date | None
    group: str | None
    count: int | None
    suppressed: bool = False

    def size(self) -> int:
        return self.count or 0


@dataclass
class ShareRow:
    """Of the tips received in a period and reviewed, how many were found actionable."""

    period: date | None
    reviewed: int | None
    actionable: int | None
    share: float | None
    suppressed: bool = False

    def size(self) -> int:
        return self.reviewed or 0


@dataclass
class TurnaroundRow:
    """Hours from receipt to a milestone over the tips received in a period that reached it."""

    period: date | None
    milestone: str
    tips: int | None
    median_hours: float | None
    p90_hours: float | None
    suppressed: bool = False

    def size(self) -> int:
        return self.tips or 0


@dataclass
class LeadRow:
    """Leads of one office in one status with one outcome."""

    office: str | None
    status: str
    outcome: str | None
    count: int | None
    suppressed: bool = False

    def size(self) -> int:
        return self.count or 0


@dataclass
class LookupRow:
    """Traveller lookups by investigators in a period, and how many of them found anything."""

    period: date | None
    lookups: int | None
    with_matches: int | None
    hit_rate: float | None
    suppressed: bool = False

    def size(self) -> int:
        return self.lookups or 0


R = TypeVar("R", CountRow, ShareRow, TurnaroundRow, LeadRow, LookupRow)


@dataclass
class StatTable(Generic[R]):
    """Rows of one statistic, after suppression, with the threshold that was applied and the
    window the rows cover (None for a statistic without one)."""

    row_type: type[R]
    rows: list[R]
    threshold: int
    total: int | None = None
    window: Window | None = None

    @property
    def suppressed_rows(self) -> int:
        return sum(1 for row in self.rows if row.suppressed)

    def csv(self) -> str:
        """The rows as CSV: a header line of the GraphQL field names, then one line per row;
        a suppressed row keeps its period and group and leaves its figures empty. Written by
        ``backend.csv_export``, the writer of every download, which neutralises text that a
        spreadsheet would run as a formula."""
        names = [f.name for f in fields(self.row_type)]
        header = [_camel(n) for n in names]
        return csv_text(header, ([getattr(row, n) for n in names] for row in self.rows))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def suppress(
    rows: Sequence[R],
    threshold: int,
    *,
    margins: Iterable[Callable[[R], Hashable]] = (),
    blank: Callable[[R], None],
) -> None:
    """Hide every row smaller than ``threshold``, then, for each margin (a key grouping rows
    whose sum is published elsewhere), hide the smallest visible row of any group whose hidden
    rows add up to less than ``threshold``, until none does: subtracting the visible rows from
    a published total then never gives back a group smaller than the threshold."""
    if threshold <= 1:
        return
    for row in rows:
        if row.size() < threshold:
            row.suppressed = True
    margins = list(margins)
    changed = True
    while changed:
        changed = False
        for key in margins:
            groups: dict[Hashable, list[R]] = defaultdict(list)
            for row in rows:
                groups[key(row)].append(row)
            for members in groups.values():
                hidden = sum(r.size() for r in members if r.suppressed)
                visible = [r for r in members if not r.suppressed]
                if 0 < hidden < threshold and visible:
                    min(visible, key=lambda r: r.size()).suppressed = True
                    changed = True
    for row in rows:
        if row.suppressed:
            blank(row)


def _all(row: Any) -> Hashable:
    return None


def _by_period(row: Any) -> Hashable:
    return row.period


def _by_group(row: Any) -> Hashable:
    return row.group


def _blank_count(row: CountRow) -> None:
    row.count = None


#: Planner settings for one statistics statement, set in its transaction and restored after
#: it. work_mem: hash or sort a window of a million tips in memory, never in temporary files
#: (the 4MB default made every tip statistic an external merge sort). random_page_cost: the
#: figure for solid-state storage, so that a long window is read from the covering index
#: (index-only scan) rather than by a sequential scan of the whole, much wider, table.
_PLANNER = {"work_mem": "64MB", "random_page_cost": "1.1"}
#: For counts: what parallel workers hand on are partial counts, a few hundred rows, so gathering
#: them costs little (the default cost keeps some windows in one process, up to 1.7x slower).
_PARALLEL_COUNTS = {**_PLANNER, "parallel_tuple_cost": "0.01"}


def _fetch(sql: str, params: dict[str, Any], planner: dict[str, str] = _PLANNER) -> list[tuple]:
    names = list(planner)
    # On the read replica when one is configured (backend.replicas): aggregates only.
    with reading_from_replica(), read_cursor() as cursor:
        # The subquery reads the settings before the outer list sets them (SET LOCAL).
        cursor.execute(
            "SELECT old.*, "
            + ", ".join(f"set_config('{name}', %s, true)" for name in names)
            + " FROM (SELECT "
            + ", ".join(f"current_setting('{name}')" for name in names)
            + " OFFSET 0) AS old",
            [planner[name] for name in names],
        )
        previous = cursor.fetchone()[: len(names)]
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT " + ", ".join(f"set_config('{name}', %s, true)" for name in names),
            list(previous),
        )
    if len(rows) > settings.STATS_MAX_ROWS:
        raise InvalidInput(
            f"the statistic has {len(rows)} rows, more than the {settings.STATS_MAX_ROWS} "
            "allowed; narrow the window (since/until) or use a coarser interval",
            field="interval",
        )
    return rows


def _count_table(
    rows: list[tuple], threshold: int, *, margins: Sequence[Callable[[Any], Hashable]]
) -> StatTable[CountRow]:
    table_rows = [CountRow(period=p, group=g, count=c) for p, g, c in rows]
    total = sum(r.size() for r in table_rows)
    suppress(table_rows, threshold, margins=margins, blank=_blank_count)
    return StatTable(CountRow, table_rows, threshold, total=None if total < threshold else total)


def _margins(window: Window, grouped: bool) -> list[Callable[[Any], Hashable]]:
    margins: list[Callable[[Any], Hashable]] = [_all]
    if window.interval is not None and grouped:
        margins += [_by_period, _by_group]
    return margins


_TIPS = "FROM backend_tip t{join} WHERE t.removed_at IS NULL{where}"


_COUNT = "SELECT period, grp, count(*) FROM {rows} AS r GROUP BY 1, 2 ORDER BY 1, 2"


def _rows(select: str, columns: int, window: Window) -> str:
    """``select`` (one row per record, its period first) as a FROM item to aggregate over.

    PostgreSQL estimates the groups of ``date_trunc(..., received_at ...)`` as many as the
    distinct receipt times (a million groups for a million tips), so it sorts every row and
    aggregates in one process. Columns of a UNION ALL (here with a branch that is never read)
    have no statistics and get its default estimate instead, a few hundred groups, so it plans
    a hash aggregate per parallel worker and a small final one: the same rows and counts,
    about half the time at a million tips. Without an interval there is no such expression.
    """
    if window.interval is None:
        return f"({select})"
    return f"({select} UNION ALL SELECT {', '.join(['NULL'] * columns)} WHERE false)"


def tip_counts(*, window: Window, by: str | None, threshold: int) -> StatTable[CountRow]:
    """Tips received in the window, per period and per value of ``by`` (see ``DIMENSIONS``)."""
    if by is not None and by not in DIMENSIONS:
        raise InvalidInput(f"unknown dimension {by!r}", field="by")
    group = DIMENSIONS[by] if by else "NULL::text"
    join = " JOIN backend_source s ON s.id = t.source_id" if by == "source_kind" else ""
    select = f"SELECT {window.period('t.received_at')} AS period, {group} AS grp " + _TIPS.format(
        join=join, where=window.where("t.received_at")
    )
    sql = _COUNT.format(rows=_rows(select, 2, window))
    return _count_table(
        _fetch(sql, window.params, _PARALLEL_COUNTS),
        threshold,
        margins=_margins(window, by is not None),
    )


def actionable_share(*, window: Window, threshold: int) -> StatTable[ShareRow]:
    """Per period of receipt: tips with a review decision, how many were actionable, the share."""
    select = (
        f"SELECT {window.period('t.received_at')} AS period, t.is_actionable AS actionable "
        + _TIPS.format(join="", where=window.where("t.received_at"))
        + " AND t.is_actionable IS NOT NULL"
    )
    sql = (
        "SELECT period, count(*), count(*) FILTER (WHERE actionable) "
        f"FROM {_rows(select, 2, window)} AS r GROUP BY 1 ORDER BY 1"
    )
    rows = [
        ShareRow(period=p, reviewed=n, actionable=a, share=round(a / n, 4))
        for p, n, a in _fetch(sql, window.params, _PARALLEL_COUNTS)
    ]

    def blank(row: ShareRow) -> None:
        row.reviewed = row.actionable = row.share = None

    suppress(rows, threshold, margins=[_all], blank=blank)
    return StatTable(ShareRow, rows, threshold)


#: Percentiles cannot be split between workers, but periods can: a turnaround series of up to
#: this many periods runs as one branch per period (a UNION ALL that PostgreSQL runs as a
#: Parallel Append, a period per worker at a time) rather than as one process sorting them all.
_MAX_PERIOD_BRANCHES = 64
_PARALLEL_BRANCHES = {**_PLANNER, "parallel_setup_cost": "0", "parallel_tuple_cost": "0"}


def _periods(window: Window) -> list[date]:
    """The periods from the first to the last tip of the window (none without an interval or
    with more than ``_MAX_PERIOD_BRANCHES``)."""
    if window.interval is None:
        return []
    with reading_from_replica(), read_cursor() as cursor:
        cursor.execute(
            "SELECT (min(t.received_at) AT TIME ZONE %(tz)s)::date, "
            "(max(t.received_at) AT TIME ZONE %(tz)s)::date "
            + _TIPS.format(join="", where=window.where("t.received_at")),
            window.params,
        )
        low, high = cursor.fetchone()
    if low is None:
        return []
    periods = [_period_start(low, window.interval)]
    while periods[-1] <= high and len(periods) <= _MAX_PERIOD_BRANCHES:
        periods.append(_next_period(periods[-1], window.interval))
    return periods[:-1] if len(periods) <= _MAX_PERIOD_BRANCHES else []


def _period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(start: date, interval: str) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def tip_turnaround(*, window: Window, threshold: int) -> StatTable[TurnaroundRow]:
    """Median and 90th percentile of the hours from receipt to review and to referral, over
    the tips received in each period that reached the milestone."""
    # One pass over the tips for both milestones: percentile_cont skips the nulls of tips that
    # have not got there, and with an array of fractions sorts each group's values once.
    # date_part gives double precision, what percentile_cont takes: no numeric arithmetic
    # (extract) to compute, sort and cast for each of a million tips.
    measures = []
    for column in MILESTONES.values():
        hours = f"date_part('epoch', {column} - t.received_at) / 3600.0"
        measures.append(
            f"count({column}), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {hours})"
        )
    periods = _periods(window)
    if not periods:
        sql = (
            f"SELECT {window.period('t.received_at')} AS period, {', '.join(measures)} "
            + _TIPS.format(join="", where=window.where("t.received_at"))
            + " AND (t.reviewed_at IS NOT NULL OR t.referred_at IS NOT NULL) GROUP BY 1"
        )
        found = _fetch(sql, window.params)
    else:
        # A branch per period: the tips whose period it is, found by an index range from its
        # local midnight to the next (three hours to spare for clocks changed at midnight).
        params = dict(window.params)
        branches = []
        for n, (first, after) in enumerate(
            pairwise([*periods, _next_period(periods[-1], window.interval)])
        ):
            params[f"p{n}"], params[f"q{n}"] = first, after
            branches.append(
                f"(SELECT %(p{n})s::date, {', '.join(measures)} "
                + _TIPS.format(join="", where=window.where("t.received_at"))
                + " AND (t.reviewed_at IS NOT NULL OR t.referred_at IS NOT NULL)"
                f" AND t.received_at >= (%(p{n})s::timestamp AT TIME ZONE %(tz)s) - '3h'::interval"
                f" AND t.received_at < (%(q{n})s::timestamp AT TIME ZONE %(tz)s) + '3h'::interval"
                f" AND {window.period('t.received_at')} = %(p{n})s::date)"
            )
        found = _fetch(" UNION ALL ".join(branches), params, _PARALLEL_BRANCHES)
    found.sort(key=lambda row: (row[0] is not None, row[0]))
    rows = [
        TurnaroundRow(
            period=row[0],
            milestone=name,
            tips=row[1 + 2 * i],
            median_hours=round(row[2 + 2 * i][0], 2),
            p90_hours=round(row[2 + 2 * i][1], 2),
        )
        for i, name in enumerate(MILESTONES)
        for row in found
        if row[1 + 2 * i]
    ]

    def blank(row: TurnaroundRow) -> None:
        row.tips = row.median_hours = row.p90_hours = None

    suppress(rows, threshold, margins=[lambda r: r.milestone], blank=blank)
    return StatTable(TurnaroundRow, rows, threshold)


def lead_statistics(*, window: Window, threshold: int) -> StatTable[LeadRow]:
    """Leads created in the window by office, status and outcome."""
    sql = (
        "SELECT o.name, l.status, NULLIF(l.outcome, ''), count(*) FROM backend_lead l "
        "LEFT JOIN backend_office o ON o.id = l.office_id WHERE l.removed_at IS NULL"
        + window.where("l.created_at")
        + " GROUP BY 1, 2, 3 ORDER BY 1 NULLS FIRST, 2, 3 NULLS FIRST"
    )
    rows = [
        LeadRow(office=o, status=s, outcome=out, count=n)
        for o, s, out, n in _fetch(sql, window.params)
    ]
    total = sum(r.size() for r in rows)

    def blank(row: LeadRow) -> None:
        row.count = None

    suppress(rows, threshold, margins=[_all, lambda r: r.office, lambda r: r.status], blank=blank)
    return StatTable(LeadRow, rows, threshold, total=None if total < threshold else total)


@dataclass(frozen=True)
class Partners:
    """Whose activity a partner statistic counts: the partner-agency investigators (accounts
    with the role INVESTIGATOR) of one agency (``agency``: the accounts' ``agency`` value) or,
    with ``agency`` None, of every partner agency together. Who may ask for which agency is
    decided in ``permissions.agency``."""

    agency: str | None = None

    def where(self, users: str) -> str:
        """SQL conditions (each starting with AND) on the accounts table aliased ``users``."""
        sql = f" AND {users}.role = %(partner_role)s"
        if self.agency is not None:
            sql += f" AND {users}.agency = %(partner_agency)s"
        return sql

    @property
    def params(self) -> dict[str, Any]:
        return {"partner_role": Role.INVESTIGATOR, "partner_agency": self.agency}


_EVERY_PARTNER = Partners()


def lookup_statistics(
    *, window: Window, threshold: int, partners: Partners = _EVERY_PARTNER
) -> StatTable[LookupRow]:
    """Traveller lookups made by investigators (of every partner agency, or of the agency of
    ``partners``) per period, and the share that found records."""
    sql = (
        f"SELECT {window.period('q.created_at')} AS period, count(*), "
        "count(*) FILTER (WHERE q.subject_hits + q.tip_hits > 0) "
        "FROM backend_travellerlookup q JOIN backend_user u ON u.id = q.user_id "
        "WHERE TRUE" + partners.where("u") + window.where("q.created_at") + " GROUP BY 1 ORDER BY 1"
    )
    params = {**window.params, **partners.params}
    rows = [
        LookupRow(period=p, lookups=n, with_matches=hits, hit_rate=round(hits / n, 4))
        for p, n, hits in _fetch(sql, params)
    ]

    def blank(row: LookupRow) -> None:
        row.lookups = row.with_matches = row.hit_rate = None

    suppress(rows, threshold, margins=[_all], blank=blank)
    return StatTable(LookupRow, rows, threshold)


def screening_outcomes(
    *, window: Window, threshold: int, partners: Partners | None = None
) -> StatTable[CountRow]:
    """Targeting notes per period and screening outcome recorded in them: every targeting note,
    or with ``partners`` those written by its investigators."""
    join, where, params = "", "", {}
    if partners is not None:
        join = " JOIN backend_user u ON u.id = n.author_id"
        where, params = partners.where("u"), partners.params
    select = (
        f"SELECT {window.period('n.created_at')} AS period, n.screening_outcome AS grp "
        f"FROM backend_note n{join} WHERE n.kind = %(kind)s{where}" + window.where("n.created_at")
    )
    sql = _COUNT.format(rows=_rows(select, 2, window))
    rows = _fetch(sql, {**window.params, **params, "kind": NoteKind.TARGETING})
    return _count_table(rows, threshold, margins=_margins(window, True))


def lookups_by_purpose(
    *, window: Window, threshold: int, partners: Partners = _EVERY_PARTNER
) -> StatTable[CountRow]:
    """Lookups by ``partners``' investigators per period and purpose (group TRAVELLER_LOOKUP,
    or PASSENGER_SCREENING for a lookup made in a passenger-list screening: its criteria carry
    the screening reference, ``backend.services.disclosures.purpose_of``). A period's groups
    add up to its lookups in ``lookup_statistics``, so they are suppressed with that margin."""
    select = (
        f"SELECT {window.period('q.created_at')} AS period, "
        f"{purpose_sql('q.criteria')} AS grp "
        "FROM backend_travellerlookup q JOIN backend_user u ON u.id = q.user_id WHERE TRUE"
        + partners.where("u")
        + window.where("q.created_at")
    )
    sql = _COUNT.format(rows=_rows(select, 2, window))
    rows = _fetch(sql, {**window.params, **partners.params})
    return _count_table(rows, threshold, margins=_margins(window, True))


def lookup_hits_by_category(
    *, window: Window, threshold: int, partners: Partners = _EVERY_PARTNER
) -> StatTable[CountRow]:
    """Lookups by ``partners``' investigators per period that returned at least one tip of
    each category (group: the tip category). A lookup returning tips of two categories counts
    in both, so the groups do not add up to the lookups: the table has no total. Read from
    the lookups' disclosures of tips (their ``lookup`` index) and the tips' categories."""
    select = (
        f"SELECT DISTINCT {window.period('q.created_at')} AS period, t.category AS grp, q.id "
        "FROM backend_travellerlookup q JOIN backend_user u ON u.id = q.user_id "
        "JOIN backend_disclosure d ON d.lookup_id = q.id AND d.content_type_id = %(tip_type)s "
        "JOIN backend_tip t ON t.id = d.object_id WHERE TRUE"
        + partners.where("u")
        + window.where("q.created_at")
    )
    sql = f"SELECT period, grp, count(*) FROM ({select}) AS r GROUP BY 1, 2 ORDER BY 1, 2"
    params = {**window.params, **partners.params, "tip_type": _content_type_id(Tip)}
    rows = [CountRow(period=p, group=g, count=n) for p, g, n in _fetch(sql, params)]
    suppress(rows, threshold, margins=_margins(window, True), blank=_blank_count)
    return StatTable(CountRow, rows, threshold, total=None)


def _content_type_id(model: type[Any]) -> int:
    return ContentType.objects.get_for_model(model).pk


def cluster_sizes(*, threshold: int) -> StatTable[CountRow]:
    """How many clusters (a tip with no links is a cluster of one) have how many live tips.

    One pass over the live tips, grouped by cluster: the group of the unclustered tips (a null
    cluster) counts as that many clusters of one."""
    cases = " ".join(
        f"WHEN size <= {high} THEN '{label}'" for label, _, high in CLUSTER_SIZE_BUCKETS if high
    )
    last = CLUSTER_SIZE_BUCKETS[-1][0]
    order = " ".join(
        f"WHEN '{label}' THEN {i}" for i, (label, _, _) in enumerate(CLUSTER_SIZE_BUCKETS)
    )
    sql = (
        f"SELECT NULL::date, bucket, sum(clusters)::bigint FROM ("
        f"SELECT CASE {cases} ELSE '{last}' END AS bucket, clusters FROM ("
        "SELECT CASE WHEN cluster_id IS NULL THEN 1 ELSE n END AS size,"
        " CASE WHEN cluster_id IS NULL THEN n ELSE 1 END AS clusters FROM ("
        "SELECT t.cluster_id, count(*) AS n FROM backend_tip t"
        " WHERE t.removed_at IS NULL GROUP BY t.cluster_id) AS per_cluster) AS sizes) AS buckets "
        f"GROUP BY bucket ORDER BY CASE bucket {order} END"
    )
    return _count_table(_fetch(sql, {}), threshold, margins=[_all])
