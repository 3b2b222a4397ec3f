"""What the benchmarks share: their own database, a progress bar and a percentile."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

__all__ = ["ROOT", "as_owner", "percentile", "progress", "setup_environment", "start_server"]

P = ParamSpec("P")
R = TypeVar("R")

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    """The value at rank ``q`` (0 to 1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def progress(label: str, done: int, total: int) -> None:
    """A progress bar on stderr, redrawn in place; a new line once ``done`` reaches ``total``.
    When stderr is not a terminal (a log, a pipe) only every tenth and the last are written,
    each on a line of its own."""
    width = 30
    if not sys.stderr.isatty():
        step = max(total // 10, 1)
        if done >= total or done % step == 0:
            sys.stderr.write(f"  {label:<24} {done}/{total}\n")
        return
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r  {label:<24} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def setup_environment(pgdata: str) -> None:
    """Point Django at the benchmark's own database and set it up: BENCH_DATABASE_URL (the
    application role; BENCH_DATABASE_OWNER_URL the owner's) when set, else an embedded
    PostgreSQL under ./var/<pgdata> (never the DATABASE_URL's data)."""
    os.environ.pop("DATABASE_OWNER_URL", None)
    if url := os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = url
        if owner := os.environ.get("BENCH_DATABASE_OWNER_URL"):
            os.environ["DATABASE_OWNER_URL"] = owner
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["TIPGRAPH_PGDATA"] = str(ROOT / "var" / pgdata)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    # Production settings (no TIPGRAPH_DEBUG) refuse to start without a key.
    os.environ.setdefault("TIPGRAPH_SECRET_KEY", "benchmark-only-" + os.urandom(24).hex())
    import django

    django.setup()


def as_owner(load: Callable[P, R]) -> Callable[P, R]:
    """Run a data-set loader as the database owner: it disables the history triggers, rebuilds
    indexes and analyzes, which the application role may not (backend.database_roles)."""

    @functools.wraps(load)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from backend.database_roles import owner_connection

        with owner_connection():
            return load(*args, **kwargs)

    return wrapper


def start_server(port: int) -> subprocess.Popen[bytes]:
    """Django's development server on 127.0.0.1:``port`` (one thread, no reloader) with this
    environment's database, once it answers; exits if it never does."""
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--nothreading",
        ],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return server
        except Exception:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not start")
