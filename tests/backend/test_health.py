"""backend.health: /healthz answers without the database, /readyz says whether the database
answers and is migrated; neither asks for credentials, checks the host or writes audit rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.owner import owner_cursor

#: A load balancer's probe names the node's address, which is not in ALLOWED_HOSTS.
PROBE_HOST = "10.11.12.13:8000"


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(
    client: Client, django_assert_num_queries: Callable[..., Any]
) -> None:
    # when
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST=PROBE_HOST)

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies


@pytest.mark.django_db
def test_readyz_is_ready_on_a_migrated_database_and_writes_no_audit_row(client: Client) -> None:
    # given
    before = AuditEvent.objects.count()

    # when
    response = client.get("/readyz", HTTP_HOST=PROBE_HOST)
    head = client.head("/readyz", HTTP_HOST=PROBE_HOST)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "database": "ok", "unappliedMigrations": 0}
    assert head.status_code == 200
    assert AuditEvent.objects.count() == before
    assert not response.cookies


@pytest.mark.django_db
def test_other_paths_still_check_the_host(client: Client) -> None:
    # the probes' exemption is theirs alone
    response = client.get("/accounts/login/", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 400


@pytest.mark.django_db
def test_probes_take_no_writes(client: Client) -> None:
    response = client.post("/readyz", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unavailable_while_a_migration_is_not_applied(client: Client) -> None:
    # given: the newest migration of the backend app is not recorded as applied
    with owner_cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations "
            "WHERE app = 'backend') RETURNING app, name, applied"
        )
        removed = cursor.fetchone()
    try:
        # when
        response = client.get("/readyz", HTTP_HOST=PROBE_HOST)
    finally:
        with owner_cursor() as cursor:
            cursor.execute(
                "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", removed
            )

    # then
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "unappliedMigrations": 1,
    }
    assert client.get("/readyz", HTTP_HOST=PROBE_HOST).status_code == 200
