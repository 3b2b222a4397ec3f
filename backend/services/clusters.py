"""Clusters: the connected components of tips over their non-removed links, kept incrementally,
and the locks that let several processes write links and clusters at once.

- When links are added, ``merge_clusters_of`` gives every touched tip a cluster (size 1 for an
  unlinked tip) and unions the clusters its links join: each group of joined clusters is merged
  into its largest one (the lowest id on a tie) by re-pointing the other clusters' tips in one
  UPDATE and deleting the emptied clusters; a tip without a cluster yet goes straight into its
  group's cluster (no cluster of its own first), so a new tip is written once.
- When links are removed, ``split_cluster`` recomputes only the affected cluster over its
  remaining links and moves every part but the largest into a new cluster.

Locks (all transaction-level advisory locks, held until commit or rollback):

- **The graph lock** (``LINK_LOCK_KEY``). The services that write sightings, tip subjects,
  links or clusters hold it: *shared* by the fine-grained writers below, which therefore run
  side by side, *exclusive* (``lock_tip_graph``) by the coarse ones, which run alone:
  rebuilding every cluster, linking more than ``MAX_FINE_KEYS`` identifiers and subjects at
  once, and each batch of the bulk importer (``backend.intake.importer``: a batch touches
  thousands of identifiers, subjects and clusters, more keys than PostgreSQL's shared lock
  table is sized for per transaction, so one lock for the batch; the price is that tips
  entered meanwhile wait for the batch to commit). ``enter_tip_graph`` takes it shared at the
  start of a tip write, before the first row it changes.
- **Link keys** (``lock_link_keys``): one per identifier and per subject whose sightings a
  transaction links through, so two tips sharing an identifier or subject serialise: the later
  one's link query sees the earlier one's committed sightings. The link queries only link
  through identifiers and subjects whose keys are held (``backend.services.linking``).
- **Cluster keys**: one per cluster a merge or split touches, and one per touched tip that has
  no cluster yet. A tip's cluster only changes under the keys of its old and new cluster (or
  its own key while it has none), and a link is only added or removed by a transaction that
  then locks the clusters of both its tips. ``lock_clusters_of`` reads the clusters of the
  tips and their linked tips, locks them, and reads again: if anything moved in between (a
  concurrent merge or split committed), it rolls back to a savepoint taken just before, which
  releases those keys, and starts over. Once the two reads agree, the clusters it holds can
  change under no one else.

Every transaction takes these in one order: the graph lock, link keys (identifiers, then
subjects, each ascending), cluster keys (clusters, then tips, ascending), and last the audit
chain's lock (``audit.writer``, at the end of a request). Keys are always requested in
ascending order within a step, and a retried step first gives back what it took, so no
transaction ever waits for a key while holding a later one: two transactions cannot wait for
each other. Row locks do not add a cycle: identifier rows are written (created, first/last
seen) before the link keys, in ascending order of their normalised value
(``backend.services.tips``; the importer writes them under the exclusive lock); links and
clusters only under their keys; the too-common mark skips an identifier row another
transaction holds rather than wait for it (the next transaction that links through it marks
it). A service that writes such rows without the graph lock (correcting an identifier,
removing a record) waits for nothing but the audit chain's lock.

Disjoint work runs concurrently: two tips with no identifier, subject or cluster in common
share no key. Tips that share anything serialise on it, including a tip that merges two
clusters and another tip that joins one of them at the same moment (they meet on that
cluster's key). A transaction that writes the graph more than once (several tip mutations in
one GraphQL document, or an upload after one) takes its later keys after its earlier cluster
keys, or asks for the exclusive lock while holding the shared one; should that close a cycle,
PostgreSQL's deadlock detector rolls one of the transactions back, and nothing is
half-written.

``settings.LINK_LOCKS = "global"`` (read by ``bench/linking_concurrency_bench.py`` only)
brings back the single exclusive lock for every linking transaction, for comparison.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from backend.models import Cluster, Tip, TipLink

__all__ = [
    "LINK_LOCK_KEY",
    "MAX_FINE_KEYS",
    "LockClass",
    "components",
    "enter_tip_graph",
    "lock_clusters_of",
    "lock_key",
    "lock_link_keys",
    "lock_tip_graph",
    "merge_clusters_of",
    "rebuild_clusters",
    "split_cluster",
]

#: The graph lock's advisory key: the bytes of "tglinks" as a bigint.
LINK_LOCK_KEY = 32764812621409139
#: More keys than this in one ``lock_link_keys`` call and it takes the graph lock exclusively
#: instead (a bulk call; a single tip has at most 200 identifiers and 50 subjects).
MAX_FINE_KEYS = 512
#: The transaction-local setting that records that this transaction holds the graph lock
#: exclusively (``SET LOCAL`` semantics: gone at commit, rollback, or rollback to savepoint).
_EXCLUSIVE_FLAG = "tipgraph.graph_lock"
_KEY_SHIFT = 56


class LockClass(enum.IntEnum):
    """What a fine-grained key names; also the order in which keys are taken."""

    IDENTIFIER = 1
    SUBJECT = 2
    CLUSTER = 3
    TIP = 4


def lock_key(kind: LockClass, pk: int) -> int:
    """The advisory key of one record: its class in the top byte, its id below. Never equal to
    ``LINK_LOCK_KEY`` or the audit chain's key (whose top byte is 0)."""
    if not 0 < pk < 1 << _KEY_SHIFT:
        raise ValueError(f"{kind.name.lower()} id {pk} does not fit a lock key")
    return (int(kind) << _KEY_SHIFT) | pk


def _in_transaction(name: str) -> None:
    if connection.get_autocommit():
        raise RuntimeError(f"{name}() needs a transaction: use transaction.atomic()")


def _global_mode() -> bool:
    return getattr(settings, "LINK_LOCKS", "fine") == "global"


def lock_tip_graph() -> None:
    """Wait for, then hold exclusively until the transaction ends, the graph lock: no other
    writer of links or clusters runs meanwhile, and this transaction needs no other key."""
    _in_transaction("lock_tip_graph")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s), set_config(%s, 'exclusive', true)",
            [LINK_LOCK_KEY, _EXCLUSIVE_FLAG],
        )


def enter_tip_graph() -> bool:
    """Hold the graph lock shared (unless this transaction holds it exclusively); returns
    whether it is held exclusively, in which case no finer key is needed. Called at the start
    of a tip write, before its first row, so that a coarse writer never waits for a row of
    a writer that waits for it."""
    _in_transaction("enter_tip_graph")
    if _global_mode():
        return False
    with connection.cursor() as cursor:
        # CASE evaluates its branches in order: no shared lock when already exclusive
        cursor.execute(
            "SELECT CASE WHEN current_setting(%s, true) = 'exclusive' THEN true "
            "ELSE (SELECT false FROM pg_advisory_xact_lock_shared(%s)) END",
            [_EXCLUSIVE_FLAG, LINK_LOCK_KEY],
        )
        return bool(cursor.fetchone()[0])


def _lock_keys(keys: Iterable[int]) -> None:
    """Take the advisory keys in ascending order, one after the other, in one statement."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    with connection.cursor() as cursor:
        # unnest yields the array in order, and each row's lock is taken before the next row
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [ordered]
        )


def lock_link_keys(*, identifier_ids: Iterable[int], subject_ids: Iterable[int]) -> None:
    """Hold the keys of these identifiers and subjects (and the graph lock shared). With more
    than ``MAX_FINE_KEYS`` of them, or ``LINK_LOCKS = "global"``, takes the graph lock
    exclusively instead; with the graph lock already exclusive, takes nothing."""
    keys = [lock_key(LockClass.IDENTIFIER, pk) for pk in set(identifier_ids)]
    keys += [lock_key(LockClass.SUBJECT, pk) for pk in set(subject_ids)]
    if _global_mode() or len(keys) > MAX_FINE_KEYS:
        lock_tip_graph()
        return
    if enter_tip_graph():
        return
    _lock_keys(keys)


_CLUSTER_STATE_SQL = """
WITH pairs AS MATERIALIZED (
    -- a link is stored once, lower tip first: a tip's links are found from either end
    SELECT from_tip_id, to_tip_id FROM backend_tiplink
    WHERE from_tip_id = ANY(%(ids)s) AND removed_at IS NULL
    UNION
    SELECT from_tip_id, to_tip_id FROM backend_tiplink
    WHERE to_tip_id = ANY(%(ids)s) AND removed_at IS NULL
)
SELECT true, from_tip_id, to_tip_id FROM pairs
UNION ALL
SELECT false, t.id, t.cluster_id
FROM (
    SELECT unnest(%(ids)s::bigint[])
    UNION SELECT from_tip_id FROM pairs
    UNION SELECT to_tip_id FROM pairs
) AS touched(id)
JOIN backend_tip t ON t.id = touched.id
"""


def _cluster_state(
    ids: list[int],
) -> tuple[frozenset[tuple[int, int]], dict[int, int | None]]:
    """The non-removed links of ``ids`` (at either end), and the cluster of every tip they touch
    (one statement: one snapshot)."""
    pairs: set[tuple[int, int]] = set()
    cluster_of: dict[int, int | None] = {}
    with connection.cursor() as cursor:
        cursor.execute(_CLUSTER_STATE_SQL, {"ids": ids})
        for is_link, a, b in cursor.fetchall():
            if is_link:
                pairs.add((a, b))
            else:
                cluster_of[a] = b
    return frozenset(pairs), cluster_of


def _cluster_keys(cluster_of: dict[int, int | None]) -> set[int]:
    return {
        lock_key(LockClass.CLUSTER, c) if c is not None else lock_key(LockClass.TIP, t)
        for t, c in cluster_of.items()
    }


class _Moved(Exception):
    """A cluster moved between reading it and locking it: give the keys back and retry."""


def lock_clusters_of(
    tip_ids: Iterable[int],
) -> tuple[frozenset[tuple[int, int]], dict[int, int | None]]:
    """Hold the keys of the clusters of ``tip_ids`` and of every tip linked to them (a tip
    without a cluster: its own key), and return what was read under them: the non-removed
    links of ``tip_ids`` (at either end) and the cluster of each touched tip. See the module
    docstring."""
    _in_transaction("lock_clusters_of")
    ids = sorted(set(tip_ids))
    if _global_mode():
        lock_tip_graph()
        return _cluster_state(ids)
    if enter_tip_graph():
        return _cluster_state(ids)
    while True:
        state = _cluster_state(ids)
        try:
            # a savepoint: rolling back to it releases the keys taken inside
            with transaction.atomic():
                _lock_keys(_cluster_keys(state[1]))
                if _cluster_state(ids) != state:
                    raise _Moved
                return state
        except _Moved:
            continue


def components(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> list[set[int]]:
    """The connected components of an undirected graph (union-find), largest first."""
    parent: dict[int, int] = {n: n for n in nodes}

    def find(n: int) -> int:
        root = n
        while parent[root] != root:
            root = parent[root]
        while parent[n] != root:
            parent[n], n = root, parent[n]
        return root

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, set[int]] = {}
    for n in parent:
        groups.setdefault(find(n), set()).add(n)
    return sorted(groups.values(), key=lambda g: (-len(g), min(g)))


def _new_clusters(sizes: list[int]) -> list[int]:
    if not sizes:
        return []
    return [c.pk for c in Cluster.objects.bulk_create([Cluster(size=s) for s in sizes])]


def _repoint_tips(tip_ids: list[int], cluster_ids: list[int]) -> None:
    """Point each of ``tip_ids`` at its cluster of ``cluster_ids``, in one query."""
    if not tip_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE backend_tip t SET cluster_id = m.target
            FROM unnest(%s::bigint[], %s::bigint[]) AS m(key, target)
            WHERE t.id = m.key AND t.cluster_id IS DISTINCT FROM m.target
            """,
            [tip_ids, cluster_ids],
        )


def _repoint_clusters(sources: list[int], targets: list[int]) -> None:
    """Point the tips of each cluster of ``sources`` at its cluster of ``targets``: the tips
    are read through the cluster index first, then re-pointed by their ids. (One UPDATE joined
    on the cluster was planned, from statistics taken when the table was small, as a scan of
    every tip, which grew with the table; LATERAL with OFFSET 0 is not pulled up into such a
    join.)"""
    if not sources:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT k.id, m.target
            FROM unnest(%s::bigint[], %s::bigint[]) AS m(key, target)
            CROSS JOIN LATERAL (
                SELECT k.id FROM backend_tip k
                WHERE k.cluster_id = m.key AND k.cluster_id IS DISTINCT FROM m.target
                OFFSET 0
            ) AS k
            ORDER BY k.id
            """,
            [sources, targets],
        )
        moved = cursor.fetchall()
    _repoint_tips([pk for pk, _ in moved], [target for _, target in moved])


def _refresh_sizes(cluster_ids: Iterable[int]) -> None:
    ids = sorted(set(cluster_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE backend_cluster c SET size = counted.size, updated_at = now()
            FROM (
                SELECT c2.id, count(t.id) AS size
                FROM backend_cluster c2 LEFT JOIN backend_tip t ON t.cluster_id = c2.id
                WHERE c2.id = ANY(%s) GROUP BY c2.id
            ) counted
            WHERE c.id = counted.id AND c.size <> counted.size
            """,
            [ids],
        )


def _grow_sizes(growth: dict[int, int]) -> None:
    keys = sorted(c for c, n in growth.items() if n)
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE backend_cluster c SET size = c.size + g.n, updated_at = now()
            FROM unnest(%s::bigint[], %s::int[]) AS g(id, n)
            WHERE c.id = g.id
            """,
            [keys, [growth[c] for c in keys]],
        )


def merge_clusters_of(
    *, tip_ids: Iterable[int], deferred: dict[int, int] | None = None
) -> set[int]:
    """Give ``tip_ids`` (and their linked tips) clusters and union the clusters their non-removed
    links join. Returns the ids of the clusters that now hold those tips.

    Each group of joined clusters and unclustered tips ends in one cluster: the largest stored
    cluster of the group (the lowest id on a tie) absorbs the others (only the smaller
    clusters' tips are re-pointed), and the group's unclustered tips are pointed straight at it;
    a group of unclustered tips only gets one new cluster. Each tip is written at most once.

    With ``deferred`` (a dict to fill), the unclustered tips among ``tip_ids`` are not written:
    their cluster ids are put in it (tip id -> cluster id) for the caller to write before its
    transaction ends (the importer writes them with the tips' scores: one write of each new tip
    instead of two). The clusters' sizes already count them."""
    ids = sorted(set(tip_ids))
    if not ids:
        return set()
    with transaction.atomic():
        pairs, cluster_of = lock_clusters_of(ids)
        # nodes: a stored cluster (its id) or an unclustered tip (minus its id)
        node = {t: (c if c is not None else -t) for t, c in cluster_of.items()}
        groups = components(set(node.values()), ((node[a], node[b]) for a, b in pairs))
        stored = {c for g in groups for c in g if c > 0}
        sizes = (
            dict(Cluster.objects.filter(pk__in=stored).values_list("pk", "size"))
            if any(len(g) > 1 for g in groups)
            else {}
        )
        lonely = [g for g in groups if not any(c > 0 for c in g)]
        created = _new_clusters([len(g) for g in lonely])
        target_of: dict[int, int] = {}
        for group, new_id in zip(lonely, created, strict=True):
            for n in group:
                target_of[n] = new_id
        sources: list[int] = []
        targets: list[int] = []
        for group in groups:
            clusters = [c for c in group if c > 0]
            if not clusters:
                continue
            target = min(clusters, key=lambda c: (-sizes.get(c, 0), c))
            for n in group:
                target_of[n] = target
            for cluster_id in sorted(set(clusters) - {target}):
                sources.append(cluster_id)
                targets.append(target)
        bare = sorted(t for t, n in node.items() if n < 0)
        if deferred is not None:
            asked = set(ids)
            deferred.update({t: target_of[-t] for t in bare if t in asked})
            written = [t for t in bare if t not in asked]
        else:
            written = bare
        _repoint_tips(written, [target_of[-t] for t in written])
        _repoint_clusters(sources, targets)
        if sources:
            with connection.cursor() as cursor:
                # their tips were all re-pointed above: nothing refers to them any more
                cursor.execute("DELETE FROM backend_cluster WHERE id = ANY(%s)", [sources])
        # sizes by arithmetic, not by counting the (possibly huge) target clusters again: a
        # target gains the tips of the clusters it absorbed and the unclustered tips it took
        growth: dict[int, int] = defaultdict(int)
        fresh = set(created)
        for t in bare:
            if target_of[-t] not in fresh:
                growth[target_of[-t]] += 1
        for source, target in zip(sources, targets, strict=True):
            growth[target] += sizes.get(source, 0)
        _grow_sizes(growth)
        return {target_of[n] for n in node.values()}


def split_cluster(*, cluster_id: int) -> list[int]:
    """Recompute one cluster over its remaining (non-removed) links and split it into one
    cluster per connected part: the largest part keeps the cluster, each other part gets a new
    one. Returns the ids of the resulting clusters, largest first."""
    with transaction.atomic():
        if _global_mode():
            lock_tip_graph()
        elif not enter_tip_graph():
            # its tips move only under this key, so the members read next stay its members
            _lock_keys([lock_key(LockClass.CLUSTER, cluster_id)])
        members = list(Tip.objects.filter(cluster_id=cluster_id).values_list("pk", flat=True))
        if not members:
            Cluster.objects.filter(pk=cluster_id).delete()
            return []
        edges = TipLink.objects.filter(
            from_tip_id__in=members, to_tip_id__in=members, removed_at__isnull=True
        ).values_list("from_tip_id", "to_tip_id")
        parts = components(members, edges)
        rest = parts[1:]
        created = _new_clusters([len(p) for p in rest])
        tips: list[int] = []
        targets: list[int] = []
        for part, new_id in zip(rest, created, strict=True):
            tips.extend(sorted(part))
            targets.extend([new_id] * len(part))
        _repoint_tips(tips, targets)
        _refresh_sizes([cluster_id])
        return [cluster_id, *created]


def rebuild_clusters() -> int:
    """Recompute every cluster from scratch (repair; set-based). Returns the number of clusters."""
    with transaction.atomic():
        lock_tip_graph()
        Tip.objects.update(cluster=None)
        Cluster.objects.all().delete()
        tip_ids = list(Tip.objects.values_list("pk", flat=True))
        edges = TipLink.objects.filter(removed_at__isnull=True).values_list(
            "from_tip_id", "to_tip_id"
        )
        parts = components(tip_ids, edges)
        created = _new_clusters([len(p) for p in parts])
        tips: list[int] = []
        targets: list[int] = []
        for part, new_id in zip(parts, created, strict=True):
            tips.extend(sorted(part))
            targets.extend([new_id] * len(part))
        _repoint_tips(tips, targets)
        return len(created)
