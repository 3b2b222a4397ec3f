"""Statistics queries: run a statistic for the caller, with the suppression threshold and the
window the caller may have; a partner agency's own statistics for the agency the caller may
read (``permissions.agency``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone
from graphql import GraphQLError
from strawberry.types import Info

from backend.errors import DomainError
from backend.services import statistics as stats
from permissions.agency import partner_agency
from permissions.scoping import statistics_threshold
from resolvers.common import acting_user

__all__ = ["PartnerFigures", "cluster_sizes", "covered_window", "partner_statistics", "statistic"]

T = TypeVar("T")


def _run(info: Info, compute: Callable[[int], T]) -> T:
    """``compute(threshold)`` with the caller's suppression threshold; a domain error is a
    GraphQL error with its code and field."""
    try:
        return compute(statistics_threshold(acting_user(info)))
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc


def covered_window(window: stats.Window, threshold: int) -> stats.Window:
    """The window a caller with this suppression threshold gets: exactly the one asked with no
    threshold, else the one asked on the fixed grid (``stats.align_window``)."""
    if threshold <= 0:
        return window
    return stats.align_window(
        window, time_zone=settings.STATS_REPORTING_TIME_ZONE, now=timezone.now()
    )


def statistic(
    info: Info,
    compute: Callable[..., stats.StatTable[Any]],
    *,
    interval: str | None,
    time_zone: str,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    arguments: dict[str, Any],
) -> stats.StatTable[Any]:
    """``compute(window=..., threshold=..., **arguments)`` over the window the caller may have
    (``covered_window``); the table it returns reports that window."""

    def run(threshold: int) -> stats.StatTable[Any]:
        asked = stats.Window(since=since, until=until, interval=interval, time_zone=time_zone)
        covered = covered_window(asked, threshold)
        table = compute(window=covered, threshold=threshold, **arguments)
        table.window = covered
        return table

    return _run(info, run)


def cluster_sizes(info: Info) -> stats.StatTable[Any]:
    return _run(info, lambda threshold: stats.cluster_sizes(threshold=threshold))


@dataclass(frozen=True)
class PartnerFigures:
    """One partner agency's statistics, as the caller may have them: whose activity
    (``partners``), over which window (already on the fixed grid for a caller whose small
    groups are suppressed) and with which suppression threshold. Each table is computed when
    asked for (``table``)."""

    partners: stats.Partners
    window: stats.Window
    threshold: int

    def table(self, compute: Callable[..., stats.StatTable[Any]]) -> stats.StatTable[Any]:
        """``compute(window=..., threshold=..., partners=...)``; the table reports the window."""
        table = compute(window=self.window, threshold=self.threshold, partners=self.partners)
        table.window = self.window
        return table


def partner_statistics(
    info: Info,
    *,
    agency: str | None,
    interval: str | None,
    time_zone: str,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
) -> PartnerFigures:
    """The figures of the partner agency the caller may read (``permissions.agency``: an
    investigator's own; any named, or every one, for a program manager), with the caller's
    suppression threshold (``statistics_threshold``: as for reporting clients, for
    investigators) and window (``covered_window``). A refusal raises its domain error."""
    user = acting_user(info)
    partners = stats.Partners(agency=partner_agency(user, agency))
    threshold = statistics_threshold(user)
    asked = stats.Window(since=since, until=until, interval=interval, time_zone=time_zone)
    return PartnerFigures(
        partners=partners, window=covered_window(asked, threshold), threshold=threshold
    )
