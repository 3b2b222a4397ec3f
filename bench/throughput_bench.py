"""Throughput benchmark: the audited traveller lookup against PostGraphile 4, under load.

    .venv/bin/python bench/throughput_bench.py --soak        # the documented run (about 6 min)
    .venv/bin/python bench/throughput_bench.py --duration 5  # quick look (about 2 min)

What it does, in order:

1. Data. Loads (once; --reload to start over) the generated data set of bench/lookup_bench.py
   into its database: with BENCH_DATABASE_URL unset an embedded PostgreSQL under
   ./var/bench-pgdata (shared with lookup_bench.py and intake_bench.py), else the database
   named in BENCH_DATABASE_URL (the application role; BENCH_DATABASE_OWNER_URL the owner's).
   N tips, 3N e-mail identifiers, N subjects. A present data set of at least N tips is reused.
2. Contenders, each on a free port of 127.0.0.1 over that one database, all started first
   (a server waits idle while another is measured):
   - tipgraph: production mode as `make serve` runs it: gunicorn -c python:backend.gunicorn_conf
     backend.wsgi:application (synchronous workers, one per core unless --workers; no
     TIPGRAPH_DEBUG, no DATABASE_OWNER_URL), connecting as the application role.
   - tipgraph-asgi: as `make serve-asgi`: the same on uvicorn workers with a psycopg pool of
     TIPGRAPH_DB_POOL_MAX connections per worker (--pool-max, default 10 as in the Makefile).
   - postgraphile: PostGraphile 4 (node_modules/.bin/postgraphile, pinned in package.json;
     `make install` installs it) over the same database as the same application role, schema
     public, as many cluster workers as gunicorn has, pool of 10 per worker, NODE_ENV=production,
     no query log, no GraphiQL.
   Every contender connects with its own application_name, so that its connections can be
   counted in pg_stat_activity.
3. The same lookup on each: an e-mail, and the tips that contain it (source reference and
   category). tipgraph answers travellerLookup(input: {email}) for an approved INVESTIGATOR's
   bearer token: authentication, the permission gate, the partner rule, the audit row, the
   lookup record, the disclosures and deconfliction, as in production; the e-mail is sent in
   another case and normalised by the server. Partner tools may run only trusted documents
   (when this tree has them): the benchmark loads them as `make serve` does (manage.py
   load_documents), registers its own, BenchTravellerLookup (that selection), in its database
   only, and sends it by hash as Apollo's persisted query (--document registered: the
   committed TravellerLookup document instead, with every field a partner tool asks for).
   PostGraphile answers allBackendIdentifiers(condition: {kind: EMAIL, canonical}) ->
   backendTipidentifiersByIdentifierId -> backendTipByTipId, the e-mail already normalised:
   it does no authentication, no authorisation, no audit and no disclosure record. Before the
   load, one e-mail is asked of every contender and their tips compared.
4. Load: wrk (Debian's package; `apt-get install -y wrk`) with a Lua script that POSTs the
   JSON bodies (200 e-mails drawn from the data set, cycled) with their headers, at 1, 4 and 16
   connections (--clients; threads = min(connections, 2)), each point --duration seconds
   (default 20; the 16-client point 60 s with --soak), after a --warmup run per contender (5 s
   at 4 connections, not counted; the workers load their schema). Closed loop: each connection
   sends its next request when the answer arrives. The points of one client count run one
   contender after the other, so that the ones compared see the same machine.
5. Measures per point: requests/s; p50 and p99 latency (wrk --latency); errors: socket errors
   (connect, read, write, timeout after --timeout s), non-2xx answers, 2xx answers with GraphQL
   "errors", and answers without the expected tip; server CPU per request: utime+stime (with
   the reaped children's) of the server's process tree (gunicorn master and workers; node and
   its cluster workers) from /proc before and after the point, over the requests; PostgreSQL
   CPU per request, the same over the postmaster and every process under it (backends,
   autovacuum, WAL writer..., read separately; only when the server runs on this machine);
   wrk's own CPU per request; the cores busy meanwhile with anything else (/proc/stat less
   all of those: another load on a shared machine, which disturbs the point); and the peak of
   the contender's connections in pg_stat_activity, sampled every 50 ms, against its bound
   (gunicorn: one per worker; ASGI: workers x pool max; PostGraphile: workers x 10).

It prints a table (contender x connections), the ratios tipgraph / PostGraphile, the targets
of issue 13 (audited lookup at 4 clients >= 250 requests/s, >= 1/4 of PostGraphile's, <= 6 ms
server CPU per request; 16 clients without an error and within the connection bound), and
writes everything as JSON with --json. Server logs go to a temporary folder (--keep-logs to
keep it); the gunicorn log is scanned for workers restarted during a point (gunicorn_conf
recycles a worker after about 2000 requests). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, progress, setup_environment
from bench.lookup_bench import bench_user, load

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POSTGRAPHILE = ROOT / "node_modules" / ".bin" / "postgraphile"
POSTGRAPHILE_POOL = 10
CONTENDERS = ("tipgraph", "tipgraph-asgi", "postgraphile")
LABELS = {
    "tipgraph": "tipgraph (gunicorn sync)",
    "tipgraph-asgi": "tipgraph (gunicorn uvicorn+pool)",
    "postgraphile": "PostGraphile 4",
}

#: The lookup tipgraph runs: the selection of PostGraphile's below. Registered in the benchmark's
#: database (only there) as a trusted document, as partner tools must send theirs.
BENCH_DOCUMENT = "BenchTravellerLookup"
TIPGRAPH_QUERY = (
    f"query {BENCH_DOCUMENT}($input: TravellerLookupInput!) "
    "{ travellerLookup(input: $input) { matchedOn tips { sourceReference category } } }"
)
#: --document registered: the committed partner document (schema/documents/), whole.
PARTNER_DOCUMENT = "TravellerLookup"
POSTGRAPHILE_QUERY = (
    'query Lookup($v: String!) { allBackendIdentifiers(condition: {kind: "EMAIL", canonical: $v})'
    " { nodes { value backendTipidentifiersByIdentifierId { nodes { backendTipByTipId"
    " { sourceReference category } } } } } }"
)

# wrk's script: the bodies are cycled, each thread from its own offset; response() counts the
# answers that are not a success; done() prints one JSON line that the benchmark reads.
WRK_SCRIPT = r"""
local bodies = {
%(bodies)s
}
local headers = {
%(headers)s
}
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  requests_ = {}
  for i, body in ipairs(bodies) do
    requests_[i] = wrk.format("POST", "%(path)s", headers, body)
  end
  next_ = ((tid or 1) * 37) %% #requests_
  non2xx = 0
  gql_errors = 0
  no_hit = 0
end

function request()
  next_ = next_ %% #requests_ + 1
  return requests_[next_]
end

function response(status, hdrs, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
  elseif not string.find(body, '%(expect)s', 1, true) then
    no_hit = no_hit + 1
  end
end

function done(summary, latency, requests)
  local n, g, h = 0, 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    g = g + t:get("gql_errors")
    h = h + t:get("no_hit")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, '
    .. '"write": %%d, "timeout": %%d, "status_ge_400": %%d, "non2xx": %%d, "gql_errors": %%d, '
    .. '"no_hit": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, '
    .. '"mean_us": %%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, n, g, h, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


@dataclass
class Point:
    contender: str
    clients: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    non2xx: int
    gql_errors: int
    no_hit: int
    server_cpu_ms: float
    postgres_cpu_ms: float | None
    wrk_cpu_ms: float
    #: cores busy meanwhile with anything else than the server, PostgreSQL and wrk: another
    #: load on a shared machine (a point with more than about 0.2 is disturbed)
    other_cores: float
    peak_connections: int
    connection_bound: int
    worker_restarts: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx + self.gql_errors + self.no_hit


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    application_name: str
    connection_bound: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


# --- processes and their CPU ------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks of the process and of its reaped children) from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(v) for v in rest[11:15])
    return ppid, utime + stime + cutime + cstime


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by ``root`` and every process under it (live ones, and the reaped
    ones through their parents' cutime/cstime)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))):
            parents[int(entry)], ticks[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all cores of this machine have been busy (/proc/stat: user, nice, system,
    irq, softirq, steal)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(fields[0:3]) + sum(fields[5:8])) / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database -----------------------------------------------------------------------------


def database_url(entry: dict[str, Any], name: str, application_name: str) -> str:
    """A postgresql:// URL for Django's connection settings ``entry`` (a Unix socket goes in
    ``?host=``, which libpq and node-postgres both read)."""
    query = {k: str(v) for k, v in entry["OPTIONS"].items() if isinstance(v, str | int)}
    query["application_name"] = application_name
    host, netloc = entry["HOST"] or "", ""
    if host.startswith("/"):
        query["host"] = host
        if entry["PORT"]:
            query["port"] = str(entry["PORT"])
    else:
        netloc = host + (f":{entry['PORT']}" if entry["PORT"] else "")
    user = quote(entry["USER"], safe="") + ":" + quote(entry["PASSWORD"] or "", safe="")
    return f"postgresql://{user}@{netloc}/{quote(name, safe='')}?{urlencode(query)}"


class ConnectionSampler:
    """Counts each contender's connections in pg_stat_activity every 50 ms (as the owner, in
    autocommit: every count is a fresh snapshot); finds the postmaster for its CPU."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        backend = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        stat = _stat(backend)  # None when PostgreSQL runs on another machine or container
        self.postmaster = stat[0] if stat else None
        self.peak = 0
        self._name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, application_name: str) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        ).fetchone()[0]

    def start(self, application_name: str) -> None:
        self._name, self.peak = application_name, 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return self.peak

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.count(self._name))
            time.sleep(0.05)

    def postgres_cpu(self) -> float | None:
        return tree_cpu_seconds(self.postmaster) if self.postmaster else None


# --- the servers ------------------------------------------------------------------------------


def server_environment(**extra: str) -> dict[str, str]:
    """This environment without any database or tipgraph setting (no TIPGRAPH_DEBUG: production
    mode; no DATABASE_OWNER_URL, as `make serve` leaves it out), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "TIPGRAPH_", "BENCH_", "NODE_ENV"))
    }
    env.update(extra)
    return env


def wait_until_up(server: Server, probe: urllib.request.Request, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"{server.name} exited ({server.process.returncode}):\n{server.output()}"
            )
        try:
            urllib.request.urlopen(probe, timeout=30).close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit(f"{server.name} did not answer within {seconds:.0f} s:\n{server.output()}")


def start_tipgraph(
    name: str,
    app_url: Callable[[str], str],
    workers: int,
    pool_max: int,
    log_dir: Path,
    static_root: Path,
) -> Server:
    """gunicorn as `make serve` (or `make serve-asgi`) starts it."""
    port = free_port()
    application_name = f"bench-{name}"
    env = server_environment(
        DATABASE_URL=app_url(application_name),
        TIPGRAPH_SECRET_KEY=os.environ["TIPGRAPH_SECRET_KEY"],
        TIPGRAPH_BIND=f"127.0.0.1:{port}",
        TIPGRAPH_WORKERS=str(workers),
        TIPGRAPH_STATIC_ROOT=str(static_root),
        DJANGO_SETTINGS_MODULE="backend.settings",
    )
    args = ["-c", "python:backend.gunicorn_conf"]
    if name == "tipgraph-asgi":
        env["TIPGRAPH_DB_POOL_MAX"] = str(pool_max)
        args += ["-k", "uvicorn_worker.UvicornWorker", "backend.asgi:application"]
        bound = workers * pool_max
    else:
        args += ["backend.wsgi:application"]
        bound = workers  # one persistent connection per synchronous worker
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", log, application_name, bound)
    wait_until_up(server, urllib.request.Request(server.url + "/healthz"))
    return server


def start_postgraphile(app_url: Callable[[str], str], workers: int, log_dir: Path) -> Server:
    port = free_port()
    application_name = "bench-postgraphile"
    args = [
        str(POSTGRAPHILE),
        "-c",
        app_url(application_name),
        "-s",
        "public",
        "-n",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    args += ["--max-pool-size", str(POSTGRAPHILE_POOL), "--disable-query-log", "--disable-graphiql"]
    if workers > 1:
        args += ["--cluster-workers", str(workers)]
    log = log_dir / "postgraphile.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=server_environment(NODE_ENV="production"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(
        "postgraphile",
        process,
        f"http://127.0.0.1:{port}",
        log,
        application_name,
        workers * POSTGRAPHILE_POOL,
    )
    probe = urllib.request.Request(
        server.url + "/graphql",
        data=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    wait_until_up(server, probe)
    return server


def stop_server(server: Server) -> None:
    """SIGTERM to the server's own process group (it was started in a session of its own)."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


# --- the lookup -------------------------------------------------------------------------------


def emails(tips: int, seed: int, count: int = 200) -> list[str]:
    """``count`` e-mails of the loaded data set (each on one tip), checked to be there."""
    from django.db import connection

    rng = random.Random(seed)
    values = [f"user{k}-1@example.com" for k in rng.sample(range(tips), min(count, tips))]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM backend_identifier WHERE kind = 'EMAIL' AND value = ANY(%s)",
            [values],
        )
        found = cursor.fetchone()[0]
    if found != len(values):
        raise SystemExit(f"only {found} of {len(values)} e-mails are in the data set: --reload")
    return values


@dataclass(frozen=True)
class Document:
    """What tipgraph is sent: an operation, by the hash of its registered text (Apollo's
    persisted query) when the server has trusted documents, else as text."""

    name: str
    text: str
    digest: str | None

    def body(self, variables: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"variables": variables, "operationName": self.name}
        if self.digest:
            out["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": self.digest}}
        else:
            out["query"] = self.text
        return out


def tipgraph_document(which: str) -> Document:
    """Register the documents as `make serve` does (manage.py load_documents), then the
    benchmark's own (the equivalent selection) beside them in this database; or take the
    committed partner document. Without trusted documents in this tree: the text itself."""
    from django.core.management import call_command, get_commands

    if "load_documents" not in get_commands():
        if which == "registered":
            raise SystemExit("--document registered: this tree has no trusted documents")
        return Document(BENCH_DOCUMENT, TIPGRAPH_QUERY, None)
    from django.conf import settings

    from backend.documents import document_hash, printed_document, read_documents
    from backend.models import TrustedDocument

    call_command("load_documents", stdout=io.StringIO())
    if which == "registered":
        for found in read_documents(settings.GRAPHQL_DOCUMENTS_DIR):
            if found.name == PARTNER_DOCUMENT:
                return Document(found.name, found.text, found.hash)
        raise SystemExit(f"no {PARTNER_DOCUMENT} document in {settings.GRAPHQL_DOCUMENTS_DIR}")
    text = printed_document(BENCH_DOCUMENT, TIPGRAPH_QUERY)
    digest = document_hash(text)
    TrustedDocument.objects.filter(name=BENCH_DOCUMENT).exclude(hash=digest).delete()
    TrustedDocument.objects.get_or_create(
        hash=digest, defaults={"name": BENCH_DOCUMENT, "document": text}
    )
    return Document(BENCH_DOCUMENT, text, digest)


def bodies(contender: str, values: list[str], document: Document) -> list[str]:
    if contender == "postgraphile":
        return [
            json.dumps(
                {"query": POSTGRAPHILE_QUERY, "variables": {"v": v}, "operationName": "Lookup"}
            )
            for v in values
        ]
    # tipgraph normalises: the e-mail is sent as a partner would type it.
    return [
        json.dumps(
            document.body(
                {"input": {"email": v.replace("user", "USER").replace("example", "Example")}}
            )
        )
        for v in values
    ]


def headers(contender: str, token: str) -> dict[str, str]:
    out = {"Content-Type": "application/json", "Accept": "application/json"}
    if contender != "postgraphile":
        out["Authorization"] = f"Bearer {token}"
    return out


def ask(server: Server, body: str, head: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(server.url + "/graphql", data=body.encode(), headers=head)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def tips_answered(contender: str, payload: dict[str, Any]) -> set[tuple[str, str]]:
    if payload.get("errors"):
        raise SystemExit(f"{contender} answered with errors: {payload['errors']}")
    if contender == "postgraphile":
        return {
            (t["backendTipByTipId"]["sourceReference"], t["backendTipByTipId"]["category"])
            for node in payload["data"]["allBackendIdentifiers"]["nodes"]
            for t in node["backendTipidentifiersByIdentifierId"]["nodes"]
        }
    found = payload["data"]["travellerLookup"]
    tips = found.get("tips") or [t for match in found["matches"] for t in match["tips"]]
    return {(t["sourceReference"], t["category"]) for t in tips}


# --- wrk --------------------------------------------------------------------------------------


def wrk_binary() -> str:
    if found := shutil.which("wrk"):
        return found
    raise SystemExit(
        "wrk is missing: install Debian's package (as root)\n"
        "    apt-get install -y wrk      (apt-get update first on a fresh machine)"
    )


def lua_string(text: str) -> str:
    level = "="
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def write_wrk_script(
    path: Path, contender: str, token: str, values: list[str], document: Document
) -> None:
    path.write_text(
        WRK_SCRIPT
        % {
            "bodies": ",\n".join(f"  {lua_string(b)}" for b in bodies(contender, values, document)),
            "headers": ",\n".join(
                f"  [ {lua_string(k)} ] = {lua_string(v)}"
                for k, v in headers(contender, token).items()
            ),
            "path": "/graphql",
            "expect": "BENCH-",
        }
    )


def run_wrk(
    script: Path, server: Server, clients: int, seconds: int, timeout: int, label: str | None
) -> tuple[dict[str, Any], float]:
    """One wrk run; its JSON summary and the CPU seconds wrk itself used."""
    threads = min(clients, 2)
    command = [wrk_binary(), "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s"]
    command += ["--timeout", f"{timeout}s", "--latency", "-s", str(script), server.url + "/graphql"]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        started = time.monotonic()
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                break
            if label:
                progress(label, min(int(time.monotonic() - started), seconds - 1), seconds)
            time.sleep(0.2)
        if label:
            progress(label, seconds, seconds)
        out.seek(0)
        text = out.read().decode(errors="replace")
    found = re.search(r"^WRKJSON (\{.*\})$", text, re.MULTILINE)
    if process.returncode != 0 or not found:
        raise SystemExit(f"wrk failed ({process.returncode}):\n{text}")
    return json.loads(found.group(1)), usage.ru_utime + usage.ru_stime


def worker_restarts(server: Server) -> int:
    if server.name == "postgraphile":
        return 0
    # gunicorn logs every worker it starts; past the first ones, each is a restart (a worker
    # recycled after max_requests, or one that died).
    return server.log.read_text(errors="replace").count("Booting worker")


def measure(
    server: Server,
    script: Path,
    clients: int,
    seconds: int,
    timeout: int,
    sampler: ConnectionSampler,
) -> Point:
    restarts = worker_restarts(server)
    busy_before, window = machine_busy_seconds(), time.monotonic()
    pg_before = sampler.postgres_cpu()
    cpu_before = tree_cpu_seconds(server.process.pid)
    sampler.start(server.application_name)
    label = f"{server.name} x{clients}"
    try:
        raw, wrk_cpu = run_wrk(script, server, clients, seconds, timeout, label)
    finally:
        peak = sampler.stop()
    cpu = tree_cpu_seconds(server.process.pid) - cpu_before
    pg_after = sampler.postgres_cpu()
    busy = machine_busy_seconds() - busy_before
    window = time.monotonic() - window
    requests = max(raw["requests"], 1)
    elapsed = raw["duration_us"] / 1e6
    pg = pg_after - pg_before if pg_before is not None and pg_after is not None else None
    return Point(
        contender=server.name,
        clients=clients,
        seconds=round(elapsed, 2),
        requests=raw["requests"],
        rps=raw["requests"] / elapsed,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        non2xx=raw["non2xx"],
        gql_errors=raw["gql_errors"],
        no_hit=raw["no_hit"],
        server_cpu_ms=cpu * 1000 / requests,
        postgres_cpu_ms=pg * 1000 / requests if pg is not None else None,
        wrk_cpu_ms=wrk_cpu * 1000 / requests,
        other_cores=max(0.0, busy - cpu - (pg or 0.0) - wrk_cpu) / window,
        peak_connections=peak,
        connection_bound=server.connection_bound,
        worker_restarts=worker_restarts(server) - restarts,
        raw=raw,
    )


# --- the report -------------------------------------------------------------------------------


def table(points: list[Point]) -> str:
    lines = [
        "| contender | clients | req/s | p50 ms | p99 ms | errors | server CPU ms/req "
        "| PostgreSQL CPU ms/req | wrk CPU ms/req | other load, cores | peak conns / bound "
        "| worker restarts |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        pg = f"{p.postgres_cpu_ms:.2f}" if p.postgres_cpu_ms is not None else "n/a"
        restarts = str(p.worker_restarts) if p.contender != "postgraphile" else "-"
        lines.append(
            f"| {LABELS[p.contender]} | {p.clients} | {p.rps:.1f} | {p.p50_ms:.1f} | {p.p99_ms:.1f}"
            f" | {p.errors} | {p.server_cpu_ms:.2f} | {pg} | {p.wrk_cpu_ms:.2f} | {p.other_cores:.2f}"
            f" | {p.peak_connections} / {p.connection_bound} | {restarts} |"
        )
    return "\n".join(lines)


def ratios(points: list[Point]) -> str:
    peer = {p.clients: p for p in points if p.contender == "postgraphile"}
    lines = [
        "| tipgraph / PostGraphile | clients | req/s | p50 | server CPU per request |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        if p.contender == "postgraphile" or p.clients not in peer:
            continue
        q = peer[p.clients]
        lines.append(
            f"| {LABELS[p.contender]} | {p.clients} | {p.rps / q.rps:.3f}"
            f" | {p.p50_ms / q.p50_ms:.1f}x | {p.server_cpu_ms / q.server_cpu_ms:.1f}x |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def targets(points: list[Point]) -> list[str]:
    """Issue 13's targets for the production server (gunicorn sync), met or not."""
    at = {(p.contender, p.clients): p for p in points}
    out = []
    four, peer = at.get(("tipgraph", 4)), at.get(("postgraphile", 4))
    if four:
        out.append(
            f"{'met ' if four.rps >= 250 else 'MISSED'} 4 clients >= 250 req/s: {four.rps:.1f}"
        )
        if peer:
            share = four.rps / peer.rps
            out.append(
                f"{'met ' if share >= 0.25 else 'MISSED'} 4 clients >= 1/4 of PostGraphile's "
                f"req/s: {share:.3f} ({four.rps:.1f} / {peer.rps:.1f})"
            )
        out.append(
            f"{'met ' if four.server_cpu_ms <= 6 else 'MISSED'} server CPU <= 6 ms/request at 4 "
            f"clients: {four.server_cpu_ms:.2f} ms"
        )
    for name in ("tipgraph", "tipgraph-asgi"):
        if sixteen := at.get((name, 16)):
            ok = sixteen.errors == 0 and sixteen.peak_connections <= sixteen.connection_bound
            out.append(
                f"{'met ' if ok else 'MISSED'} {LABELS[name]}, 16 clients for {sixteen.seconds:.0f} s:"
                f" {sixteen.errors} errors, peak {sixteen.peak_connections} connections"
                f" (bound {sixteen.connection_bound})"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=100_000, help="tips to load (default 100000)")
    parser.add_argument("--seed", type=int, default=11, help="data and e-mail seed (default 11)")
    parser.add_argument("--reload", action="store_true", help="regenerate the data set")
    parser.add_argument(
        "--duration", type=int, default=20, help="seconds per measured point (default 20)"
    )
    parser.add_argument(
        "--soak", action="store_true", help="run the 16-client point for 60 s (issue 13's soak)"
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="seconds of unmeasured load first (default 5)"
    )
    parser.add_argument(
        "--clients",
        default="1,4,16",
        help="connections per point, comma-separated (default 1,4,16; threads = min(c, 2))",
    )
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"which servers, comma-separated, run in this order (default {','.join(CONTENDERS)})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes of every server (default: one per core, as backend.gunicorn_conf)",
    )
    parser.add_argument(
        "--pool-max",
        type=int,
        default=int(os.environ.get("TIPGRAPH_DB_POOL_MAX") or 10),
        help="TIPGRAPH_DB_POOL_MAX of tipgraph-asgi (default 10, as make serve-asgi)",
    )
    parser.add_argument(
        "--timeout", type=int, default=10, help="wrk's per-request timeout in s (default 10)"
    )
    parser.add_argument(
        "--document",
        choices=("equivalent", "registered"),
        default="equivalent",
        help="what tipgraph is sent: the selection equivalent to PostGraphile's, registered "
        f"for the benchmark as {BENCH_DOCUMENT} (default), or the committed partner document "
        f"{PARTNER_DOCUMENT} (schema/documents/) with every field a partner tool asks for",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the servers' logs (path printed)"
    )
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    if unknown := set(contenders) - set(CONTENDERS):
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {CONTENDERS}")
    wrk_binary()
    if "postgraphile" in contenders and not POSTGRAPHILE.exists():
        raise SystemExit("PostGraphile is missing: run `make install` (npm ci) first")
    workers = args.workers or len(os.sched_getaffinity(0))

    setup_environment("bench-pgdata")
    load(args.tips, args.seed, force=args.reload)
    from django.conf import settings
    from django.db import connection

    from backend.models import Tip

    loaded = Tip.objects.count()
    _, token = bench_user()
    values = emails(args.tips, args.seed)
    document = tipgraph_document(args.document)
    name = connection.settings_dict["NAME"]
    app_url = functools.partial(database_url, settings.DATABASE_APPLICATION, name)
    sampler = ConnectionSampler(database_url(settings.DATABASE_OWNER, name, "bench-sampler"))
    connection.close()

    log_dir = Path(tempfile.mkdtemp(prefix="throughput-bench-"))
    static_root = log_dir / "static"
    static_root.mkdir()
    points: list[Point] = []
    answers: dict[str, set[tuple[str, str]]] = {}
    started = time.monotonic()
    servers: dict[str, Server] = {}
    scripts: dict[str, Path] = {}
    try:
        # Every server is up (idle) during every point; the points of one client count run one
        # contender after the other, so that they see the same machine.
        for contender in contenders:
            sys.stderr.write(f"starting {LABELS[contender]} ({workers} workers)\n")
            if contender == "postgraphile":
                servers[contender] = start_postgraphile(app_url, workers, log_dir)
            else:
                servers[contender] = start_tipgraph(
                    contender, app_url, workers, args.pool_max, log_dir, static_root
                )
            first = bodies(contender, values[:1], document)[0]
            answers[contender] = tips_answered(
                contender, ask(servers[contender], first, headers(contender, token))
            )
            scripts[contender] = log_dir / f"{contender}.lua"
            write_wrk_script(scripts[contender], contender, token, values, document)
            run_wrk(
                scripts[contender],
                servers[contender],
                4,
                args.warmup,
                args.timeout,
                f"{contender} warm-up",
            )
        for c in clients:
            seconds = 60 if args.soak and c == 16 else args.duration
            for contender in contenders:
                server = servers[contender]
                points.append(
                    measure(server, scripts[contender], c, seconds, args.timeout, sampler)
                )
    finally:
        for server in servers.values():
            stop_server(server)
        if not args.keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)

    print(
        f"\nthroughput of one e-mail lookup: {loaded} tips / {3 * args.tips} identifiers loaded, "
        f"{len(values)} e-mails cycled, {workers} workers per server, {os.cpu_count()} cores, "
        f"{time.monotonic() - started:.0f} s"
    )
    distinct = {frozenset(v) for v in answers.values()}
    if len(distinct) > 1:
        print(f"WARNING: the contenders found different tips for {values[0]}: {answers}")
    else:
        print(f"same answer from every contender for {values[0]}: {sorted(next(iter(distinct)))}")
    print()
    print(table(points))
    if text := ratios(points):
        print()
        print(text)
    print()
    for line in targets(points):
        print(line)
    if args.keep_logs:
        print(f"\nserver logs: {log_dir}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "tips": loaded,
                    "workers": workers,
                    "cores": os.cpu_count(),
                    "points": [asdict(p) | {"errors": p.errors} for p in points],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
