"""Migration 0006 gives tips referred before it existed the time of their first referral."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.protections import sync_history_triggers
from backend.database_roles import application_role, grant_application_role, owner_connection
from backend.disposal_database import grant_disposal_role

BEFORE = [("backend", "0005_importjob")]
AFTER = [("backend", "0006_statistics")]


@pytest.mark.django_db(transaction=True)
def test_backfill_takes_the_earliest_referral_of_each_tip(_as_owner: None) -> None:
    # given the schema before 0006, with a tip on two referred leads and one on none
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    source = old.get_model("backend", "Source").objects.create(kind="NGO", name="S")
    office = old.get_model("backend", "Office").objects.create(name="O")
    tip_model, lead_model = old.get_model("backend", "Tip"), old.get_model("backend", "Lead")
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    referred = tip_model.objects.create(
        source=source, source_reference="A", received_at=at, category="OTHER", status="REFERRED"
    )
    untouched = tip_model.objects.create(
        source=source, source_reference="B", received_at=at, category="OTHER"
    )
    for days in (9, 4):
        lead = lead_model.objects.create(
            title=f"L{days}", office=office, status="REFERRED", referred_at=at + dt.timedelta(days)
        )
        lead.tips.add(referred)
    lead_model.objects.create(title="draft", status="DRAFT").tips.add(untouched)

    # when
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    # then
    new = MigrationExecutor(connection).loader.project_state(AFTER).apps
    tips = new.get_model("backend", "Tip").objects
    assert tips.get(pk=referred.pk).referred_at == at + dt.timedelta(4)
    assert tips.get(pk=untouched.pk).referred_at is None


@pytest.fixture
def _as_owner() -> Iterator[None]:
    """Migrations run as the owner (the application role runs no DDL); afterwards the latest
    schema is back, with the application and disposal roles' privileges and the history
    triggers."""
    with owner_connection():
        yield
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        grant_application_role(connection, application_role())
        grant_disposal_role(connection)  # the tables it dropped and made anew lost theirs
        sync_history_triggers(connection)
