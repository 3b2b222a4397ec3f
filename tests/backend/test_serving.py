"""Production serving: gunicorn (backend.gunicorn_conf) as a subprocess on a free localhost
port against the test database, with its settings from the environment only.

- the WSGI server answers /healthz, /readyz, static files collected from node_modules, and a
  GraphQL request with a bearer token (audited in the test database), and checks the host;
- it refuses to start without TIPGRAPH_SECRET_KEY outside development;
- /readyz says 503 when the database is missing, while /healthz still answers;
- the ASGI server under 16 concurrent clients never holds more database connections than its
  pool allows (pg_stat_activity, read as the owner), and no request fails.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.db import connection

from audit.models import AuditEvent
from backend.gunicorn_conf import default_workers
from backend.models import ApiToken
from tests.factories import UserFactory
from tests.owner import owner_cursor

ROOT = Path(__file__).resolve().parents[2]
SECRET = "serving-tests-" + secrets.token_urlsafe(24)
VIEWER = "query Viewer { viewer { username role authMethod } }"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(*, application_name: str, name: str | None = None) -> str:
    """The application role's URL for the test database (or ``name``)."""
    app = settings.DATABASE_APPLICATION
    query: dict[str, str] = {
        k: str(v) for k, v in app["OPTIONS"].items() if k != "pool" and isinstance(v, str | int)
    }
    query["application_name"] = application_name
    host = app["HOST"] or ""
    netloc_host = ""
    if host.startswith("/"):
        query["host"] = host
        if app["PORT"]:
            query["port"] = str(app["PORT"])
    else:
        netloc_host = host + (f":{app['PORT']}" if app["PORT"] else "")
    credentials = quote(app["USER"], safe="") + ":" + quote(app["PASSWORD"] or "", safe="")
    dbname = quote(name or connection.settings_dict["NAME"], safe="")
    return f"postgresql://{credentials}@{netloc_host}/{dbname}?{urlencode(query)}"


def server_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any database or tipgraph setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "TIPGRAPH_", "DJANGO_"))
    }
    env["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    env.update(extra)
    return env


def start_server(
    log_dir: Path, env: dict[str, str], *args: str, wait_for: str | None = "/healthz"
) -> Server:
    port = _free_port()
    env = {**env, "TIPGRAPH_BIND": f"127.0.0.1:{port}"}
    log = log_dir / f"gunicorn-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:backend.gunicorn_conf", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    if wait_for is None:
        return server
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{server.output()}")
        try:
            urllib.request.urlopen(server.url + wait_for, timeout=2).close()
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"the server did not answer within 60 s:\n{server.output()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def request(
    url: str, *, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """collectstatic, as ``make serve`` runs it, into a folder of the module's own."""
    root = tmp_path_factory.mktemp("static")
    env = server_environment(
        TIPGRAPH_SECRET_KEY=SECRET,
        TIPGRAPH_STATIC_ROOT=str(root),
        # collectstatic needs no database; this URL keeps the embedded server from starting.
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return root


@pytest.fixture(scope="module")
def wsgi_server(
    django_db_setup: None,
    django_db_blocker: Any,
    static_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    with django_db_blocker.unblock():
        url = database_url(application_name="tipgraph-serving-test")
    env = server_environment(
        DATABASE_URL=url,
        TIPGRAPH_SECRET_KEY=SECRET,
        TIPGRAPH_WORKERS="2",
        TIPGRAPH_ALLOWED_HOSTS="tipgraph.test,127.0.0.1",
        TIPGRAPH_STATIC_ROOT=str(static_root),
    )
    server = start_server(tmp_path_factory.mktemp("wsgi"), env, "backend.wsgi:application")
    yield server
    stop_server(server)


def test_workers_default_to_the_cores_and_yield_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TIPGRAPH_WORKERS", raising=False)
    assert default_workers() == len(os.sched_getaffinity(0))

    monkeypatch.setenv("TIPGRAPH_WORKERS", "3")
    assert default_workers() == 3


@pytest.mark.parametrize(
    ("worker_class", "recycled_after"),
    [
        ("sync", 2000),
        ("backend.asgi_worker.AsgiWorker", 0),
        ("uvicorn_worker.UvicornWorker", 0),
    ],
)
def test_asgi_workers_are_not_recycled_under_their_clients(
    worker_class: str, recycled_after: int
) -> None:
    # given gunicorn's settings of this project, with a sync or an ASGI worker class
    from gunicorn.config import Config

    from backend import gunicorn_conf

    config = Config()
    config.set("max_requests", gunicorn_conf.max_requests)
    config.set("worker_class", worker_class)
    app = _App()
    server = type(
        "Arbiter", (), {"cfg": config, "log": logging.getLogger("gunicorn"), "app": app}
    )()
    # when the master starts
    gunicorn_conf.on_starting(server)
    # then sync workers are recycled now and then, ASGI workers (which hold keep-alive and
    # websocket connections) never
    assert config.max_requests == recycled_after
    # and the application is loaded in the master, once, for the workers to fork from
    assert app.loaded == 1


class _App:
    """gunicorn's application object, as far as ``on_starting`` uses it."""

    loaded = 0

    def wsgi(self) -> None:
        self.loaded += 1


@pytest.mark.django_db(transaction=True)
def test_recycled_workers_fork_from_the_loaded_application(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    # given: one worker recycled after every second request
    user = UserFactory(username="recycled-analyst")
    _, raw = ApiToken.issue(user=user, name="serving", days=1)
    url = database_url(application_name="tipgraph-serving-test")
    env = server_environment(
        DATABASE_URL=url,
        TIPGRAPH_SECRET_KEY=SECRET,
        TIPGRAPH_WORKERS="1",
        TIPGRAPH_ALLOWED_HOSTS="127.0.0.1",
    )
    server = start_server(
        tmp_path,
        env,
        "--max-requests",
        "2",
        "--max-requests-jitter",
        "0",
        "backend.wsgi:application",
    )
    try:
        # when: more requests than two workers' lives
        answers = [
            request(
                server.url + "/graphql",
                data={"query": VIEWER},
                headers={"Authorization": f"Bearer {raw}"},
            )
            for _ in range(6)
        ]
    finally:
        stop_server(server)

    # then: every request was answered and audited, by workers forked from the master's loaded
    # application (no database connection inherited from it: each opens its own)
    output = server.output()
    assert [status for status, _, _ in answers] == [200] * 6, output
    assert {json.loads(body)["data"]["viewer"]["username"] for _, _, body in answers} == {
        "recycled-analyst"
    }
    assert output.count("Autorestarting worker") >= 2, output
    assert AuditEvent.objects.filter(username="recycled-analyst").count() == 6


def test_health_and_readiness_over_http(wsgi_server: Server) -> None:
    # when
    health = request(wsgi_server.url + "/healthz", headers={"Host": "10.0.0.7:8000"})
    ready = request(wsgi_server.url + "/readyz", headers={"Host": "10.0.0.7:8000"})

    # then
    assert health[0] == 200, wsgi_server.output()
    assert json.loads(health[2]) == {"status": "ok"}
    assert ready[0] == 200, (ready, wsgi_server.output())
    assert json.loads(ready[2])["status"] == "ready"


def test_allowed_hosts_come_from_the_environment(wsgi_server: Server) -> None:
    allowed = request(wsgi_server.url + "/accounts/login/", headers={"Host": "tipgraph.test"})
    refused = request(wsgi_server.url + "/accounts/login/", headers={"Host": "evil.example"})

    assert allowed[0] == 200
    assert refused[0] == 400


def test_static_files_from_node_modules_are_served(wsgi_server: Server) -> None:
    # given: what collectstatic copied from node_modules (STATICFILES_DIRS)
    expected = (ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.js").read_bytes()

    # when
    status, headers, body = request(wsgi_server.url + "/static/vendor/chart.js/chart.umd.js")
    gzipped = request(
        wsgi_server.url + "/static/dashboard/dashboard.js", headers={"Accept-Encoding": "gzip"}
    )

    # then
    assert status == 200
    assert body == expected
    assert "max-age" in headers.get("Cache-Control", "")
    assert gzipped[0] == 200
    assert gzipped[1].get("Content-Encoding") == "gzip"


@pytest.mark.django_db(transaction=True)
def test_graphql_with_a_bearer_token(wsgi_server: Server) -> None:
    # given
    user = UserFactory(username="served-analyst")
    token, raw = ApiToken.issue(user=user, name="serving", days=1)

    # when
    status, _, body = request(
        wsgi_server.url + "/graphql",
        data={"query": VIEWER},
        headers={"Authorization": f"Bearer {raw}", "Host": "tipgraph.test"},
    )

    # then
    assert status == 200, (body, wsgi_server.output())
    assert json.loads(body)["data"]["viewer"] == {
        "username": "served-analyst",
        "role": "ANALYST",
        "authMethod": f"token:{token.pk}",
    }
    row = AuditEvent.objects.get(username="served-analyst", operation_name="Viewer")
    assert (row.outcome, row.auth_method) == ("ALLOWED", f"token:{token.pk}")


def test_refuses_to_start_without_a_secret_key(
    django_db_setup: None, tmp_path: Path, django_db_blocker: Any
) -> None:
    # given: production settings (no TIPGRAPH_DEBUG) and no key
    with django_db_blocker.unblock():
        url = database_url(application_name="tipgraph-serving-test")
    env = server_environment(DATABASE_URL=url, TIPGRAPH_WORKERS="1")

    # when
    server = start_server(tmp_path, env, "backend.wsgi:application", wait_for=None)
    try:
        code = server.process.wait(timeout=60)
    finally:
        stop_server(server)

    # then
    assert code != 0
    output = server.output()
    assert "refusing to start" in output
    assert "TIPGRAPH_SECRET_KEY is not set" in output
    assert not (tmp_path / "secret_key").exists()


def test_readyz_is_unavailable_without_the_database(
    django_db_setup: None, tmp_path: Path, django_db_blocker: Any
) -> None:
    # given: a server whose database does not exist
    with django_db_blocker.unblock():
        url = database_url(
            application_name="tipgraph-serving-test", name="tipgraph_no_such_database"
        )
    env = server_environment(DATABASE_URL=url, TIPGRAPH_SECRET_KEY=SECRET, TIPGRAPH_WORKERS="1")
    server = start_server(tmp_path, env, "backend.wsgi:application")
    try:
        # when
        health = request(server.url + "/healthz")
        ready = request(server.url + "/readyz")
    finally:
        stop_server(server)

    # then
    assert health[0] == 200
    assert ready[0] == 503
    assert json.loads(ready[2]) == {"status": "unavailable", "database": "unavailable"}


POOL_MAX = 3
CLIENTS = 16
LOAD_SECONDS = 4.0


@pytest.mark.django_db(transaction=True)
def test_asgi_server_keeps_to_its_connection_pool(tmp_path: Path) -> None:
    # given: one uvicorn worker whose pool holds at most POOL_MAX connections
    user = UserFactory(username="pooled-analyst")
    _, raw = ApiToken.issue(user=user, name="pool", days=1)
    application_name = f"tipgraph-pool-test-{os.getpid()}"
    env = server_environment(
        DATABASE_URL=database_url(application_name=application_name),
        TIPGRAPH_SECRET_KEY=SECRET,
        TIPGRAPH_WORKERS="1",
        TIPGRAPH_DB_POOL_MAX=str(POOL_MAX),
        TIPGRAPH_DB_POOL_TIMEOUT="20",
    )
    server = start_server(
        tmp_path, env, "-k", "backend.asgi_worker.AsgiWorker", "backend.asgi:application"
    )
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        with owner_cursor() as cursor:
            while not done.is_set():
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    [application_name],
                )
                samples.append(cursor.fetchone()[0])
                cursor.connection.commit()  # a fresh snapshot of pg_stat_activity
                time.sleep(0.01)

    query = {
        "query": "query Load { viewer { username } tips(first: 5) { totalCount } }",
    }
    headers = {"Authorization": f"Bearer {raw}"}

    def client(_: int) -> list[tuple[int, Any]]:
        answers = []
        stop = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < stop:
            status, _, body = request(server.url + "/graphql", data=query, headers=headers)
            answers.append((status, json.loads(body).get("errors")))
        return answers

    # The first request loads the schema (a couple of seconds): not part of the load.
    warm_up = request(server.url + "/graphql", data=query, headers=headers)
    assert warm_up[0] == 200, (warm_up, server.output())
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        # when
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = [a for batch in pool.map(client, range(CLIENTS)) for a in batch]
    finally:
        done.set()
        sampler.join()
        stop_server(server)

    # then
    failed = [a for a in answers if a != (200, None)]
    assert not failed, (failed[:3], server.output())
    assert len(answers) >= CLIENTS * 2
    assert samples and max(samples) >= 1
    assert max(samples) <= POOL_MAX, (max(samples), server.output())
    print(
        f"\nASGI: {len(answers)} requests from {CLIENTS} clients in {LOAD_SECONDS} s, "
        f"peak {max(samples)} database connections (pool {POOL_MAX})"
    )
