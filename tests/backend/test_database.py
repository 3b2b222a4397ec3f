"""DATABASE_URL parsing and the embedded server's settings."""

from __future__ import annotations

import pytest

from backend.database import parse_database_url


def test_full_url():
    config = parse_database_url("postgresql://ann:s%40cret@db.example:6543/tips?sslmode=require")
    assert config["NAME"] == "tips"
    assert config["USER"] == "ann"
    assert config["PASSWORD"] == "s@cret"
    assert config["HOST"] == "db.example"
    assert config["PORT"] == "6543"
    assert config["OPTIONS"] == {"sslmode": "require"}


def test_socket_url_from_embedded_server():
    config = parse_database_url("postgresql://postgres:@/postgres?host=/work/var/pgdata")
    assert config["HOST"] == "/work/var/pgdata"
    assert config["NAME"] == "postgres"
    assert config["OPTIONS"] == {}


def test_non_postgres_url_is_refused():
    with pytest.raises(ValueError, match="postgresql://"):
        parse_database_url("sqlite:///db.sqlite3")


@pytest.mark.django_db
def test_trigram_extension_is_installed():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT similarity('alvarez', 'alvares') > 0.3")
        assert cursor.fetchone() == (True,)
