"""gunicorn's configuration: ``gunicorn -c python:backend.gunicorn_conf`` (``make serve``).

Environment:

- ``TIPGRAPH_BIND``: address and port (default ``127.0.0.1:8000``; ``0.0.0.0:8000`` behind a
  load balancer).
- ``TIPGRAPH_WORKERS``: worker processes (default: one per CPU core this process may use,
  as ``nproc`` counts them).
- ``TIPGRAPH_WORKER_TIMEOUT``: seconds a request may take before its worker is restarted
  (default 120: a large statistics window or upload may take a while).
- ``TIPGRAPH_FORWARDED_ALLOW_IPS``: addresses of the load balancers whose X-Forwarded-*
  headers gunicorn trusts (default ``127.0.0.1``).

The application is ``backend.wsgi:application`` with synchronous workers (one request, one
database connection per worker). ``make serve-asgi`` runs ``backend.asgi:application`` on
uvicorn workers instead (``-k backend.asgi_worker.AsgiWorker``), whose threads share a
bounded connection pool (``TIPGRAPH_DB_POOL_MAX``, ``backend.database.pool_options``).

Settings are checked once in the master before any worker starts, so that a missing
``TIPGRAPH_SECRET_KEY`` stops the server with its message rather than a worker boot loop.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = [
    "accesslog",
    "bind",
    "control_socket_disable",
    "default_workers",
    "errorlog",
    "forwarded_allow_ips",
    "graceful_timeout",
    "max_requests",
    "max_requests_jitter",
    "on_starting",
    "pre_fork",
    "timeout",
    "workers",
    "wsgi_app",
]


def default_workers() -> int:
    """``TIPGRAPH_WORKERS``, else the CPU cores this process may run on (``nproc``)."""
    if raw := os.environ.get("TIPGRAPH_WORKERS", "").strip():
        return max(1, int(raw))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


wsgi_app = "backend.wsgi:application"
bind = [os.environ.get("TIPGRAPH_BIND", "127.0.0.1:8000")]
workers = default_workers()
timeout = int(os.environ.get("TIPGRAPH_WORKER_TIMEOUT", "120"))
graceful_timeout = 30
# Recycle workers now and then (a slow leak cannot grow without bound); jittered so that the
# workers of a node do not restart together.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("TIPGRAPH_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# gunicorn's control socket lives at one path per user ($HOME/.gunicorn/gunicorn.ctl): two
# servers on a machine (a node and a test run) would fight over it. Not used here.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Load the settings once in the master (a configuration error stops the server here),
    then the application, which every worker forks from."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        debug = settings.DEBUG
    except ImproperlyConfigured as exc:
        sys.exit(f"tipgraph: refusing to start: {exc}")
    if debug:
        server.log.warning("TIPGRAPH_DEBUG is on: development mode, not for production")
    asgi = _is_asgi(server.cfg.worker_class_str)
    if asgi:
        # An ASGI worker keeps its clients' connections open (keep-alive, later websockets): a
        # recycle would cut requests in flight on them (16 clients for 60 s saw read errors at
        # each recycle). Its memory is bounded by the connection pool; it is not recycled.
        server.cfg.set("max_requests", 0)
    if asgi and "pool" not in settings.DATABASES["default"]["OPTIONS"]:
        server.log.warning(
            "ASGI workers without TIPGRAPH_DB_POOL_MAX: a database connection per concurrent "
            "request, without bound"
        )
    # Load the application (Django, the URLconf and the schema) once, here in the master, after
    # the settings passed: each worker is then a fork of it (gunicorn's preload_app, which runs
    # before this check would). Without it every new worker, and every one recycled by
    # max_requests, imported it all again while its requests waited: at 4 clients a worker was
    # recycled every 16 s or so, and the p99 was 483 ms.
    server.app.wsgi()


def pre_fork(server: Any, worker: Any) -> None:
    """Close any database connection the master opened while loading the application, so that
    no worker inherits (and shares) its socket; each worker opens its own."""
    from django.db import connections

    connections.close_all()


def _is_asgi(worker_class: str) -> bool:
    """Whether gunicorn's ``worker_class`` (a name or dotted path) is an ASGI (uvicorn) one."""
    if "." not in worker_class:
        return False  # gunicorn's own: sync, gthread, ...
    from gunicorn.util import load_class

    try:
        from uvicorn_worker import UvicornWorker
    except ImportError:  # pragma: no cover - a dependency of the project
        return False
    loaded = load_class(worker_class)
    return isinstance(loaded, type) and issubclass(loaded, UvicornWorker)
