"""Live alerts over WebSocket, end to end (``schema.subscriptions``): two ASGI servers (uvicorn
workers, as ``make serve-asgi`` runs them) against the test database, a real
graphql-transport-ws client (``gql``), and an analyst writing over HTTP.

- a partner who looked a suspect's e-mail up subscribes on each server; an analyst records a
  tip holding that e-mail through the first server: both subscriptions receive the alert
  (the second server learns of it through PostgreSQL LISTEN/NOTIFY), and every delivery and
  every subscribe operation has its audit row;
- no token: the socket is closed with 4403; a role that may not subscribe: the subscription
  ends with FORBIDDEN, audited DENIED; a query on the socket: SUBSCRIPTIONS_ONLY;
- once the partner's disclosure is older than the reopening window, a new tip alerts nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL as GRAPHQL_TRANSPORT_WS

from audit.models import AuditEvent
from backend import models as m
from backend.services.lookups import LookupCriteria, traveller_lookup
from tests.backend.test_serving import (
    SECRET,
    Server,
    database_url,
    server_environment,
    start_server,
    stop_server,
)
from tests.backend.test_serving import (
    request as http_request,
)
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SourceFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
LIVE_ALERTS = (ROOT / "schema" / "documents" / "LiveAlerts.graphql").read_text()
EMAIL = "mallory@example.com"
CREATE_TIP = """
mutation CreateTip($input: CreateTipInput!) {
  createTip(input: $input) { tip { id sourceReference } errors { code field message } }
}
"""


APPLICATION_NAME = "tipgraph-subscriptions-test"
#: Redis for the channel layer's second backend (``TIPGRAPH_REDIS_URL``); the CI machines
#: run one. Its own database number, flushed by nobody: keys expire.
REDIS_URL = os.environ.get("TIPGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def _servers(tmp_path: Path, **extra: str) -> Iterator[tuple[Server, Server]]:
    env = server_environment(
        DATABASE_URL=database_url(application_name=APPLICATION_NAME),
        TIPGRAPH_SECRET_KEY=SECRET,
        TIPGRAPH_WORKERS="1",
        TIPGRAPH_DB_POOL_MAX="4",
        **extra,
    )
    args = ("-k", "backend.asgi_worker.AsgiWorker", "backend.asgi:application")
    first = start_server(tmp_path, env, *args)
    try:
        second = start_server(tmp_path, env, *args)
    except BaseException:
        stop_server(first)
        raise
    yield first, second
    stop_server(first)
    stop_server(second)
    _wait_until_disconnected(APPLICATION_NAME)


def _wait_until_disconnected(application_name: str, timeout: float = 15) -> None:
    """Wait until PostgreSQL has seen the servers' connections close, so that the test
    database can be dropped at the end of the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [application_name],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.2)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two servers whose channel layer is PostgreSQL LISTEN/NOTIFY (the default)."""
    yield from _servers(tmp_path)


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two servers whose channel layer is Redis."""
    yield from _servers(tmp_path, TIPGRAPH_REDIS_URL=REDIS_URL)


def _ws(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


def _client(server: Server, token: str | None) -> Client:
    transport = WebsocketsTransport(
        url=_ws(server),
        init_payload={"authorization": f"Bearer {token}"} if token else {},
        subprotocols=[GRAPHQL_TRANSPORT_WS],
        ack_timeout=10,
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


class Partner:
    """A suspect with an e-mail, named in a tip; a partner looked the e-mail up."""

    def __init__(self) -> None:
        call_command("load_documents", verbosity=0)
        self.email = IdentifierFactory(raw_value=EMAIL)
        self.suspect = SubjectFactory(full_name="Mallory Suspect")
        self.suspect.identifier_links.create(identifier=self.email)
        tip = TipFactory(source_reference="OLD-1")
        SightingFactory(tip=tip, identifier=self.email)
        TipSubjectFactory(tip=tip, subject=self.suspect)
        self.user = UserFactory(username="pat", role=m.Role.INVESTIGATOR, agency="CBP")
        traveller_lookup(by=self.user, criteria=LookupCriteria(email=EMAIL))
        _, self.token = m.ApiToken.issue(user=self.user, name="targeting", days=1)
        self.analyst = UserFactory(username="ann", role=m.Role.ANALYST)
        _, self.analyst_token = m.ApiToken.issue(user=self.analyst, name="desk", days=1)
        self.source = SourceFactory()


def _create_tip(server: Server, partner: Partner, reference: str) -> str:
    status, _, body = http_request(
        server.url + "/graphql",
        data={
            "query": CREATE_TIP,
            "variables": {
                "input": {
                    "sourceId": _global_id("Source", partner.source.pk),
                    "sourceReference": reference,
                    "receivedAt": "2026-03-02T08:00:00Z",
                    "category": "OTHER",
                    "identifiers": [{"identifier": {"kind": "EMAIL", "value": EMAIL}}],
                }
            },
        },
        headers={"Authorization": f"Bearer {partner.analyst_token}"},
    )
    answer = json.loads(body)
    assert status == 200 and not answer.get("errors"), answer
    assert answer["data"]["createTip"]["errors"] == [], answer
    return answer["data"]["createTip"]["tip"]["id"]


def _global_id(type_name: str, pk: int) -> str:
    from strawberry.relay import to_base64

    return to_base64(type_name, pk)


async def _first_alerts(
    subscriptions: list[Client], then: Any, timeout: float = 20
) -> list[dict[str, Any]]:
    """Open every subscription, run ``then`` (in a thread), and return each one's first alert."""
    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(client) for client in subscriptions]
        iterators = [
            s.subscribe(gql(LIVE_ALERTS), get_execution_result=True).__aiter__() for s in sessions
        ]
        firsts = [asyncio.ensure_future(it.__anext__()) for it in iterators]
        await asyncio.sleep(1.0)  # every subscription has joined its group
        await asyncio.to_thread(then)
        done = await asyncio.wait_for(asyncio.gather(*firsts), timeout)
        for it in iterators:
            await it.aclose()
        return [{**item.data["alerts"], "_extensions": item.extensions} for item in done]


def _wait_for_rows(
    condition: dict[str, Any],
    until: Callable[[list[AuditEvent]], bool] = bool,
    timeout: float = 10,
) -> list[AuditEvent]:
    """The audit rows matching ``condition`` once ``until`` holds of them (or the timeout):
    the servers write some rows after the client has moved on."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(AuditEvent.objects.filter(**condition).order_by("seq"))
        if until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


@pytest.mark.parametrize("layer", ["servers", "redis_servers"])
def test_a_partner_is_alerted_live_on_both_servers_and_each_delivery_is_audited(
    layer: str, request: pytest.FixtureRequest
) -> None:
    first, second = request.getfixturevalue(layer)
    partner = Partner()

    # when the partner subscribes on both servers and an analyst records, through the first,
    # a tip holding the e-mail the partner looked up
    created: list[str] = []
    alerts = asyncio.run(
        _first_alerts(
            [_client(first, partner.token), _client(second, partner.token)],
            lambda: created.append(_create_tip(first, partner, "NEW-1")),
        )
    )

    # then both subscriptions receive the same alert, naming the new tip
    assert [a["kind"] for a in alerts] == ["LINKED_TIP", "LINKED_TIP"]
    assert alerts[0]["id"] == alerts[1]["id"]
    assert [a["tip"]["id"] for a in alerts] == created * 2
    assert alerts[0]["tip"]["sourceReference"] == "NEW-1"
    # with the no-redissemination rule, as every answer to a partner
    assert all("may not be passed on" in a["_extensions"]["dissemination"] for a in alerts)
    [row] = m.Alert.objects.filter(recipient=partner.user)
    # and each delivery left an audit row naming the alert and the tip, before it was sent;
    # each subscribe operation one more when it ended
    deliveries = _wait_for_rows(
        {"operation_type": "subscription", "outcome": "ALLOWED", "username": "pat"}
    )
    named = [r for r in deliveries if f"Alert:{row.pk}" in r.records_returned]
    assert len(named) == 2, [(r.records_returned, r.variables) for r in deliveries]
    tip_pk = m.Tip.objects.get(source_reference="NEW-1").pk
    assert all(f"Tip:{tip_pk}" in r.records_returned for r in named)
    assert all(r.operation_name == "LiveAlerts" for r in deliveries)
    ended = _wait_for_rows(
        {"operation_type": "subscription", "username": "pat"},
        until=lambda rows: len([r for r in rows if r.variables.get("_delivered") == 1]) == 2,
    )
    assert [r.outcome for r in ended if "_delivered" in r.variables] == ["ALLOWED"] * 2
    call_command("verify_audit_log", verbosity=0)


def test_no_token_closes_the_socket_with_4403(servers: tuple[Server, Server]) -> None:
    async def connect() -> None:
        async with _client(servers[0], "tg_not-a-token") as session:
            await session.execute(gql(LIVE_ALERTS))

    with pytest.raises(TransportConnectionFailed) as refused:
        asyncio.run(connect())
    assert refused.value.__cause__ is not None
    assert refused.value.__cause__.rcvd.code == 4403  # type: ignore[attr-defined]
    [row] = _wait_for_rows({"outcome": "DENIED", "error_codes__contains": ["UNAUTHENTICATED"]})
    assert row.auth_method == "token"


#: A partner's subscription that is not the registered document.
UNREGISTERED = "subscription Mine { alerts { id message } }"


@pytest.mark.parametrize(
    ("role", "document", "code"),
    [
        (m.Role.REPORTING_CLIENT, LIVE_ALERTS, "FORBIDDEN"),
        (m.Role.AUDITOR, LIVE_ALERTS, "FORBIDDEN"),
        (m.Role.INVESTIGATOR, UNREGISTERED, "DOCUMENT_NOT_TRUSTED"),
    ],
)
def test_a_subscription_the_caller_may_not_run_is_refused_with_a_code(
    servers: tuple[Server, Server], role: str, document: str, code: str
) -> None:
    call_command("load_documents", verbosity=0)
    user = UserFactory(username="someone", role=role)
    _, token = m.ApiToken.issue(user=user, name="t", days=1)

    async def subscribe() -> None:
        async with _client(servers[0], token) as session:
            async for _ in session.subscribe(gql(document)):
                pass

    with pytest.raises(TransportQueryError) as refused:
        asyncio.run(subscribe())
    codes = [e.get("extensions", {}).get("code") for e in refused.value.errors or []]
    assert codes == [code]
    rows = _wait_for_rows({"username": "someone", "operation_type": "subscription"})
    assert rows and all(r.outcome == "DENIED" for r in rows)


def test_a_query_on_the_socket_is_refused(servers: tuple[Server, Server]) -> None:
    analyst = UserFactory(username="ann", role=m.Role.ANALYST)
    _, token = m.ApiToken.issue(user=analyst, name="t", days=1)

    async def query() -> None:
        async with _client(servers[0], token) as session:
            await session.execute(gql("query { viewer { username } }"))

    with pytest.raises(TransportQueryError) as refused:
        asyncio.run(query())
    codes = [e.get("extensions", {}).get("code") for e in refused.value.errors or []]
    assert codes == ["SUBSCRIPTIONS_ONLY"]


def test_an_expired_disclosure_stops_live_alerts(
    servers: tuple[Server, Server], settings: Any
) -> None:
    first, _ = servers
    partner = Partner()
    m.Disclosure.objects.filter(user=partner.user).update(
        created_at=timezone.now() - dt.timedelta(days=settings.DISCLOSURE_REOPEN_DAYS + 1)
    )

    with pytest.raises(TimeoutError):
        asyncio.run(
            _first_alerts(
                [_client(first, partner.token)],
                lambda: _create_tip(first, partner, "LATE-1"),
                timeout=5,
            )
        )
    assert not m.Alert.objects.filter(recipient=partner.user).exists()


def test_a_token_revoked_while_subscribed_ends_the_subscription_with_its_code(
    servers: tuple[Server, Server],
) -> None:
    first, _ = servers
    partner = Partner()

    def revoke_then_write() -> None:
        m.ApiToken.objects.filter(user=partner.user).update(revoked_at=timezone.now())
        _create_tip(first, partner, "AFTER-REVOKE")

    with pytest.raises(TransportQueryError) as ended:
        asyncio.run(_first_alerts([_client(first, partner.token)], revoke_then_write))
    codes = [e.get("extensions", {}).get("code") for e in ended.value.errors or []]
    assert codes == ["UNAUTHENTICATED"]
    # the alert row is kept for the alerts query, but nothing of it was sent or audited as sent
    [alert] = m.Alert.objects.filter(recipient=partner.user)
    rows = _wait_for_rows({"username": "pat", "operation_type": "subscription"})
    assert all(f"Alert:{alert.pk}" not in r.records_returned for r in rows)
    assert any(r.outcome == "DENIED" and r.error_codes == ["UNAUTHENTICATED"] for r in rows)


def test_a_websocket_message_larger_than_a_request_may_be_closes_the_socket(
    servers: tuple[Server, Server],
) -> None:
    # given the largest request body the HTTP door accepts
    from django.conf import settings
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    async def send(size: int) -> tuple[str, int | None]:
        async with connect(_ws(servers[0]), subprotocols=["graphql-transport-ws"]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"x": "a" * size}}))
            try:
                answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
                return answer["type"], None
            except ConnectionClosed as closed:
                return "closed", closed.rcvd.code if closed.rcvd else None

    # when a client sends a message just under it, then one over it
    under = asyncio.run(send(limit - 1000))
    over = asyncio.run(send(limit + 1000))
    # then the first is read (no token in it: 4403), the second refused unread (1009)
    assert under == ("closed", 4403)
    assert over == ("closed", 1009)
