"""Statistics for trend analysis and reporting: counts, shares, turnaround times, time series.

Every statistic is one aggregate SQL statement over the live records of a time window (tips by
the time they were received, leads by the time they were created, lookups and targeting notes
by the time they were made), optionally bucketed by day, week (ISO, from Monday) or month in a
named time zone. Tip statistics read only ``tip_statistics_idx``, a covering index, so they
stay fast at millions of tips without a rollup to keep in step.

Results are ``StatTable`` objects: typed rows and a CSV rendering. Small groups are suppressed
(``suppress``): any group smaller than the caller's threshold loses its figures, and further
groups are hidden until no published total (of the table, of a period, of a group) could give
a hidden figure back by subtraction.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connection

from backend.errors import InvalidInput
from backend.models import NoteKind, Role

__all__ = [
    "CLUSTER_SIZE_BUCKETS",
    "DIMENSIONS",
    "INTERVALS",
    "MILESTONES",
    "CountRow",
    "LeadRow",
    "LookupRow",
    "ShareRow",
    "StatTable",
    "TurnaroundRow",
    "Window",
    "actionable_share",
    "cluster_sizes",
    "lead_statistics",
    "lookup_statistics",
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
    ``interval`` (None: one bucket) in ``time_zone``."""

    since: datetime | None = None
    until: datetime | None = None
    interval: str | None = None
    time_zone: str = "UTC"

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
        if self.since is not None and self.until is not None and self.since >= self.until:
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
    """Rows of one statistic, after suppression, with the threshold that was applied."""

    row_type: type[R]
    rows: list[R]
    threshold: int
    total: int | None = None

    @property
    def suppressed_rows(self) -> int:
        return sum(1 for row in self.rows if row.suppressed)

    def csv(self) -> str:
        """The rows as CSV: a header line of the GraphQL field names, then one line per row;
        a suppressed row keeps its period and group and leaves its figures empty."""
        names = [f.name for f in fields(self.row_type)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([_camel(n) for n in names])
        for row in self.rows:
            writer.writerow([_cell(getattr(row, n)) for n in names])
        return out.getvalue()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    text = str(value)
    # A cell starting like a formula would run as one in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


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


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
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


def tip_counts(*, window: Window, by: str | None, threshold: int) -> StatTable[CountRow]:
    """Tips received in the window, per period and per value of ``by`` (see ``DIMENSIONS``)."""
    if by is not None and by not in DIMENSIONS:
        raise InvalidInput(f"unknown dimension {by!r}", field="by")
    group = DIMENSIONS[by] if by else "NULL::text"
    join = " JOIN backend_source s ON s.id = t.source_id" if by == "source_kind" else ""
    sql = (
        f"SELECT {window.period('t.received_at')} AS period, {group} AS grp, count(*) "
        + _TIPS.format(join=join, where=window.where("t.received_at"))
        + " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return _count_table(
        _fetch(sql, window.params), threshold, margins=_margins(window, by is not None)
    )


def actionable_share(*, window: Window, threshold: int) -> StatTable[ShareRow]:
    """Per period of receipt: tips with a review decision, how many were actionable, the share."""
    sql = (
        f"SELECT {window.period('t.received_at')} AS period, count(*), "
        "count(*) FILTER (WHERE t.is_actionable) "
        + _TIPS.format(join="", where=window.where("t.received_at"))
        + " AND t.is_actionable IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    rows = [
        ShareRow(period=p, reviewed=n, actionable=a, share=round(a / n, 4))
        for p, n, a in _fetch(sql, window.params)
    ]

    def blank(row: ShareRow) -> None:
        row.reviewed = row.actionable = row.share = None

    suppress(rows, threshold, margins=[_all], blank=blank)
    return StatTable(ShareRow, rows, threshold)


def tip_turnaround(*, window: Window, threshold: int) -> StatTable[TurnaroundRow]:
    """Median and 90th percentile of the hours from receipt to review and to referral, over
    the tips received in each period that reached the milestone."""
    parts = []
    for name, column in MILESTONES.items():
        hours = f"extract(epoch FROM {column} - t.received_at) / 3600.0"
        parts.append(
            f"SELECT {window.period('t.received_at')} AS period, '{name}' AS milestone, "
            f"count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {hours}), "
            f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {hours}) "
            + _TIPS.format(join="", where=window.where("t.received_at"))
            + f" AND {column} IS NOT NULL GROUP BY 1"
        )
    sql = " UNION ALL ".join(f"({part})" for part in parts) + " ORDER BY 2, 1"
    rows = [
        TurnaroundRow(
            period=p, milestone=ms, tips=n, median_hours=round(med, 2), p90_hours=round(p90, 2)
        )
        for p, ms, n, med, p90 in _fetch(sql, window.params)
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


def lookup_statistics(*, window: Window, threshold: int) -> StatTable[LookupRow]:
    """Traveller lookups made by investigators per period, and the share that found records."""
    sql = (
        f"SELECT {window.period('q.created_at')} AS period, count(*), "
        "count(*) FILTER (WHERE q.subject_hits + q.tip_hits > 0) "
        "FROM backend_travellerlookup q JOIN backend_user u ON u.id = q.user_id "
        "WHERE u.role = %(role)s" + window.where("q.created_at") + " GROUP BY 1 ORDER BY 1"
    )
    params = {**window.params, "role": Role.INVESTIGATOR}
    rows = [
        LookupRow(period=p, lookups=n, with_matches=hits, hit_rate=round(hits / n, 4))
        for p, n, hits in _fetch(sql, params)
    ]

    def blank(row: LookupRow) -> None:
        row.lookups = row.with_matches = row.hit_rate = None

    suppress(rows, threshold, margins=[_all], blank=blank)
    return StatTable(LookupRow, rows, threshold)


def screening_outcomes(*, window: Window, threshold: int) -> StatTable[CountRow]:
    """Targeting notes per period and screening outcome recorded in them."""
    sql = (
        f"SELECT {window.period('n.created_at')} AS period, n.screening_outcome, count(*) "
        "FROM backend_note n WHERE n.kind = %(kind)s"
        + window.where("n.created_at")
        + " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    rows = _fetch(sql, {**window.params, "kind": NoteKind.TARGETING})
    return _count_table(rows, threshold, margins=_margins(window, True))


def cluster_sizes(*, threshold: int) -> StatTable[CountRow]:
    """How many clusters (a tip with no links is a cluster of one) have how many live tips."""
    cases = " ".join(
        f"WHEN n <= {high} THEN '{label}'" for label, _, high in CLUSTER_SIZE_BUCKETS if high
    )
    last = CLUSTER_SIZE_BUCKETS[-1][0]
    order = " ".join(
        f"WHEN '{label}' THEN {i}" for i, (label, _, _) in enumerate(CLUSTER_SIZE_BUCKETS)
    )
    sql = (
        f"SELECT NULL::date, bucket, count(*) FROM ("
        f"SELECT CASE {cases} ELSE '{last}' END AS bucket FROM ("
        "SELECT count(*) AS n FROM backend_tip t"
        " WHERE t.removed_at IS NULL AND t.cluster_id IS NOT NULL GROUP BY t.cluster_id"
        " UNION ALL SELECT 1 FROM backend_tip t"
        " WHERE t.removed_at IS NULL AND t.cluster_id IS NULL) AS sizes) AS buckets "
        f"GROUP BY bucket ORDER BY CASE bucket {order} END"
    )
    return _count_table(_fetch(sql, {}), threshold, margins=[_all])
