"""Clusters: the connected components of tips over their non-removed links, kept incrementally.

- When links are added, ``merge_clusters_of`` gives every touched tip a cluster (size 1 for an
  unlinked tip) and unions the clusters its links join: each group of joined clusters is merged
  into its largest one (the lowest id on a tie) by re-pointing the other clusters' tips in one
  UPDATE and deleting the emptied clusters.
- When links are removed, ``split_cluster`` recomputes only the affected cluster over its
  remaining links and moves every part but the largest into a new cluster.

Every writer of links or clusters first takes ``lock_tip_graph()``, a transaction-level advisory
lock held until commit. Linking is serialised, so a transaction always sees the committed
sightings of the one before it: two tips sharing a new identifier, added at the same moment,
end in one cluster. The cost is that linking writes run one at a time (each takes
milliseconds); every GraphQL operation already serialises on the audit chain's lock anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from backend.models import Cluster, Tip, TipLink

__all__ = [
    "LINK_LOCK_KEY",
    "components",
    "lock_tip_graph",
    "merge_clusters_of",
    "rebuild_clusters",
    "split_cluster",
]

#: The advisory lock key of writers of links and clusters: the bytes of "tglinks" as a bigint.
LINK_LOCK_KEY = 32764812621409139


def lock_tip_graph() -> None:
    """Wait for, then hold until the transaction ends, the lock of link and cluster writers."""
    if connection.get_autocommit():
        raise RuntimeError("lock_tip_graph() needs a transaction: use transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LINK_LOCK_KEY])


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


def _repoint_tips(column: str, keys: list[int], cluster_ids: list[int]) -> None:
    """``UPDATE tip SET cluster_id = target WHERE <column> = key`` for each pair, in one query."""
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE backend_tip t SET cluster_id = m.target
            FROM unnest(%s::bigint[], %s::bigint[]) AS m(key, target)
            WHERE t.{column} = m.key AND t.cluster_id IS DISTINCT FROM m.target
            """,
            [keys, cluster_ids],
        )


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


def merge_clusters_of(*, tip_ids: Iterable[int]) -> set[int]:
    """Give ``tip_ids`` (and their linked tips) clusters and union the clusters their non-removed
    links join. Returns the ids of the clusters that now hold those tips."""
    ids = sorted(set(tip_ids))
    if not ids:
        return set()
    with transaction.atomic():
        lock_tip_graph()
        pairs = list(
            TipLink.objects.filter(from_tip_id__in=ids, removed_at__isnull=True)
            .values_list("from_tip_id", "to_tip_id")
            .distinct()
        )
        touched = set(ids) | {b for _, b in pairs}
        cluster_of = dict(Tip.objects.filter(pk__in=touched).values_list("pk", "cluster_id"))

        # An unclustered tip first gets a cluster of its own (size 1).
        bare = sorted(pk for pk, c in cluster_of.items() if c is None)
        created = _new_clusters([1] * len(bare))
        _repoint_tips("id", bare, created)
        cluster_of.update(zip(bare, created, strict=True))

        # Union the clusters joined by links: the largest of each group absorbs the others.
        groups = components(
            set(cluster_of.values()), ((cluster_of[a], cluster_of[b]) for a, b in pairs)
        )
        merging = [g for g in groups if len(g) > 1]
        if not merging:
            return set(cluster_of.values())
        sizes = dict(
            Cluster.objects.filter(pk__in={c for g in merging for c in g}).values_list("pk", "size")
        )
        sources: list[int] = []
        targets: list[int] = []
        for group in merging:
            target = min(group, key=lambda c: (-sizes.get(c, 0), c))
            for cluster_id in sorted(group - {target}):
                sources.append(cluster_id)
                targets.append(target)
        _repoint_tips("cluster_id", sources, targets)
        Cluster.objects.filter(pk__in=sources).delete()
        _refresh_sizes(targets)
        absorbed = dict(zip(sources, targets, strict=True))
        return {absorbed.get(c, c) for c in cluster_of.values()}


def split_cluster(*, cluster_id: int) -> list[int]:
    """Recompute one cluster over its remaining (non-removed) links and split it into one
    cluster per connected part: the largest part keeps the cluster, each other part gets a new
    one. Returns the ids of the resulting clusters, largest first."""
    with transaction.atomic():
        lock_tip_graph()
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
        _repoint_tips("id", tips, targets)
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
        _repoint_tips("id", tips, targets)
        return len(created)
