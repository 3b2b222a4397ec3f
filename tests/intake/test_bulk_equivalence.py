"""Bulk intake ends in the same graph as entering the same tips one by one (issue 14): the same
links (kind, ends, identifier or subject, reason), the same clusters, the same identifiers
marked too common; and it records the same history, per statement, as the per-row capture."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from audit.models import RecordChange
from backend import models as m
from backend.intake.importer import import_tips
from backend.intake.records import IntakeIdentifier, IntakeSubject, IntakeTip
from backend.names import fold_names
from backend.services.linking import add_link_exclusion
from backend.services.tips import SightingSpec, create_tip
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
CAP = 6


def generated_tips(seed: int, count: int) -> list[IntakeTip]:
    """Tips drawing identifiers and people from small pools, so that clusters form, merge
    across batches and reach the cap: one e-mail address is in every fifth tip (over the cap),
    one value is on the exclusion list, IP addresses are seen hours or days apart."""
    rng = random.Random(seed)
    tips = []
    for n in range(count):
        received = START + dt.timedelta(hours=rng.randrange(0, 24 * 5))
        identifiers = [IntakeIdentifier(kind="EMAIL", value=f"User{rng.randrange(60)}@Example.com")]
        if n % 5 == 0:
            identifiers.append(IntakeIdentifier(kind="EMAIL", value="common@example.com"))
        if rng.random() < 0.4:
            identifiers.append(
                IntakeIdentifier(kind="PHONE", value=f"+1 202 555 {rng.randrange(40):04d}")
            )
        if rng.random() < 0.3:
            identifiers.append(
                IntakeIdentifier(
                    kind="IP_ADDRESS",
                    value=f"203.0.113.{rng.randrange(6)}",
                    event="LOGIN",
                    captured_at=received + dt.timedelta(hours=rng.randrange(-30, 30)),
                )
            )
        if n % 7 == 0:
            identifiers.append(IntakeIdentifier(kind="EMAIL", value="excluded@example.com"))
        subjects = []
        if rng.random() < 0.25:
            who = rng.randrange(15)
            subjects.append(
                IntakeSubject(full_name=f"Person {who}", date_of_birth=dt.date(1970, 1, 1 + who))
            )
        tips.append(
            IntakeTip(
                row=n + 1,
                source_reference=f"GEN-{n:04d}",
                received_at=received,
                category=rng.choice(["POSSESSION", "DISTRIBUTION", "ENTICEMENT"]),
                narrative=f"tip {n}",
                handling_caveat=rng.choice(m.HandlingCaveat.values),
                escalated=rng.random() < 0.3,
                priority=rng.choice([None, None, 1, 4]),
                identifiers=tuple(identifiers),
                subjects=tuple(subjects),
            )
        )
    return tips


def one_by_one(tips: list[IntakeTip], source: m.Source) -> None:
    people: dict[tuple[str, dt.date | None], m.Subject] = {}
    for intake in tips:
        named = []
        for person in intake.subjects:
            key = (person.full_name, person.date_of_birth)
            if key not in people:
                people[key] = m.Subject.objects.create(
                    full_name=person.full_name,
                    date_of_birth=person.date_of_birth,
                    names_folded=fold_names(person.full_name, ()),
                )
            named.append((people[key], person.role))
        create_tip(
            by=None,
            source=source,
            source_reference=intake.source_reference,
            received_at=intake.received_at,
            category=intake.category,
            narrative=intake.narrative,
            handling_caveat=intake.handling_caveat,
            escalated=intake.escalated,
            priority=intake.priority,
            identifiers=[
                SightingSpec(
                    kind=i.kind,
                    value=i.value,
                    qualifier=i.qualifier,
                    event=i.event,
                    captured_at=i.captured_at,
                )
                for i in intake.identifiers
            ],
            subjects=named,
        )


def graph() -> dict[str, Any]:
    """The graph by what it says, not by ids: links, clusters (as sets of references), the
    identifiers marked too common."""
    reference = dict(m.Tip.objects.values_list("pk", "source_reference"))
    # a link is one row, lower tip id first: the pair by its references, whatever the ids
    links = {
        (
            frozenset((reference[link.from_tip_id], reference[link.to_tip_id])),
            link.kind,
            link.identifier.value if link.identifier_id else None,
            link.subject.full_name if link.subject_id else None,
            link.reason,
        )
        for link in m.TipLink.objects.select_related("identifier", "subject")
    }
    clusters: dict[int | None, set[str]] = {}
    for pk, cluster_id in m.Tip.objects.values_list("pk", "cluster_id"):
        clusters.setdefault(cluster_id, set()).add(reference[pk])
    sizes = {frozenset(clusters[c.pk]): c.size for c in m.Cluster.objects.all() if c.pk in clusters}
    # every column of every tip, but for its keys, its clocks, the importer's bookkeeping and
    # its priority: one by one, a tip is scored when it is entered, and a bulk import scores a
    # batch's tips once they are all linked (a given priority is checked by the test)
    columns = [
        f.attname
        for f in m.Tip._meta.concrete_fields
        if f.attname
        not in ("id", "source_id", "cluster_id", "intake_digest", "priority", "priority_score")
        and f.attname != "priority_factors"
        and not f.attname.endswith("_at")
    ]
    return {
        "tips": {
            row["source_reference"]: row for row in m.Tip.objects.values(*columns, "removed_at")
        },
        "links": links,
        "clusters": {frozenset(tips) for tips in clusters.values()},
        "unclustered": clusters.get(None, set()),
        "sizes": sizes,
        "empty clusters": m.Cluster.objects.exclude(pk__in=[c for c in clusters if c]).count(),
        "too common": set(
            m.Identifier.objects.filter(too_common_at__isnull=False).values_list("value", flat=True)
        ),
    }


def in_isolation(build: Callable[[m.Source], None]) -> dict[str, Any]:
    """Build a graph in a savepoint, read it, and roll it back."""
    with transaction.atomic():
        source = SourceFactory(name="Generated")
        add_link_exclusion(by=None, kind="EMAIL", value="excluded@example.com", reason="test")
        build(source)
        result = graph()
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize(("seed", "batch_size"), [(1, 7), (2, 25), (3, 1000)])
def test_bulk_import_links_and_clusters_exactly_like_one_by_one(settings, seed, batch_size):
    # given generated tips (merges across batches, a value over the cap, an excluded value)
    settings.LINK_MAX_TIPS_PER_IDENTIFIER = CAP
    tips = generated_tips(seed, 90)
    # when they are entered one by one, and (separately) imported in batches
    by_hand = in_isolation(lambda source: one_by_one(tips, source))

    def bulk(source: m.Source) -> None:
        report = import_tips(records=tips, source=source, by=None, batch_size=batch_size)
        assert (report.new, report.rejected) == (len(tips), 0)
        given = {t.source_reference: t.priority for t in tips if t.priority is not None}
        stored = m.Tip.objects.filter(source_reference__in=given)
        assert dict(stored.values_list("source_reference", "priority")) == given

    imported = in_isolation(bulk)
    # then the graphs are the same, and the data did exercise what it was meant to
    assert imported == by_hand
    assert "common@example.com" in by_hand["too common"]
    assert len(by_hand["too common"]) < 5
    # (a link: its pair of tips, kind, identifier value, subject name, reason)
    assert not any(link[2] == "excluded@example.com" for link in by_hand["links"])
    assert any(len(c) > batch_size for c in by_hand["clusters"]) or batch_size == 1000
    assert {link[1] for link in by_hand["links"]} == {"SHARED_IDENTIFIER", "SHARED_SUBJECT"}
    assert any(link[2] and link[2].startswith("203.0.113.") for link in by_hand["links"])
    assert any("too common" in link[4] for link in by_hand["links"])


def history() -> list[tuple[str, str, str, Any, Any]]:
    return sorted(
        (c.table_name, c.row_id, c.operation, c.before, c.after)
        for c in RecordChange.objects.filter(table_name__startswith="backend_")
        .exclude(table_name__in=["backend_source", "backend_linkexclusion"])
        .order_by("id")
    )


def test_bulk_history_is_written_per_statement_with_the_per_row_content(settings):
    # given generated tips, imported once with the history per statement (as the importer
    # does) and once with the statement mode switched off (the per-row triggers)
    settings.LINK_MAX_TIPS_PER_IDENTIFIER = CAP
    tips = generated_tips(4, 40)
    results = []
    for per_statement in (True, False):
        with transaction.atomic():
            source = SourceFactory(name="Generated")
            add_link_exclusion(by=None, kind="EMAIL", value="excluded@example.com", reason="t")
            before = RecordChange.objects.count()
            with connection.cursor() as cursor:
                cursor.execute("SELECT max(id) FROM audit_recordchange")
                first = cursor.fetchone()[0] or 0
            if per_statement:
                import_tips(records=tips, source=source, by=None, batch_size=15)
            else:
                from backend.intake import importer

                original = importer._history_mode
                importer._history_mode = lambda mode: None
                try:
                    import_tips(records=tips, source=source, by=None, batch_size=15)
                finally:
                    importer._history_mode = original
            written = RecordChange.objects.filter(id__gt=first)
            rows = sorted(
                (c.table_name, c.operation, _without_ids(c.before), _without_ids(c.after))
                for c in written.exclude(table_name__in=["backend_source", "backend_linkexclusion"])
            )
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('tipgraph.history', true)")
                mode_after = cursor.fetchone()[0]
            results.append((rows, RecordChange.objects.count() - before, mode_after))
            transaction.set_rollback(True)
    (statement_rows, statement_count, mode_after), (row_rows, row_count, _) = results
    # then both wrote the same history rows (ids aside: sequences move on), one per change
    assert statement_count == row_count > len(tips)
    assert statement_rows == row_rows
    assert {r[0] for r in statement_rows} >= {
        "backend_tip",
        "backend_identifier",
        "backend_tipidentifier",
        "backend_tiplink",
        "backend_cluster",
    }
    assert {"INSERT", "UPDATE"} <= {r[1] for r in statement_rows}
    # and the batch gives the per-row mode back to whatever its transaction writes next
    assert mode_after in ("", None)


_ID_COLUMNS = ("id", "tip_id", "from_tip_id", "to_tip_id", "identifier_id", "subject_id")


def _without_ids(row: dict[str, Any] | None) -> Any:
    """A history row without its ids and times (two runs give them different values)."""
    if row is None:
        return None
    dropped = {
        key
        for key in row
        if key in _ID_COLUMNS
        or key.endswith("_id")
        or key.endswith("_at")
        or key in ("first_seen", "last_seen", "cluster_id")
    }
    return tuple(sorted((k, repr(v)) for k, v in row.items() if k not in dropped))


def test_reimporting_an_unchanged_file_writes_nothing(settings):
    # given generated tips imported once
    settings.LINK_MAX_TIPS_PER_IDENTIFIER = CAP
    tips = generated_tips(5, 40)
    source = SourceFactory(name="Generated")
    import_tips(records=tips, source=source, by=None, batch_size=15)
    last = RecordChange.objects.order_by("-id").values_list("id", flat=True).first()
    # when the same file is imported again
    report = import_tips(records=tips, source=source, by=None, batch_size=15)
    # then every tip is unchanged and no row of any table was written (no history row)
    assert (report.new, report.updated, report.unchanged) == (0, 0, len(tips))
    assert not RecordChange.objects.filter(id__gt=last).exists()
