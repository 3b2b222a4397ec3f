"""Several server processes against one database: no lost link, no deadlock, an intact audit
chain (backend.services.clusters describes the locks).

Two gunicorn servers (two workers each, as ``make serve`` runs them) against the test
database; eight client threads send createTip mutations through both at once, as an analyst
with a bearer token, while a bulk import (``manage.py import_tips``, small batches) runs in
this process. The tips share identifiers in overlapping groups (and some share subjects), each
carries its identifiers in a random order, and a few tips bridge two groups, so clusters merge
while other tips join them. Afterwards:

- no request failed (no deadlock or serialization error reached a client);
- the links are exactly the pairs of tips sharing an identifier or a subject, both ways,
  computed here from the inputs, and the clusters are exactly their connected components;
- the audit chain verifies (``manage.py verify_audit_log``), with one audit row per request.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from strawberry.relay import to_base64

from audit.models import AuditEvent
from backend.models import ApiToken, Cluster, Tip, TipLink
from tests.backend.test_serving import (
    SECRET,
    Server,
    database_url,
    request,
    server_environment,
    start_server,
    stop_server,
)
from tests.factories import SourceFactory, SubjectFactory, UserFactory

CLIENTS = 8
SEED = 13
RECEIVED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CREATE_TIP = """
mutation CreateTip($input: CreateTipInput!) {
  createTip(input: $input) { tip { id } errors { code field message } }
}
"""

# Five groups of identifiers. Tips of a group share its identifiers; bridging tips join groups
# 0 and 1, and 2 and 3; group 4 stays apart. Every tip also has an address of its own.
GROUPS = [
    [f"g{g}-{n}@example.com" for n in range(3)] + [f"+1202555{g}{n:03d}" for n in range(2)]
    for g in range(5)
]
BRIDGES = [(0, 1), (2, 3)]
SUBJECT_DOBS = [date(1970, 1, 1), date(1971, 2, 2), date(1972, 3, 3)]


def _kind(value: str) -> str:
    return "EMAIL" if "@" in value else "PHONE"


def _plan(rng: random.Random) -> list[dict[str, Any]]:
    """The tips sent over HTTP: reference, identifiers (normalised values), subject indexes."""
    tips = []
    for n in range(48):
        group = n % 5
        values = rng.sample(GROUPS[group], rng.choice([1, 1, 2]))
        if n % 8 == 3:  # a bridge: one identifier of each group of a pair
            a, b = BRIDGES[n % 2]
            values = [rng.choice(GROUPS[a]), rng.choice(GROUPS[b])]
        if n % 11 == 0:  # an unlinked tip: only its own address
            values = []
        values.append(f"own-{n}@example.com")
        rng.shuffle(values)
        # groups 0 and 1 name subject 0, groups 2 and 3 subject 1, group 4 subject 2
        subjects = [min(group // 2, 2)] if n % 6 == 1 else []
        tips.append({"reference": f"HTTP-{n:03d}", "values": values, "subjects": subjects})
    # tips linked by a subject alone, sent first and all at once
    for n in range(48, 48 + CLIENTS):
        values = [f"own-{n}@example.com"]
        tips.append({"reference": f"HTTP-{n:03d}", "values": values, "subjects": [n % 2]})
    return tips


def _import_rows(rng: random.Random) -> list[dict[str, Any]]:
    """The tips of the imported file: each with an e-mail of group 4 or 0 and a phone of the
    same group; some of group 4 name subject 2 (matched on its name and date of birth)."""
    rows = []
    for n in range(12):
        group = 4 if n % 2 else 0
        emails = [v for v in GROUPS[group] if "@" in v]
        phones = [v for v in GROUPS[group] if "@" not in v]
        rows.append(
            {
                "reference": f"FILE-{n:03d}",
                "values": [rng.choice(emails), rng.choice(phones)],
                "subjects": [2] if group == 4 and n % 3 == 0 else [],
            }
        )
    return rows


def _csv(rows: list[dict[str, Any]], subject_name: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "source_reference",
            "received_at",
            "category",
            "email",
            "phone",
            "subject_name",
            "subject_dob",
        ]
    )
    for n, row in enumerate(rows):
        email, phone = row["values"]
        named = bool(row["subjects"])
        writer.writerow(
            [
                row["reference"],
                (RECEIVED + timedelta(minutes=n)).isoformat(),
                "DISTRIBUTION",
                email.upper(),  # written differently: normalised to the same identifier
                phone,
                subject_name if named else "",
                SUBJECT_DOBS[2].isoformat() if named else "",
            ]
        )
    return out.getvalue()


def _expected(tips: dict[int, dict[str, Any]]) -> tuple[set[tuple[int, int]], set[frozenset]]:
    """Every pair of tips sharing an identifier or a subject (lower id first, as a link is
    stored), and the connected components: from the inputs, independently of the platform's
    code."""
    carriers: dict[Any, set[int]] = {}
    for pk, tip in tips.items():
        for value in tip["values"]:
            carriers.setdefault(("identifier", value), set()).add(pk)
        for subject in tip["subjects"]:
            carriers.setdefault(("subject", subject), set()).add(pk)
    pairs = {
        (a, b)
        for members in carriers.values()
        for a, b in itertools.combinations(sorted(members), 2)
    }
    parent = {pk: pk for pk in tips}

    def root(pk: int) -> int:
        while parent[pk] != pk:
            pk = parent[pk]
        return pk

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, set[int]] = {}
    for pk in tips:
        groups.setdefault(root(pk), set()).add(pk)
    return pairs, {frozenset(g) for g in groups.values()}


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[Server]]:
    env = server_environment(
        DATABASE_URL=database_url(application_name="tipgraph-two-servers-test"),
        TIPGRAPH_SECRET_KEY=SECRET,
        TIPGRAPH_WORKERS="2",
    )
    with ThreadPoolExecutor(2) as pool:  # both start at once (a few seconds each)
        starts = [
            pool.submit(start_server, tmp_path, env, "backend.wsgi:application") for _ in range(2)
        ]
    servers = [s.result() for s in starts if s.exception() is None]
    try:
        for s in starts:
            s.result()  # raises if a server did not start
        yield servers
    finally:
        for server in servers:
            stop_server(server)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_through_two_servers_and_an_import(
    two_servers: list[Server], tmp_path: Path
) -> None:
    # given an analyst with a bearer token, a source, three subjects and the planned tips
    rng = random.Random(SEED)
    user = UserFactory(username="two-servers-analyst")
    _, raw = ApiToken.issue(user=user, name="two servers", days=1)
    source = SourceFactory(name="Two servers")
    subjects = [
        SubjectFactory(full_name=f"Shared Person {n}", date_of_birth=d)
        for n, d in enumerate(SUBJECT_DOBS)
    ]
    planned = _plan(rng)
    rows = _import_rows(rng)
    upload = tmp_path / "tips.csv"
    upload.write_text(_csv(rows, subjects[2].full_name))
    file_source = SourceFactory(name="Two servers file")
    headers = {"Authorization": f"Bearer {raw}"}
    work = list(enumerate(planned))  # taken from the end
    start = threading.Barrier(CLIENTS + 1, timeout=60)
    lock = threading.Lock()
    answers: list[tuple[str, int, Any]] = []

    def client(index: int) -> None:
        start.wait()
        while True:
            with lock:
                if not work:
                    return
                n, tip = work.pop()
            server = two_servers[n % 2]
            variables = {
                "input": {
                    "sourceId": to_base64("Source", source.pk),
                    "sourceReference": tip["reference"],
                    "receivedAt": (RECEIVED + timedelta(minutes=n)).isoformat(),
                    "category": "POSSESSION",
                    "identifiers": [
                        {"identifier": {"kind": _kind(v), "value": v}} for v in tip["values"]
                    ],
                    "subjects": [
                        {"subjectId": to_base64("Subject", subjects[s].pk)} for s in tip["subjects"]
                    ],
                }
            }
            status, _, body = request(
                server.url + "/graphql",
                data={"query": CREATE_TIP, "variables": variables},
                headers=headers,
            )
            answers.append((tip["reference"], status, json.loads(body)))

    def import_file() -> None:
        try:
            start.wait()
            out = io.StringIO()
            call_command(
                "import_tips", str(upload), source_id=file_source.pk, batch_size=3, stdout=out
            )
            answers.append(("import", 0, out.getvalue()))
        finally:
            connection.close()

    # (each worker loads the schema on its first request: not while the clients race)
    with ThreadPoolExecutor(8) as pool:
        warm = list(
            pool.map(
                lambda n: request(
                    two_servers[n % 2].url + "/graphql",
                    data={"query": "query Warm { viewer { username } }"},
                    headers=headers,
                ),
                range(8),
            )
        )
    assert {status for status, _, _ in warm} == {200}

    # when the clients and the import run at once
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        futures = [pool.submit(client, i) for i in range(CLIENTS)]
        futures.append(pool.submit(import_file))
        began = time.monotonic()
        for future in futures:
            future.result(timeout=120)
    print(f"\n{len(planned)} createTip through 2 servers and a 12-tip import: "
          f"{time.monotonic() - began:.1f} s")  # fmt: skip

    # then no request failed
    failed = [
        a
        for a in answers
        if a[0] != "import"
        and (a[1] != 200 or a[2].get("errors") or a[2]["data"]["createTip"]["errors"])
    ]
    assert not failed, (failed[:3], [s.output() for s in two_servers])
    assert len(answers) == len(planned) + 1
    imported = next(a[2] for a in answers if a[0] == "import")
    assert "new 12, updated 0, unchanged 0, rejected 0" in imported, imported

    # and every expected link exists, and no other
    by_reference = dict(
        Tip.objects.filter(source__in=[source, file_source]).values_list("source_reference", "pk")
    )
    assert len(by_reference) == len(planned) + len(rows)
    inputs = {by_reference[t["reference"]]: t for t in [*planned, *rows]}
    expected_pairs, expected_clusters = _expected(inputs)
    linked = set(
        TipLink.objects.filter(removed_at__isnull=True).values_list("from_tip_id", "to_tip_id")
    )
    missing, unexpected = expected_pairs - linked, linked - expected_pairs
    assert not missing and not unexpected, (sorted(missing)[:5], sorted(unexpected)[:5])
    # and the clusters are the connected components, with their sizes
    clusters: dict[int, set[int]] = {}
    for pk, cluster_id in Tip.objects.values_list("pk", "cluster_id"):
        assert cluster_id is not None, pk
        clusters.setdefault(cluster_id, set()).add(pk)
    assert {frozenset(c) for c in clusters.values()} == expected_clusters
    assert dict(Cluster.objects.values_list("pk", "size")) == {
        pk: len(members) for pk, members in clusters.items()
    }
    assert sum(1 for c in expected_clusters if len(c) > 1) >= 3  # the test is not trivial

    # and the audit chain verifies, with one row per request
    rows_of_requests = AuditEvent.objects.filter(operation_name="CreateTip")
    assert rows_of_requests.count() == len(planned)
    assert set(rows_of_requests.values_list("outcome", flat=True)) == {"ALLOWED"}
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    assert "audit log OK" in out.getvalue()
