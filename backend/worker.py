"""Running a procrastinate worker from a management command (``run_worker``,
``run_import_worker``): procrastinate's own worker, on a connector of its own (the Django
connection serves one thread; a worker needs a pool), as the application role.

``drain`` (``--once``) runs the jobs queued in the given queues and returns when none is left,
without deferring periodic tasks (those are the long-running workers' job); ``serve`` runs
until it is stopped (SIGINT, SIGTERM), deferring periodic tasks and listening for new jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from procrastinate import App, PsycopgConnector
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params
from procrastinate.periodic import PeriodicRegistry

__all__ = ["drain", "serve"]


def _close_connections(call_next: Any, context: Any, worker: Any) -> Any:
    """Task middleware of ``drain``: close the task thread's database connections after each
    task, so that none outlives a drain (a test database can then be dropped)."""
    try:
        return call_next()
    finally:
        connections.close_all()


@contextmanager
def _worker_app(concurrency: int) -> Iterator[App]:
    connector = PsycopgConnector(
        kwargs=connector_params("default"), min_size=1, max_size=concurrency + 2
    )
    with app.replace_connector(connector) as worker_app:
        yield worker_app


def drain(queues: Iterable[str], *, concurrency: int = 1) -> None:
    """Run every job queued in ``queues``, then return."""
    with _worker_app(concurrency) as worker_app:
        registry = worker_app.periodic_registry
        worker_app.periodic_registry = PeriodicRegistry()
        try:
            worker_app.run_worker(
                queues=list(queues),
                wait=False,
                concurrency=concurrency,
                install_signal_handlers=False,
                listen_notify=False,
                task_middleware=[_close_connections],
            )
        finally:
            worker_app.periodic_registry = registry


def serve(queues: Iterable[str] | None, *, concurrency: int = 1, **options: Any) -> None:
    """Run a worker on ``queues`` (None: every queue) until it is stopped."""
    with _worker_app(concurrency) as worker_app:
        worker_app.run_worker(
            queues=None if queues is None else list(queues),
            wait=True,
            concurrency=concurrency,
            **options,
        )
