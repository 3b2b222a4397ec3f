"""Statistics: counts, shares, turnaround times and time series for trend analysis and
reporting. Aggregates only; no field names a person or a record.

Reporting clients get every group smaller than ``suppressionThreshold`` suppressed (its figures
null, ``suppressed: true``), together with enough further groups that no published total gives
a hidden figure back by subtraction. Analysts and program managers, who may read the records
themselves, get exact figures (threshold 0). Every table also comes as CSV: its ``csv`` field,
or ``GET /statistics/<field>.csv?<arguments>`` for a download.

Every field that takes a window is built by one factory, ``_statistic``: for callers whose
small groups are suppressed it puts the window on the fixed grid of
``backend.services.statistics.align_window`` (whole periods in the reporting time zone, up to
the last midnight), so that two overlapping queries cannot be subtracted to reveal a
suppressed figure; every table reports the window its figures cover (``window``).
"""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from backend.services import statistics as stats
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import statistics as resolve_stats
from schema.base import LeadOutcomeEnum, LeadStatusEnum

__all__ = [
    "STATISTICS_FIELDS",
    "CountTable",
    "LookupTable",
    "StatisticsInterval",
    "StatisticsQuery",
    "StatisticsWindow",
    "TipDimension",
]


@strawberry.enum(description="The length of a time-series bucket.")
class StatisticsInterval(Enum):
    DAY = "day"
    WEEK = strawberry.enum_value("week", description="ISO weeks, starting on Monday.")
    MONTH = "month"


@strawberry.enum(description="What tips can be counted by.")
class TipDimension(Enum):
    SOURCE_KIND = "source_kind"
    CATEGORY = "category"
    STATUS = "status"
    PRIORITY_BAND = strawberry.enum_value(
        "priority_band", description="The priority band, 1 (highest) to 5."
    )
    HANDLING_CAVEAT = strawberry.enum_value(
        "handling_caveat",
        description="The handling caveat: NONE, LAW_ENFORCEMENT_SENSITIVE or OWNER_ONLY.",
    )


@strawberry.enum(description="A step in handling a tip.")
class TurnaroundMilestone(Enum):
    REVIEW = strawberry.enum_value("review", description="The review decision was recorded.")
    REFERRAL = strawberry.enum_value("referral", description="A lead first referred the tip.")


_PERIOD = "First day of the bucket in the time zone asked; null without an interval."
_SUPPRESSED = "The group is too small to publish (or would reveal one that is); figures null."


@strawberry.type(description="How many records fall in one period and group.")
class CountRow:
    period: datetime.date | None = strawberry.field(description=_PERIOD)
    group: str | None = strawberry.field(description="The group's value; null when ungrouped.")
    count: int | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Of the tips received in a period and reviewed, the actionable.")
class ShareRow:
    period: datetime.date | None = strawberry.field(description=_PERIOD)
    reviewed: int | None = strawberry.field(description="Tips with a review decision.")
    actionable: int | None = strawberry.field(description="Of those, found actionable.")
    share: float | None = strawberry.field(description="actionable / reviewed, 0 to 1.")
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Hours from receipt to a milestone, over the tips that reached it.")
class TurnaroundRow:
    period: datetime.date | None = strawberry.field(
        description="First day of the bucket of receipt; null without an interval."
    )
    milestone: TurnaroundMilestone
    tips: int | None = strawberry.field(description="Tips that reached the milestone.")
    median_hours: float | None
    p90_hours: float | None = strawberry.field(description="90th percentile.")
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Leads of one office in one status with one outcome.")
class LeadRow:
    office: str | None = strawberry.field(description="Office name; null for a draft lead.")
    status: LeadStatusEnum  # type: ignore[valid-type]
    outcome: LeadOutcomeEnum | None  # type: ignore[valid-type]
    count: int | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Traveller lookups by investigators in a period.")
class LookupRow:
    period: datetime.date | None = strawberry.field(description=_PERIOD)
    lookups: int | None
    with_matches: int | None = strawberry.field(description="Lookups that found any record.")
    hit_rate: float | None = strawberry.field(description="withMatches / lookups, 0 to 1.")
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(
    description="The window a statistic's figures cover. For callers whose small groups are "
    "suppressed (suppressionThreshold above 0) it is the window asked, widened to whole periods "
    "(of the interval, else days) in the reporting time zone and ended at the last midnight "
    "there; for everyone else it is exactly the window asked."
)
class StatisticsWindow:
    since: datetime.datetime | None = strawberry.field(
        description="Records from this time on; null: from the first."
    )
    until: datetime.datetime | None = strawberry.field(
        description="Records before this time; null: up to now."
    )
    interval: StatisticsInterval | None = strawberry.field(
        description="The length of the rows' periods; null: one row per group."
    )
    time_zone: str = strawberry.field(
        description="The IANA time zone of the periods and of the alignment."
    )
    aligned: bool = strawberry.field(
        description="Whether the window was widened to whole periods and ended at the last "
        "midnight (it may then be empty), rather than taken exactly as asked."
    )


def _table_type(name: str, row: type, *, with_total: bool, description: str) -> type:
    """A result type: rows, the suppression applied, the window covered, CSV, and the total
    where it has one."""

    def suppression_threshold(root: stats.StatTable[Any]) -> int:
        return root.threshold

    def suppressed_rows(root: stats.StatTable[Any]) -> int:
        return root.suppressed_rows

    def csv(root: stats.StatTable[Any]) -> str:
        return root.csv()

    def window(root: stats.StatTable[Any]) -> StatisticsWindow | None:
        if (covered := root.window) is None:
            return None
        return StatisticsWindow(
            since=covered.since,
            until=covered.until,
            interval=StatisticsInterval(covered.interval) if covered.interval else None,
            time_zone=covered.time_zone,
            aligned=covered.aligned,
        )

    namespace: dict[str, Any] = {
        "__annotations__": {"rows": list[row]},  # type: ignore[valid-type]
        "suppression_threshold": strawberry.field(
            resolver=suppression_threshold,
            description="Groups smaller than this were suppressed for you (0: none).",
        ),
        "suppressed_rows": strawberry.field(resolver=suppressed_rows),
        "window": strawberry.field(
            resolver=window,
            description="The window the figures cover, as applied (null for a statistic "
            "without a window).",
        ),
        "csv": strawberry.field(
            resolver=csv, description="The rows as CSV, a header line first; RFC 4180."
        ),
    }
    if with_total:
        namespace["__annotations__"]["total"] = int | None
        namespace["total"] = strawberry.field(
            description="All records counted; null when too few to publish."
        )
    return strawberry.type(type(name, (), namespace), description=description)


CountTable = _table_type(
    "CountTable", CountRow, with_total=True, description="Counts per period and group."
)
ShareTable = _table_type(
    "ShareTable", ShareRow, with_total=False, description="Actionable share per period."
)
TurnaroundTable = _table_type(
    "TurnaroundTable", TurnaroundRow, with_total=False, description="Turnaround per period."
)
LeadTable = _table_type(
    "LeadTable", LeadRow, with_total=True, description="Leads by office, status and outcome."
)
LookupTable = _table_type(
    "LookupTable", LookupRow, with_total=False, description="Investigator lookups per period."
)


_RANGE_ARGS = (
    " Window: since <= time < until (either may be left open). Reporting clients get whole "
    "days (or whole periods of the interval) in the reporting time zone, ending at the last "
    "midnight there, whatever window or time zone they ask: the window field says which."
)
_WINDOW_ARGS = (
    _RANGE_ARGS + " interval buckets the rows by day, ISO week or month in timeZone (an IANA "
    "name, default UTC)."
)


def _field(key: str, text: str) -> Any:
    return strawberry.field(extensions=allow(key), description=describe(key, text))


def _parameter(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _statistic(
    key: str,
    text: str,
    compute: Callable[..., stats.StatTable[Any]],
    returns: type,
    *,
    arguments: Sequence[inspect.Parameter] = (),
    buckets: bool = True,
    default_interval: StatisticsInterval | None = None,
) -> Any:
    """A statistics field taking a window: the only way such a field is built.

    Its arguments are ``arguments`` (passed on to ``compute`` as they are), then ``interval``
    and ``timeZone`` when the statistic has periods (``buckets``), then ``since`` and
    ``until``. ``compute(window=..., threshold=..., **arguments)`` gets the window the caller
    may have (``resolvers.statistics.covered_window``), and the table it returns reports that
    window; enum arguments reach it as their values."""

    def resolve(info: Info, **given: Any) -> Any:
        interval = given.pop("interval", None)
        return resolve_stats.statistic(
            info,
            compute,
            interval=interval.value if interval is not None else None,
            time_zone=given.pop("time_zone", None) or "UTC",
            since=given.pop("since", None),
            until=given.pop("until", None),
            arguments={k: v.value if isinstance(v, Enum) else v for k, v in given.items()},
        )

    # Real types, not the strings postponed evaluation leaves: ``returns`` is only known here.
    parameters = [
        inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Info),
        *arguments,
    ]
    if buckets:
        parameters += [
            _parameter("interval", StatisticsInterval | None, default_interval),
            _parameter("time_zone", str, "UTC"),
        ]
    parameters += [
        _parameter("since", datetime.datetime | None, None),
        _parameter("until", datetime.datetime | None, None),
    ]
    resolve.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    resolve.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    return _field(key, text + (_WINDOW_ARGS if buckets else _RANGE_ARGS))(resolve)


@strawberry.type
class StatisticsQuery:
    tip_statistics: CountTable = _statistic(  # type: ignore[valid-type]
        "Query.tipStatistics",
        "Tips received, counted by source kind, category, status, priority band or handling "
        "caveat (e.g. how many are LAW_ENFORCEMENT_SENSITIVE), as totals or as a time series.",
        stats.tip_counts,
        CountTable,
        arguments=[_parameter("by", TipDimension | None, None)],
    )
    actionable_share: ShareTable = _statistic(  # type: ignore[valid-type]
        "Query.actionableShare",
        "Of the tips received in each period that have a review decision, how many were found "
        "actionable, and the share.",
        stats.actionable_share,
        ShareTable,
    )
    tip_turnaround: TurnaroundTable = _statistic(  # type: ignore[valid-type]
        "Query.tipTurnaround",
        "Median and 90th-percentile hours from receipt to review and from receipt to referral, "
        "over the tips received in each period that got there.",
        stats.tip_turnaround,
        TurnaroundTable,
    )
    lead_statistics: LeadTable = _statistic(  # type: ignore[valid-type]
        "Query.leadStatistics",
        "Leads created in the window, by office, status and outcome.",
        stats.lead_statistics,
        LeadTable,
        buckets=False,
    )
    lookup_statistics: LookupTable = _statistic(  # type: ignore[valid-type]
        "Query.lookupStatistics",
        "Traveller lookups by partner-agency investigators per period (default: per day), and "
        "their hit rate: the share that found any record.",
        stats.lookup_statistics,
        LookupTable,
        default_interval=StatisticsInterval.DAY,
    )
    screening_outcomes: CountTable = _statistic(  # type: ignore[valid-type]
        "Query.screeningOutcomes",
        "Targeting notes per period and the screening outcome recorded in them (group: NONE, "
        "ADDITIONAL_SCREENING or REFERRED_TO_SECONDARY).",
        stats.screening_outcomes,
        CountTable,
    )

    @_field(
        "Query.clusterSizes",
        "How many clusters have how many live tips (group: 1, 2, 3-5, 6-10, 11-50, 51+); a tip "
        "linked to no other is a cluster of one. Takes no window: it counts the clusters as "
        "they are now.",
    )
    def cluster_sizes(self, info: Info) -> CountTable:  # type: ignore[valid-type]
        return resolve_stats.cluster_sizes(info)


#: The root fields that return a statistics table: each has a CSV download.
STATISTICS_FIELDS = frozenset(
    {
        "tipStatistics",
        "actionableShare",
        "tipTurnaround",
        "leadStatistics",
        "lookupStatistics",
        "screeningOutcomes",
        "clusterSizes",
    }
)
