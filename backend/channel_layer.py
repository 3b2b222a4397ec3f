"""A Channels channel layer over PostgreSQL LISTEN/NOTIFY: live alerts across server processes
with nothing extra to run.

Every server process that has a subscriber listens on one PostgreSQL notification channel
(``NOTIFY_CHANNEL``) with one connection of its own per event loop; ``send`` and
``group_send`` are one ``NOTIFY`` each, which PostgreSQL delivers to every listening process,
and each process hands the message to the consumers of its own that joined the group (or own
the channel). Group membership therefore never leaves the process: a group's members are the
union, over the processes, of the local ones.

- **Transactional from sync code.** ``notify_in_transaction`` sends through Django's own
  connection, so that a message sent inside a transaction leaves only if it commits (PostgreSQL
  holds the notification until then); ``backend.services.alert_delivery`` uses it.
- **At most once.** A message is delivered to the processes listening when it commits; a
  process that was not (a restart, a lost connection, being reconnected) misses it. Alerts are
  rows, so a client that reconnects reads what it missed with the ``alerts`` query
  (unacknowledged first), which is the at-least-once path.
- **Small messages.** A notification holds at most 8,000 bytes; messages are JSON (the alert
  ids, never the alert's data), and a larger one is refused with ``MessageTooLarge``.
- **Not through PgBouncer in transaction mode**: LISTEN needs a session. Point
  ``TIPGRAPH_CHANNEL_LAYER_URL`` at PostgreSQL directly (docs/deployment.md), or use Redis
  (``TIPGRAPH_REDIS_URL``, channels-redis).

Why not ``channels_postgres``: it keeps every message in a table (personal-data-free here, but
a table to retain and vacuum), its connection pool is module-global and bound to the first
event loop (a sync caller's ``async_to_sync`` runs a new loop each time), and its sends are
not part of the sender's transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from typing import Any

import psycopg
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.db import connections

__all__ = ["NOTIFY_CHANNEL", "MessageTooLarge", "PostgresNotifyLayer", "notify_in_transaction"]

log = logging.getLogger(__name__)

#: The PostgreSQL notification channel every layer of every process listens on.
NOTIFY_CHANNEL = "tipgraph_channel_layer"
#: PostgreSQL's limit on a notification's payload, in bytes.
MAX_PAYLOAD_BYTES = 8000
#: How long a lost listening connection waits before it reconnects, doubled up to the last.
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class MessageTooLarge(ValueError):
    """A message whose JSON does not fit in one PostgreSQL notification."""


def _payload(*, group: str | None, channel: str | None, message: dict[str, Any]) -> str:
    if not isinstance(message, dict):
        raise TypeError("a channel layer message is a dict")
    text = json.dumps({"g": group, "c": channel, "m": message}, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise MessageTooLarge(
            f"a message of {len(text.encode())} bytes does not fit in a PostgreSQL notification "
            f"({MAX_PAYLOAD_BYTES}): send ids, not data"
        )
    return text


def notify_in_transaction(
    *,
    group: str | None = None,
    channel: str | None = None,
    message: dict[str, Any],
    using: str = "default",
) -> None:
    """Send ``message`` to ``group`` (or ``channel``) through Django's connection ``using``:
    inside a transaction it leaves when the transaction commits, and never if it rolls back."""
    payload = _payload(group=group, channel=channel, message=message)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, payload])


def _connection_params(alias: str) -> dict[str, Any]:
    """psycopg's keyword arguments for a connection of its own to Django's database ``alias``
    (read when needed: under tests, the test database's name)."""
    params = dict(connections[alias].get_connection_params())
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return params


class _LoopState:
    """What one layer holds per event loop: its listening task and its sending connection."""

    def __init__(self) -> None:
        self.listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.sender: psycopg.AsyncConnection[Any] | None = None
        self.sender_lock = asyncio.Lock()


class PostgresNotifyLayer(BaseChannelLayer):  # type: ignore[misc]
    """The channel layer (see the module's docstring). ``CONFIG``: ``alias`` (Django database
    alias whose server and credentials it uses; "default"), ``url`` (a libpq URL to use instead,
    e.g. PostgreSQL itself when Django goes through PgBouncer), ``capacity`` (messages a
    consumer may have waiting before newer ones are dropped; 100)."""

    extensions = ["groups", "flush"]

    def __init__(
        self,
        alias: str = "default",
        url: str | None = None,
        capacity: int = 100,
        expiry: int = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(expiry=expiry, capacity=capacity, **kwargs)
        self.alias = alias
        self.url = url
        self.client_prefix = uuid.uuid4().hex[:12]
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._groups: defaultdict[str, set[str]] = defaultdict(set)
        self._receiving: set[str] = set()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}

    # -- connections --------------------------------------------------------------------------

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self.url:
            return await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        return await psycopg.AsyncConnection.connect(
            **_connection_params(self.alias), autocommit=True
        )

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            for old in [other for other in self._loops if other.is_closed()]:
                del self._loops[old]
            state = self._loops[loop] = _LoopState()
        return state

    async def _ensure_listening(self) -> None:
        state = self._state()
        if state.listener is None or state.listener.done():
            state.listening.clear()
            state.listener = asyncio.create_task(self._listen(state))
        await state.listening.wait()

    async def _listen(self, state: _LoopState) -> None:
        attempt = 0
        while True:
            try:
                async with await self._connect() as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    state.listening.set()
                    attempt = 0
                    async for note in conn.notifies():
                        self._dispatch(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                state.listening.clear()
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                log.warning("channel layer: lost its PostgreSQL listener; again in %s s", delay)
                await asyncio.sleep(delay)
                # consumers waiting for the first connection keep waiting; later messages
                # sent while none listened are lost (at most once: see the module docstring)

    def _dispatch(self, payload: str) -> None:
        try:
            note = json.loads(payload)
            group, channel, message = note["g"], note["c"], note["m"]
        except (ValueError, KeyError, TypeError):
            log.warning("channel layer: ignored a notification that is not ours")
            return
        targets = set(self._groups.get(group, ())) if group is not None else {channel}
        for target in targets:
            queue = self._queues.get(target)
            if queue is None:
                continue  # a channel of another process, or gone
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("channel layer: %s is full; a message was dropped", target)

    async def _notify(self, payload: str) -> None:
        state = self._state()
        async with state.sender_lock:
            for attempt in (1, 2):
                if state.sender is None or state.sender.closed:
                    state.sender = await self._connect()
                try:
                    await state.sender.execute(
                        "SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, payload]
                    )
                    return
                except psycopg.OperationalError:
                    state.sender = None
                    if attempt == 2:
                        raise

    # -- the channel layer API ------------------------------------------------------------------

    def _queue(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = asyncio.Queue(maxsize=self.capacity)
        return queue

    async def new_channel(self, prefix: str = "specific") -> str:
        channel = f"{prefix}.{self.client_prefix}!{uuid.uuid4().hex}"
        self._queue(channel)
        return channel

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        self.require_valid_channel_name(channel)
        queue = self._queues.get(channel)
        if queue is not None:  # ours: no round trip
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                raise ChannelFull(channel) from None
            return
        await self._notify(_payload(group=None, channel=channel, message=message))

    async def receive(self, channel: str) -> dict[str, Any]:
        self.require_valid_channel_name(channel)
        queue = self._queue(channel)
        self._receiving.add(channel)
        try:
            await self._ensure_listening()
            message = await queue.get()
        except asyncio.CancelledError:  # the consumer ended
            self._receiving.discard(channel)
            self._forget_if_idle(channel)
            raise
        self._receiving.discard(channel)
        return message

    def _forget_if_idle(self, channel: str) -> None:
        """Drop the queue of a channel nobody reads and no group holds: a consumer that ended
        (its last receive cancelled, its groups discarded) leaves nothing behind."""
        queue = self._queues.get(channel)
        if queue is None or channel in self._receiving or not queue.empty():
            return
        if any(channel in members for members in self._groups.values()):
            return
        del self._queues[channel]

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self._queue(channel)
        self._groups[group].add(channel)
        await self._ensure_listening()  # a message sent after this returns reaches it

    async def group_discard(self, group: str, channel: str) -> None:
        members = self._groups.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self._groups[group]
        self._forget_if_idle(channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.require_valid_group_name(group)
        await self._notify(_payload(group=group, channel=None, message=message))

    async def flush(self) -> None:
        self._queues.clear()
        self._groups.clear()

    async def close(self) -> None:
        """Stop listening and close this loop's connections."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is None:
            return
        if state.listener is not None:
            state.listener.cancel()
        if state.sender is not None:
            await state.sender.close()
