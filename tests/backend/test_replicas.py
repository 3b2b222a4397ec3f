"""backend.replicas: statistics read the replica, everything else the primary.

The "replica" here is a second test database on the same server, copied from the test
database (CREATE DATABASE ... TEMPLATE) and then left alone: rows written to the primary
afterwards are not in it, so where a read went shows in what it counts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test import Client

from audit.models import AuditEvent
from backend.models import Role, Tip
from backend.replicas import REPLICA, ReplicaRouter, read_alias, reading_from_replica
from backend.services.statistics import Window, tip_counts
from tests.conftest import make_gql
from tests.factories import TipFactory, UserFactory
from tests.owner import owner_cursor

BOTH = [DEFAULT_DB_ALIAS, REPLICA]


def _replica_count(table: str) -> int:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def replica(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A ``replica`` alias on a copy of the test database, as the application role."""
    primary = connections[DEFAULT_DB_ALIAS]
    name = f"{primary.settings_dict['NAME']}_replica"[:63]
    with django_db_blocker.unblock():
        connections.close_all()
        with owner_cursor() as cursor:
            cursor.connection.autocommit = True
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            # The copy needs the test database to itself for a moment.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{primary.settings_dict["NAME"]}"')
    config = copy.deepcopy(primary.settings_dict)
    config["NAME"] = name
    config["TEST"] = {**config["TEST"], "NAME": name, "MIRROR": None}
    # connections.settings is settings.DATABASES (one dict)
    connections.settings[REPLICA] = config
    yield name
    with django_db_blocker.unblock():
        connections[REPLICA].close()
    del connections[REPLICA]
    connections.settings.pop(REPLICA, None)
    settings.DATABASES.pop(REPLICA, None)
    with django_db_blocker.unblock(), owner_cursor() as cursor:
        cursor.connection.autocommit = True
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db  # (pytest-django runs it before the transactional tests that add one)
def test_without_a_replica_everything_reads_the_primary() -> None:
    # the default set-up: no DATABASE_REPLICA_URL
    assert REPLICA not in settings.DATABASES
    with reading_from_replica():
        assert read_alias() == DEFAULT_DB_ALIAS
        assert ReplicaRouter().db_for_read(Tip) is None


@pytest.mark.usefixtures("replica")
@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_statistics_read_the_replica_and_nothing_else_does() -> None:
    # given: tips on the primary only
    TipFactory.create_batch(3)

    # when
    from_statistics = tip_counts(window=Window(), by=None, threshold=0).total
    with reading_from_replica():
        orm_tips = Tip.objects.count()
        orm_audit = AuditEvent.objects.count()
    outside = Tip.objects.count()

    # then: the statistic and the ORM read in the context counted the replica's tips
    assert (from_statistics, orm_tips, outside) == (0, 0, 3)
    # the audit log is read from the primary, even inside the context
    assert orm_audit == AuditEvent.objects.using(DEFAULT_DB_ALIAS).count()


@pytest.mark.usefixtures("replica")
@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_transaction_that_wrote_reads_its_own_writes_from_the_primary() -> None:
    with transaction.atomic():
        # a transaction that has written nothing yet may read the replica
        assert tip_counts(window=Window(), by=None, threshold=0).total == 0
        # when
        TipFactory()
        # then
        with reading_from_replica():
            assert read_alias() == DEFAULT_DB_ALIAS
            assert Tip.objects.count() == 1
        assert tip_counts(window=Window(), by=None, threshold=0).total == 1


@pytest.mark.usefixtures("replica")
@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_writes_and_migrations_never_go_to_the_replica() -> None:
    router = ReplicaRouter()
    with reading_from_replica():
        assert router.db_for_write(Tip) == DEFAULT_DB_ALIAS
        assert router.db_for_read(AuditEvent) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "backend") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "backend") is None

    # an object read from the replica is saved to the primary
    tip = TipFactory()
    replica_before = _replica_count("backend_tip")
    copy_of_tip = Tip.objects.using(REPLICA).filter(pk=tip.pk).first()
    assert copy_of_tip is None  # written after the copy: the replica does not have it
    with reading_from_replica():
        tip.narrative = "changed"
        tip.save()
    assert Tip.objects.using(DEFAULT_DB_ALIAS).get(pk=tip.pk).narrative == "changed"
    assert _replica_count("backend_tip") == replica_before


@pytest.mark.usefixtures("replica")
@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_statistics_query_reads_the_replica_and_is_audited_on_the_primary() -> None:
    # given
    TipFactory.create_batch(2)
    client = Client()
    client.force_login(UserFactory(username="stats-analyst", role=Role.ANALYST))
    audit_on_replica = _replica_count("audit_auditevent")

    # when
    result = make_gql(client)("query Stats { tipStatistics { total } }")

    # then: the figure is the replica's, the audit row the primary's
    assert result.get("errors") is None, result
    assert result["data"]["tipStatistics"]["total"] == 0
    assert Tip.objects.count() == 2
    row = AuditEvent.objects.get(username="stats-analyst", operation_name="Stats")
    assert row.outcome == "ALLOWED"
    assert _replica_count("audit_auditevent") == audit_on_replica
