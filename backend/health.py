"""Health and readiness probes for load balancers and orchestrators.

- ``GET /healthz``: the process answers (200). Touches no database: a failing database must
  not make an orchestrator restart every application node.
- ``GET /readyz``: the database answers and every migration this code knows is applied (200);
  otherwise 503, so the load balancer sends no traffic to the node (a fresh database not yet
  migrated, a release whose migrations have not run, a database that is down).

Both are answered by ``HealthCheckMiddleware``, first in ``settings.MIDDLEWARE``: before the
host check (a probe names the node's address, not one of ``ALLOWED_HOSTS``), the HTTPS
redirect, sessions, authentication, lockouts and the audit log. They need no credentials,
write nothing, and say nothing beyond ready or not (details go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

__all__ = ["HEALTH_PATH", "READY_PATH", "HealthCheckMiddleware", "readiness"]

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"


def readiness(alias: str = DEFAULT_DB_ALIAS) -> dict[str, object]:
    """``{"ready": bool, ...}``: whether the database answers and is fully migrated."""
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        log.warning("readiness: the database does not answer", exc_info=True)
        connection.close_if_unusable_or_obsolete()
        return {"ready": False, "database": "unavailable"}
    if plan:
        log.warning(
            "readiness: %d migrations are not applied (%s...): run manage.py migrate",
            len(plan),
            plan[0][0],
        )
        return {"ready": False, "database": "ok", "unappliedMigrations": len(plan)}
    return {"ready": True, "database": "ok", "unappliedMigrations": 0}


def _answer(body: dict[str, object], status: int) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


class HealthCheckMiddleware:
    """Answers ``/healthz`` and ``/readyz`` before any other middleware runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path not in (HEALTH_PATH, READY_PATH):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _answer({"status": "method not allowed"}, 405)
            response["Allow"] = "GET, HEAD"
            return response
        if path == HEALTH_PATH:
            return _answer({"status": "ok"}, 200)
        state = readiness()
        body = {"status": "ready" if state["ready"] else "unavailable", **state}
        body.pop("ready")
        return _answer(body, 200 if state["ready"] else 503)
