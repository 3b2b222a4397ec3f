"""Statistics for partners: a partner agency's own aggregates of its investigators' lookups,
their hits and the screening outcomes they noted. Aggregates only; no field names a person or
a record. Small groups are suppressed exactly as for reporting clients (the same threshold,
window grid and suppression: ``schema.statistics``)."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.services import statistics as stats
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import statistics as resolve_stats
from schema.statistics import CountTable, LookupTable, StatisticsInterval, StatisticsWindow

__all__ = ["PartnerStatistics", "PartnerStatisticsQuery"]


@strawberry.type(
    description="One partner agency's statistics (an agency: the investigator accounts with "
    "the same agency). Each table is computed when asked for, over the same window and with "
    "the same suppression."
)
class PartnerStatistics:
    agency: str | None = strawberry.field(
        description="The agency counted; null: every partner agency together (program "
        "managers only)."
    )
    suppression_threshold: int = strawberry.field(
        description="Groups smaller than this were suppressed for you (0: none)."
    )
    window: StatisticsWindow = strawberry.field(
        description="The window the figures cover, as applied."
    )
    figures: strawberry.Private[Any] = None

    @strawberry.field(
        description="The agency's traveller lookups per period, and how many found any record."
    )
    def lookups(self) -> LookupTable:  # type: ignore[valid-type]
        return self.figures.table(stats.lookup_statistics)

    @strawberry.field(
        description="The agency's lookups per period that returned a tip of each category "
        "(group: the tip category). A lookup returning tips of two categories counts in both, "
        "so the table has no total."
    )
    def hits_by_category(self) -> CountTable:  # type: ignore[valid-type]
        return self.figures.table(stats.lookup_hits_by_category)

    @strawberry.field(
        description="The agency's lookups per period by purpose (group: TRAVELLER_LOOKUP, or "
        "PASSENGER_SCREENING for a lookup made in a passenger-list screening, whose criteria "
        "carry the screening reference)."
    )
    def lookups_by_purpose(self) -> CountTable:  # type: ignore[valid-type]
        return self.figures.table(stats.lookups_by_purpose)

    @strawberry.field(
        description="Targeting notes written by the agency's investigators per period and the "
        "screening outcome recorded in them (group: NONE, ADDITIONAL_SCREENING or "
        "REFERRED_TO_SECONDARY)."
    )
    def screening_outcomes(self) -> CountTable:  # type: ignore[valid-type]
        return self.figures.table(stats.screening_outcomes)


@strawberry.type
class PartnerStatisticsQuery:
    @strawberry.field(
        extensions=allow("Query.partnerStatistics"),
        description=describe(
            "Query.partnerStatistics",
            "A partner agency's own aggregates: its investigators' lookups, their hits (and "
            "hits per tip category), lookups by purpose (traveller lookup or passenger "
            "screening) and the screening outcomes they noted, as totals or per day, ISO week "
            "or month (interval, default DAY) in timeZone (an IANA name, default UTC), over "
            "since <= time < until (either may be left open). An investigator gets their own "
            "agency (agency left out, or their own; another agency is FORBIDDEN; an account "
            "naming no agency NOT_FOUND), with small groups suppressed and the window put on "
            "the whole-day grid exactly as for reporting clients; a program manager may name "
            "any agency, or leave agency out for every partner agency, and gets exact "
            "figures.",
        ),
    )
    def partner_statistics(
        self,
        info: Info,
        agency: str | None = None,
        interval: StatisticsInterval | None = StatisticsInterval.DAY,
        time_zone: str = "UTC",
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> PartnerStatistics:
        figures = resolve_stats.partner_statistics(
            info,
            agency=agency,
            interval=interval.value if interval is not None else None,
            time_zone=time_zone,
            since=since,
            until=until,
        )
        covered = figures.window
        return PartnerStatistics(
            agency=figures.partners.agency,
            suppression_threshold=figures.threshold,
            window=StatisticsWindow(
                since=covered.since,
                until=covered.until,
                interval=StatisticsInterval(covered.interval) if covered.interval else None,
                time_zone=covered.time_zone,
                aligned=covered.aligned,
            ),
            figures=figures,
        )
