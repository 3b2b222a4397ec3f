"""Tip links: automatic links through shared identifiers and subjects, manual links, removals,
and the guards against over-linking.

Automatic links are written set-based so that a single hand-entered tip and a bulk load of
thousands use the same code, at a cost that follows the tips being linked, not the size of the
identifiers' histories or clusters: the first ``cap`` tips of each identifier of the new tips
are read through the (identifier, tip) index, the pairs with a new tip formed from them, and
written with one INSERT (shared subjects: one INSERT ... SELECT). Each link is stored once,
from the tip with the lower id to the one with the higher id (``backend.models.TipLink``); its
readers, the GraphQL ``links`` of a tip among them, read a tip's rows from either end. The
rules:

- two tips sharing a normalised identifier or a subject are linked, with the reason;
- an identifier links at most ``settings.LINK_MAX_TIPS_PER_IDENTIFIER`` tips (the first ones,
  by tip id). When more tips than that carry it, it is marked too common (``too_common_at``)
  and links no further tips; the links it already made stay, and their reason says so;
- an identifier on the analysts' exclusion list (``LinkExclusion``) never links;
- IP addresses are reassigned over time: two tips sharing one link only when they saw it
  (``TipIdentifier.captured_at``, else the tip's ``received_at``) within
  ``settings.LINK_IP_WINDOW_HOURS`` of each other;
- a link an analyst removed stays removed: the unique constraint keeps its row, and
  ``ON CONFLICT DO NOTHING`` never writes it again.

Links change clusters (``backend.services.clusters``): adding links merges them, removing
one splits its cluster when it falls apart.

Concurrency (the locks are described in ``backend.services.clusters``): ``link_tips`` holds the
key of every identifier and subject of its tips, and its queries link only through those, so
two transactions linking tips that share an identifier or subject run one after the other and
the second sees the first's sightings: no link is lost. Tips that share nothing link at the
same time. Manual links and removals hold the keys of the clusters of their two tips before
they read or write the link.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend.errors import DuplicateRecord, InvalidInput
from backend.models import (
    Identifier,
    LinkExclusion,
    Tip,
    TipIdentifier,
    TipLink,
    TipLinkKind,
    User,
)
from backend.services.clusters import (
    lock_clusters_of,
    lock_link_keys,
    merge_clusters_of,
    split_cluster,
)
from backend.services.guards import check_text, refusing_duplicates
from backend.services.identifiers import normalise_or_raise

__all__ = [
    "add_link_exclusion",
    "add_manual_link",
    "link_tips",
    "remove_link",
    "remove_link_exclusion",
]

# The cost follows the batch, not the identifiers' histories: the touched identifiers come
# from the array of the batch's identifiers (never a scan of every identifier), and each
# one's first ``cap`` tips, then their sightings, are read through the (identifier, tip) index
# (LATERAL: index look-ups whatever the planner's statistics, which are stale in the middle of
# a bulk load), so the cap and the exclusions apply before any pair is formed. The pairs are
# formed in Python from these rows (``_identifier_pairs``: only pairs with a tip of the batch)
# and written by ``_INSERT_IDENTIFIER_LINKS_SQL``, one row per pair.
_CAPPED_SIGHTINGS_SQL = """
WITH touched AS MATERIALIZED (
    SELECT i.id AS identifier_id
    FROM unnest(%(identifiers)s::bigint[]) AS u(id)
    CROSS JOIN LATERAL (
        -- by its key, whatever the statistics (LIMIT 1: not pulled up into a join, which
        -- stale statistics planned as a scan of every live identifier, 0.3 s a batch at
        -- 300,000 tips)
        SELECT i.id, i.kind, i.qualifier, i.value FROM backend_identifier i
        WHERE i.id = u.id AND i.too_common_at IS NULL AND i.removed_at IS NULL
        LIMIT 1
    ) i
    WHERE NOT EXISTS (
          SELECT 1 FROM backend_linkexclusion x
          WHERE x.kind = i.kind AND x.qualifier = i.qualifier AND x.value = i.value
      )
),
capped AS MATERIALIZED (
    -- only the first tips of each identifier (by id) link
    SELECT t.identifier_id, f.tip_id
    FROM touched t
    CROSS JOIN LATERAL (
        SELECT DISTINCT s.tip_id FROM backend_tipidentifier s
        WHERE s.identifier_id = t.identifier_id
        ORDER BY s.tip_id
        LIMIT %(cap)s
    ) f
)
SELECT c.identifier_id, c.tip_id, COALESCE(s.captured_at, r.received_at)
FROM capped c
CROSS JOIN LATERAL (
    SELECT s.captured_at FROM backend_tipidentifier s
    WHERE s.identifier_id = c.identifier_id AND s.tip_id = c.tip_id
) s
CROSS JOIN LATERAL (SELECT t.received_at FROM backend_tip t WHERE t.id = c.tip_id LIMIT 1) r
"""

_INSERT_IDENTIFIER_LINKS_SQL = """
INSERT INTO backend_tiplink
    (from_tip_id, to_tip_id, kind, identifier_id, subject_id, reason, created_at)
SELECT p.from_tip_id, p.to_tip_id, 'SHARED_IDENTIFIER', p.identifier_id, NULL::bigint,
       'Both tips contain ' || i.kind || ' ' || i.value
       || CASE WHEN i.kind = 'IP_ADDRESS' THEN
              ', seen within '
              || CASE WHEN p.gap < interval '1 hour'
                      THEN floor(extract(epoch FROM p.gap) / 60)::int || ' min'
                      ELSE floor(extract(epoch FROM p.gap) / 3600)::int || ' h' END
              || ' of each other (window ' || %(window)s || ' h)'
          ELSE '' END,
       now()
FROM (
    SELECT (e->>0)::bigint, (e->>1)::bigint, (e->>2)::bigint,
           make_interval(secs => (e->>3)::float8)
    FROM json_array_elements(%(pairs)s::json) AS e
) AS p(from_tip_id, to_tip_id, identifier_id, gap)
JOIN backend_identifier i ON i.id = p.identifier_id
WHERE i.kind <> 'IP_ADDRESS' OR p.gap <= make_interval(hours => %(window)s)
ON CONFLICT DO NOTHING
"""


def _identifier_pairs(
    rows: Iterable[tuple[int, int, datetime]], batch: set[int]
) -> dict[tuple[int, int, int], timedelta]:
    """(lower tip, higher tip, identifier) -> the shortest time between their sightings of it,
    for every pair of tips sharing an identifier with at least one in ``batch``."""
    by_identifier: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for identifier_id, tip_id, seen_at in rows:
        by_identifier[identifier_id].append((tip_id, seen_at))
    pairs: dict[tuple[int, int, int], timedelta] = {}
    for identifier_id, seen in by_identifier.items():
        for a, a_seen in seen:
            if a not in batch:
                continue
            for b, b_seen in seen:
                if a == b:
                    continue
                gap = abs(a_seen - b_seen)
                key = (*TipLink.ordered(a, b), identifier_id)
                known = pairs.get(key)
                if known is None or gap < known:
                    pairs[key] = gap
    return pairs


_SHARED_SUBJECT_SQL = """
WITH batch AS MATERIALIZED (
    SELECT DISTINCT unnest(%(ids)s::bigint[]) AS tip_id
),
touched AS (
    SELECT DISTINCT ts.subject_id
    FROM backend_tipsubject ts
    JOIN backend_subject s ON s.id = ts.subject_id
    WHERE ts.tip_id IN (SELECT tip_id FROM batch) AND ts.subject_id = ANY(%(subjects)s)
      AND s.removed_at IS NULL
)
INSERT INTO backend_tiplink
    (from_tip_id, to_tip_id, kind, identifier_id, subject_id, reason, created_at)
SELECT DISTINCT a.tip_id, b.tip_id, 'SHARED_SUBJECT', NULL::bigint, a.subject_id,
       'Both tips name subject ' || s.full_name, now()
FROM touched
JOIN backend_tipsubject a ON a.subject_id = touched.subject_id
JOIN backend_tipsubject b ON b.subject_id = a.subject_id AND b.tip_id > a.tip_id
JOIN backend_subject s ON s.id = a.subject_id
WHERE a.tip_id IN (SELECT tip_id FROM batch) OR b.tip_id IN (SELECT tip_id FROM batch)
ON CONFLICT DO NOTHING
"""

# Joins over materialised steps, never IN-subqueries: with the statistics of small or freshly
# emptied tables the planner once ran the nested IN form as a subplan per row (minutes for a
# few hundred tips). An identifier row another transaction is writing (a tip being recorded
# with it, before that transaction takes the identifier's key) is skipped rather than waited
# for, which could close a cycle with that transaction; the next transaction that links
# through the identifier marks it. The cap never depends on the mark: only the first tips of
# an identifier (by id) link in any case.
_MARK_TOO_COMMON_SQL = """
WITH counted AS MATERIALIZED (
    -- an identifier not marked yet is over the cap when it has a tip after its first ``cap``
    SELECT i.id
    FROM unnest(%(identifiers)s::bigint[]) AS u(id)
    CROSS JOIN LATERAL (
        SELECT i.id FROM backend_identifier i WHERE i.id = u.id AND i.too_common_at IS NULL
        LIMIT 1  -- by its key, as in _CAPPED_SIGHTINGS_SQL
    ) i
    WHERE EXISTS (
          SELECT 1 FROM backend_tipidentifier s
          WHERE s.identifier_id = i.id
          GROUP BY s.tip_id
          ORDER BY s.tip_id
          OFFSET %(cap)s LIMIT 1
      )
), free AS MATERIALIZED (
    SELECT i.id
    FROM backend_identifier i JOIN counted c ON c.id = i.id
    WHERE i.too_common_at IS NULL
    FOR NO KEY UPDATE OF i SKIP LOCKED
), over_cap AS (
    UPDATE backend_identifier i SET too_common_at = now()
    FROM free f
    WHERE i.id = f.id
    RETURNING i.id
)
UPDATE backend_tiplink l
SET reason = l.reason || ' (this identifier has since been found in more than '
    || %(cap)s || ' tips: it is too common and links no further tips)'
FROM over_cap o
WHERE l.identifier_id = o.id
"""


_CARRIED_SQL = """
SELECT DISTINCT 'I', identifier_id FROM backend_tipidentifier WHERE tip_id = ANY(%(ids)s)
UNION ALL
SELECT DISTINCT 'S', subject_id FROM backend_tipsubject WHERE tip_id = ANY(%(ids)s)
"""


def _carried_by(ids: list[int]) -> tuple[list[int], list[int]]:
    """The ids of the identifiers and of the subjects of these tips, ascending."""
    with connection.cursor() as cursor:
        cursor.execute(_CARRIED_SQL, {"ids": ids})
        rows = cursor.fetchall()
    return (
        sorted(pk for what, pk in rows if what == "I"),
        sorted(pk for what, pk in rows if what == "S"),
    )


def link_tips(*, tip_ids: Iterable[int], deferred_clusters: dict[int, int] | None = None) -> int:
    """Create the missing automatic links of ``tip_ids`` and update their clusters; returns how
    many link rows were added. ``deferred_clusters``: see ``merge_clusters_of``'s ``deferred``
    (the unclustered ones of ``tip_ids`` are given their cluster there, not written)."""
    ids = sorted(set(tip_ids))
    if not ids:
        return 0
    added = 0
    with transaction.atomic():
        identifier_ids, subject_ids = _carried_by(ids)
        # Taken before the link queries: a writer that shares one of these waits, and then
        # sees this one's sightings. The queries link through these identifiers and subjects
        # only (another one of these tips may have gained since: its writer links it).
        lock_link_keys(identifier_ids=identifier_ids, subject_ids=subject_ids)
        params = {
            "ids": ids,
            "identifiers": identifier_ids,
            "subjects": subject_ids,
            "cap": settings.LINK_MAX_TIPS_PER_IDENTIFIER,
            "window": settings.LINK_IP_WINDOW_HOURS,
        }
        with connection.cursor() as cursor:
            cursor.execute(_CAPPED_SIGHTINGS_SQL, params)
            capped = cursor.fetchall()
            pairs = _identifier_pairs(capped, set(ids))
            if pairs:
                # one JSON parameter: psycopg quotes a list parameter value by value
                given = [[*key, pairs[key].total_seconds()] for key in sorted(pairs)]
                cursor.execute(
                    _INSERT_IDENTIFIER_LINKS_SQL,
                    {"pairs": json.dumps(given), "window": settings.LINK_IP_WINDOW_HOURS},
                )
                added += cursor.rowcount
            cursor.execute(_SHARED_SUBJECT_SQL, params)
            added += cursor.rowcount
            # Only an identifier whose first ``cap`` tips are all there can have more: one read
            # with fewer is under the cap. Those not read at all (excluded, removed, already
            # marked) are checked as before.
            tips_of: dict[int, set[int]] = defaultdict(set)
            for identifier_id, tip_id, _ in capped:
                tips_of[identifier_id].add(tip_id)
            full = [
                pk
                for pk in identifier_ids
                if pk not in tips_of or len(tips_of[pk]) >= params["cap"]
            ]
            if full:
                cursor.execute(_MARK_TOO_COMMON_SQL, {**params, "identifiers": full})
        merge_clusters_of(tip_ids=ids, deferred=deferred_clusters)
    return added


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidInput("a reason is required", field="reason")
    check_text(text, field="reason")
    return text


@transaction.atomic
def add_manual_link(*, by: User | None, from_tip: Tip, to_tip: Tip, reason: str) -> TipLink:
    """Link two tips by hand, with the analyst's reason; merges their clusters. A manual link
    removed earlier is restored with the new reason. The link is stored once for the pair
    (lower tip id first); the returned link is seen from ``from_tip`` (``viewer_tip_id``), so
    that its linked tip is ``to_tip``."""
    text = _reason(reason)
    if from_tip.pk == to_tip.pk:
        raise InvalidInput("a tip cannot be linked to itself", field="toTipId")
    # the clusters of both tips: a concurrent manual link of the same pair waits here
    lock_clusters_of([from_tip.pk, to_tip.pk])
    lower, higher = TipLink.ordered(from_tip.pk, to_tip.pk)
    existing = TipLink.objects.filter(from_tip_id=lower, to_tip_id=higher, kind=TipLinkKind.MANUAL)
    if existing.filter(removed_at__isnull=True).exists():
        raise DuplicateRecord("these tips are already linked by hand", field="toTipId")
    if existing.exists():
        existing.update(
            reason=text,
            created_by=by,
            created_at=timezone.now(),
            removed_at=None,
            removed_by=None,
            removed_reason="",
        )
    else:
        TipLink.objects.create(
            from_tip_id=lower,
            to_tip_id=higher,
            kind=TipLinkKind.MANUAL,
            reason=text,
            created_by=by,
        )
    merge_clusters_of(tip_ids=[from_tip.pk, to_tip.pk])
    link = existing.get()
    link.viewer_tip_id = from_tip.pk
    return link


@transaction.atomic
def remove_link(*, by: User | None, link: TipLink, reason: str) -> TipLink:
    """Remove a wrong link (for both its tips: it is one row), with the reason; the cluster is
    split if it fell apart. A removed automatic link is never re-created by later linking."""
    text = _reason(reason)
    # the clusters of both tips, before the link is read: no merge or split runs beside this
    lock_clusters_of([link.from_tip_id, link.to_tip_id])
    removed = TipLink.objects.filter(pk=link.pk, removed_at__isnull=True).update(
        removed_at=timezone.now(), removed_by=by, removed_reason=text
    )
    if not removed:
        raise InvalidInput("this link was already removed", field="linkId")
    cluster_ids = set(
        Tip.objects.filter(
            pk__in=[link.from_tip_id, link.to_tip_id], cluster__isnull=False
        ).values_list("cluster_id", flat=True)
    )
    for cluster_id in sorted(cluster_ids):
        split_cluster(cluster_id=cluster_id)
    link.refresh_from_db()
    return link


@transaction.atomic
def add_link_exclusion(
    *, by: User | None, kind: str, value: str, qualifier: str = "", reason: str
) -> LinkExclusion:
    """Put an identifier value on the list of values never to link on. Links it already made
    stay (remove them one by one if they are wrong)."""
    text = _reason(reason)
    norm = normalise_or_raise(kind=kind, value=value, qualifier=qualifier)
    lookup = {"kind": norm.kind.value, "qualifier": norm.qualifier, "value": norm.value}
    duplicate = f"{norm.kind.label} {norm.value!r} is already excluded from linking"
    if LinkExclusion.objects.filter(**lookup).exists():
        raise DuplicateRecord(duplicate, field="value")
    with refusing_duplicates({"link_exclusion_unique": (duplicate, "value")}):
        return LinkExclusion.objects.create(**lookup, reason=text, created_by=by)


@transaction.atomic
def remove_link_exclusion(*, exclusion: LinkExclusion) -> int:
    """Take a value off the exclusion list and link the tips that share it now. Returns the
    removed exclusion's id."""
    pk = exclusion.pk
    exclusion.delete()
    identifier = Identifier.objects.filter(
        kind=exclusion.kind, qualifier=exclusion.qualifier, value=exclusion.value
    ).first()
    if identifier is not None:
        link_tips(
            tip_ids=TipIdentifier.objects.filter(identifier=identifier).values_list(
                "tip_id", flat=True
            )
        )
    return pk
