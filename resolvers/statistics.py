"""Statistics queries: run a statistic for the caller, with the suppression threshold and the
window the caller may have."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone
from graphql import GraphQLError
from strawberry.types import Info

from backend.errors import DomainError
from backend.services import statistics as stats
from permissions.scoping import statistics_threshold
from resolvers.common import acting_user

__all__ = ["cluster_sizes", "covered_window", "statistic"]

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
