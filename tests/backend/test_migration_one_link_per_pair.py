"""Migration 0014 keeps one row of each pair of link halves, lower tip first, and its reverse
stores every link in both directions again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.protections import sync_history_triggers
from backend.database_roles import application_role, grant_application_role, owner_connection
from backend.disposal_database import grant_disposal_role

BEFORE = [("backend", "0013_bulk_intake")]
AFTER = [("backend", "0014_one_link_per_pair")]
AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _rows() -> set[tuple[int, int, str, bool, str]]:
    """(from tip, to tip, kind, removed, reason) of every link row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT from_tip_id, to_tip_id, kind, removed_at IS NOT NULL, reason "
            "FROM backend_tiplink"
        )
        return set(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_one_row_per_pair_keeps_a_pair_live_when_either_half_was(_as_owner: None) -> None:
    # given the schema before 0014 and links stored in both directions: a live pair, a pair
    # whose one half only was removed, a pair removed on both halves, a pair of which only the
    # higher-to-lower half exists, and two kinds of link between the same tips
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    source = old.get_model("backend", "Source").objects.create(kind="NGO", name="S")
    tip_model, link_model = old.get_model("backend", "Tip"), old.get_model("backend", "TipLink")
    t = [
        tip_model.objects.create(
            source=source, source_reference=f"T{n}", received_at=AT, category="OTHER"
        ).pk
        for n in range(8)
    ]

    def half(a: int, b: int, kind: str = "MANUAL", removed: bool = False, reason: str = "") -> None:
        link_model.objects.create(
            from_tip_id=a,
            to_tip_id=b,
            kind=kind,
            reason=reason or f"{kind} {min(a, b)}-{max(a, b)}",
            removed_at=AT if removed else None,
            removed_reason="wrong" if removed else "",
        )

    half(t[0], t[1])
    half(t[1], t[0])
    half(t[2], t[3], removed=True, reason="removed half")
    half(t[3], t[2], reason="live half")
    half(t[4], t[5], removed=True)
    half(t[5], t[4], removed=True)
    half(t[7], t[6])
    half(t[0], t[1], kind="SHARED_SUBJECT")
    half(t[1], t[0], kind="SHARED_SUBJECT")

    # when 0014 runs
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    # then one row is left per pair and kind, lower tip first; a pair with a live half is
    # live, with that half's own fields; a pair removed on both halves stays removed
    assert _rows() == {
        (t[0], t[1], "MANUAL", False, f"MANUAL {t[0]}-{t[1]}"),
        (t[0], t[1], "SHARED_SUBJECT", False, f"SHARED_SUBJECT {t[0]}-{t[1]}"),
        (t[2], t[3], "MANUAL", False, "live half"),
        (t[4], t[5], "MANUAL", True, f"MANUAL {t[4]}-{t[5]}"),
        (t[6], t[7], "MANUAL", False, f"MANUAL {t[6]}-{t[7]}"),
    }
    # and the database refuses a higher-to-lower row from now on
    with pytest.raises(Exception, match="tip_link_ordered"), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO backend_tiplink (from_tip_id, to_tip_id, kind, reason, created_at, "
            "removed_reason) VALUES (%s, %s, 'MANUAL', 'x', now(), '')",
            [t[7], t[5]],
        )

    # when it is reversed, then every link is stored in both directions again
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    rows = _rows()
    assert len(rows) == 10
    assert {(b, a, kind, removed, reason) for a, b, kind, removed, reason in rows} == rows


@pytest.fixture
def _as_owner() -> Iterator[None]:
    """Migrations run as the owner (the application role runs no DDL); afterwards the latest
    schema is back, with the application and disposal roles' privileges and the history
    triggers (as in ``test_migration_statistics``)."""
    with owner_connection():
        yield
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        grant_application_role(connection, application_role())
        grant_disposal_role(connection)
        sync_history_triggers(connection)
