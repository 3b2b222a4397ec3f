"""The disposal tests' clock: moved forward instead of back-dating records (notes cannot be
back-dated: they are append-only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.utils import timezone


class Clock:
    """``timezone.now`` moved forward by ``offset`` (the database's own clock is not)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def forward(self, **delta: float) -> dt.datetime:
        self.offset += dt.timedelta(**delta)
        return timezone.now()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    real = timezone.now
    moved = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real() + moved.offset)
    yield moved
