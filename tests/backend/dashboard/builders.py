"""Test data for the dashboard: a tip with linked tips, identifiers, subjects and leads, and
the node and edge counts the dashboard's graph should draw for it. Shared by the query tests
here and the browser tests in tests/browser/."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from backend import models as m
from backend.services.linking import link_tips
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
)

__all__ = ["TIP_GRAPH_QUERY", "TipGraphData", "build_tip_graph"]

#: The dashboard's own query document, as its script fetches it.
TIP_GRAPH_QUERY = (
    Path(settings.BASE_DIR) / "backend" / "dashboard" / "static" / "dashboard" / "tip_graph.graphql"
).read_text()


@dataclass(frozen=True)
class TipGraphData:
    """What ``build_tip_graph`` made, and what the graph of ``centre`` should show."""

    centre: m.Tip
    linked: list[m.Tip]
    identifiers: list[m.Identifier]
    subjects: list[m.Subject]
    leads: list[m.Lead]

    @property
    def node_count(self) -> int:
        """The centre, its linked tips, identifiers, subjects and every lead on any of them."""
        return 1 + len(self.linked) + len(self.identifiers) + len(self.subjects) + len(self.leads)

    @property
    def edge_count(self) -> int:
        """Centre to each identifier, subject, own lead and linked tip; each linked tip to the
        identifier it shares and to its own lead."""
        size = len(self.linked)
        return len(self.identifiers) + len(self.subjects) + size + size + size + size


def build_tip_graph(size: int, *, reference: str = "GRAPH-CENTRE") -> TipGraphData:
    """A centre tip (received a minute ago, so it is the newest linked tip) with ``size`` of
    each: linked tips (each sharing one e-mail address with it and having a lead of its own),
    identifiers of its own, subjects and leads."""
    now = timezone.now()
    source = SourceFactory()
    centre = TipFactory(
        source=source, source_reference=reference, received_at=now - dt.timedelta(minutes=1)
    )
    linked, identifiers, subjects, leads = [], [], [], []
    for n in range(size):
        shared = IdentifierFactory()
        own = IdentifierFactory()
        other = TipFactory(source=source, received_at=now - dt.timedelta(days=1, hours=n))
        SightingFactory(tip=centre, identifier=shared)
        SightingFactory(tip=centre, identifier=own)
        SightingFactory(tip=other, identifier=shared)
        subject = SubjectFactory()
        TipSubjectFactory(tip=centre, subject=subject)
        lead = LeadFactory()
        lead.tips.add(centre)
        other_lead = LeadFactory()
        other_lead.tips.add(other)
        linked.append(other)
        identifiers += [shared, own]
        subjects.append(subject)
        leads += [lead, other_lead]
    link_tips(tip_ids=[centre.pk, *(tip.pk for tip in linked)])
    return TipGraphData(centre, linked, identifiers, subjects, leads)
