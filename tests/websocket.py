"""Subscribing in-process, over the real consumer and channel layer (``backend.asgi``), with
an ASGI communicator: for tests that need a subscription's first answer, not a
server. Callers need committed rows (``django_db(transaction=True)``): the consumer reads
the database from threads of its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.db import connections

from backend.models import ApiToken, User

#: How long a subscription the server accepted is given to say anything at all.
QUIET_SECONDS = 0.5


class _Socket:
    """A WebSocket client speaking ASGI to the application directly (what channels'
    ``WebsocketCommunicator`` does, without the test server package it imports)."""

    def __init__(self, application: Any, path: str, subprotocols: list[str]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "subprotocols": subprotocols,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.communicator = ApplicationCommunicator(application, scope)

    async def connect(self) -> bool:
        await self.communicator.send_input({"type": "websocket.connect"})
        answer = await self.communicator.receive_output(10)
        return answer["type"] == "websocket.accept"

    async def send(self, message: dict[str, Any]) -> None:
        await self.communicator.send_input(
            {"type": "websocket.receive", "text": json.dumps(message)}
        )

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        answer = await self.communicator.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def disconnect(self) -> None:
        await self.communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.communicator.wait(10)


@asynccontextmanager
async def _subscribed(token: str, query: str) -> AsyncIterator[_Socket]:
    """A socket signed in with ``token`` and subscribed to ``query`` (id "1"); on leaving, it
    is disconnected and what the consumer opened (in this event loop and in its database
    thread) is closed."""
    from backend.asgi import application

    socket = _Socket(application, "/graphql", ["graphql-transport-ws"])
    assert await socket.connect()
    try:
        await socket.send(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        )
        ack = await socket.receive()
        assert ack["type"] == "connection_ack", ack
        await socket.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
        yield socket
    finally:
        await socket.disconnect()
        await get_channel_layer().close()
        await sync_to_async(connections.close_all)()


async def _first_answer(token: str, query: str) -> dict[str, Any] | None:
    async with _subscribed(token, query) as socket:
        if await socket.communicator.receive_nothing(timeout=QUIET_SECONDS):
            await socket.send({"id": "1", "type": "complete"})
            return None  # accepted: waiting for alerts
        return await socket.receive()


def first_answer(user: User, query: str) -> dict[str, Any] | None:
    """Subscribe as ``user`` (with a fresh bearer token) and return the server's first message
    for the subscription, or None when it accepted it and is waiting for events."""
    _, token = ApiToken.issue(user=user, name="websocket test", days=1)
    return asyncio.run(_first_answer(token, query))


def error_codes(answer: dict[str, Any] | None) -> list[str]:
    """The ``extensions.code`` of each error of a subscription's answer."""
    if answer is None:
        return []
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"].get("errors")
    return [e.get("extensions", {}).get("code") for e in errors or []]


async def _events(
    token: str, query: str, action: Callable[[], Any], count: int, timeout: float
) -> list[dict[str, Any]]:
    async with _subscribed(token, query) as socket:
        assert await socket.communicator.receive_nothing(timeout=QUIET_SECONDS)
        await asyncio.to_thread(action)
        events = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(events) < count:
            left = deadline - asyncio.get_running_loop().time()
            # receive_output's own timeout would cancel the application: wait without it
            if left <= 0 or await socket.communicator.receive_nothing(timeout=left):
                break
            events.append(await socket.receive())
        await socket.send({"id": "1", "type": "complete"})
        return events


def events_after(
    user: User, query: str, action: Callable[[], Any], *, count: int = 1, timeout: float = 5
) -> list[dict[str, Any]]:
    """Subscribe as ``user``, run ``action`` (in a thread of its own, committing its writes),
    and return up to ``count`` messages the subscription sends within ``timeout`` seconds."""
    _, token = ApiToken.issue(user=user, name="websocket test", days=1)
    return asyncio.run(_events(token, query, action, count, timeout))
