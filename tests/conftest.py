"""Shared fixtures: the test database set up by the owner and used by the application role,
and a GraphQL client per role, signed in through a real session."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from backend.models import Role, User
from permissions.matrix import TRUSTED_DOCUMENTS_ONLY
from tests.factories import UserFactory

GraphQL = Callable[..., dict[str, Any]]


def pytest_configure() -> None:
    from django.conf import settings
    from django.db.backends.postgresql.operations import DatabaseOperations

    from backend.database_roles import owner_connection

    # Hashing speed is not under test; the real hashers stay in production settings.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # Transactional tests empty the database with TRUNCATE, which the application role may
    # not do (on the audit tables least of all): the owner empties it between tests.
    flush = DatabaseOperations.execute_sql_flush

    def flush_as_owner(self: DatabaseOperations, sql_list: list[str]) -> None:
        with owner_connection(self.connection.alias):
            flush(self, sql_list)

    DatabaseOperations.execute_sql_flush = flush_as_owner  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings: None) -> None:
    """The owner creates and migrates the test database (``backend.database_roles``)."""
    from django.conf import settings
    from django.db import connections

    connection = connections["default"]
    connection.close()
    connection.settings_dict.update(settings.DATABASE_OWNER)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Every test then runs as the application role; the owner drops the database after."""
    from django.conf import settings
    from django.db import connections

    connection = connections["default"]
    with django_db_blocker.unblock():
        connection.close()
    connection.settings_dict.update(settings.DATABASE_APPLICATION)
    yield
    with django_db_blocker.unblock():
        connection.close()
    connection.settings_dict.update(settings.DATABASE_OWNER)


def make_gql(client: Client, **headers: str) -> GraphQL:
    def gql(query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers=headers,
            **extra,
        )
        assert response.status_code in (200, 400, 503), response.content
        return response.json()

    return gql


@pytest.fixture
def user_of() -> Callable[[str], User]:
    def make(role: str) -> User:
        return UserFactory(username=f"{role.lower()}-user", role=role)

    return make


@pytest.fixture
def analyst(user_of: Callable[[str], User]) -> User:
    return user_of(Role.ANALYST)


def register_document(query: str) -> None:
    """Register ``query`` as a trusted document, as ``manage.py load_documents`` would: one
    SQL statement whether or not it is registered already, so query counts stay comparable."""
    from backend.documents import document_hash
    from backend.models import TrustedDocument

    digest = document_hash(query)
    TrustedDocument.objects.bulk_create(
        [TrustedDocument(hash=digest, name=f"test_{digest[:16]}", document=query)],
        ignore_conflicts=True,
    )


def registering(gql: GraphQL) -> GraphQL:
    """``gql`` that first registers each document it sends: the client of a role that may run
    only trusted documents (``permissions.matrix.TRUSTED_DOCUMENTS_ONLY``), whose tool's
    documents are registered. ``tests/schema/test_trusted_documents.py`` sends the others."""

    def send(query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        register_document(query)
        return gql(query, variables, **extra)

    return send


@pytest.fixture
def gql_as(client: Client, user_of: Callable[[str], User]) -> Callable[[str], GraphQL]:
    """``gql_as(Role.ANALYST)`` signs a fresh client in with that role and returns a caller.
    For a role that may run only trusted documents, each document sent is registered first."""

    def sign_in(role: str) -> GraphQL:
        c = Client()
        c.force_login(user_of(role))
        gql = make_gql(c)
        return registering(gql) if role in TRUSTED_DOCUMENTS_ONLY else gql

    return sign_in


@pytest.fixture
def gql(gql_as: Callable[[str], GraphQL]) -> GraphQL:
    """A GraphQL caller signed in as an analyst."""
    return gql_as(Role.ANALYST)


@pytest.fixture
def anonymous_gql(client: Client) -> GraphQL:
    return make_gql(client)
