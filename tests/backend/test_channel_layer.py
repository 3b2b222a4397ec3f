"""The PostgreSQL LISTEN/NOTIFY channel layer (``backend.channel_layer``): messages cross
processes (here: connections of their own, as another process would use), reach only the
members of their group, leave a transaction only when it commits, and a consumer that ended
leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from backend.channel_layer import (
    NOTIFY_CHANNEL,
    MessageTooLarge,
    PostgresNotifyLayer,
    _connection_params,
    notify_in_transaction,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _other_process_sends(payload: dict[str, Any]) -> None:
    """A NOTIFY from a connection of its own, as another server process would send it."""
    with psycopg.connect(**_connection_params("default"), autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, json.dumps(payload)])


async def _receive(layer: PostgresNotifyLayer, channel: str, timeout: float = 5) -> Any:
    return await asyncio.wait_for(layer.receive(channel), timeout)


def test_a_group_message_from_another_process_reaches_the_members_only() -> None:
    async def scenario() -> tuple[Any, bool, list[str]]:
        layer = PostgresNotifyLayer()
        member = await layer.new_channel()
        outsider = await layer.new_channel()
        await layer.group_add("alerts.account.7", member)
        await layer.group_add("alerts.account.8", outsider)
        await asyncio.to_thread(
            _other_process_sends, {"g": "alerts.account.7", "c": None, "m": {"type": "t", "n": 1}}
        )
        got = await _receive(layer, member)
        try:
            await _receive(layer, outsider, timeout=0.5)
            outsider_got = True
        except TimeoutError:
            outsider_got = False
        await layer.close()
        return got, outsider_got, sorted(layer._queues)

    got, outsider_got, _ = asyncio.run(scenario())
    assert got == {"type": "t", "n": 1}
    assert outsider_got is False


def test_two_layers_as_two_processes_both_deliver_to_their_own_members() -> None:
    async def scenario() -> tuple[Any, Any]:
        first, second = PostgresNotifyLayer(), PostgresNotifyLayer()
        a, b = await first.new_channel(), await second.new_channel()
        await first.group_add("alerts.office.3", a)
        await second.group_add("alerts.office.3", b)
        await first.group_send("alerts.office.3", {"type": "alerts.created", "alerts": [5]})
        got = await _receive(first, a), await _receive(second, b)
        await first.close()
        await second.close()
        return got

    assert asyncio.run(scenario()) == (
        {"type": "alerts.created", "alerts": [5]},
        {"type": "alerts.created", "alerts": [5]},
    )


def test_a_message_to_a_channel_of_another_layer_crosses_over() -> None:
    async def scenario() -> Any:
        first, second = PostgresNotifyLayer(), PostgresNotifyLayer()
        channel = await second.new_channel()
        receiving = asyncio.create_task(_receive(second, channel))
        await asyncio.sleep(0.3)  # the listener is up
        await first.send(channel, {"type": "direct"})
        got = await receiving
        await first.close()
        await second.close()
        return got

    assert asyncio.run(scenario()) == {"type": "direct"}


def test_a_message_sent_in_a_transaction_leaves_only_when_it_commits() -> None:
    # given a listener of its own
    with psycopg.connect(**_connection_params("default"), autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

        # when one transaction sends and rolls back, and another sends and commits
        with pytest.raises(RuntimeError), transaction.atomic():
            notify_in_transaction(group="alerts.account.1", message={"type": "x", "n": "lost"})
            raise RuntimeError("rolled back")
        with transaction.atomic():
            notify_in_transaction(group="alerts.account.1", message={"type": "x", "n": "kept"})
            # then nothing has left before the commit
            assert list(listener.notifies(timeout=0.3)) == []

        # then only the committed one arrives
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=1, stop_after=1)]
    assert payloads == [{"g": "alerts.account.1", "c": None, "m": {"type": "x", "n": "kept"}}]
    assert connection.in_atomic_block is False


def test_a_message_too_large_for_a_notification_is_refused() -> None:
    with pytest.raises(MessageTooLarge, match="send ids, not data"):
        notify_in_transaction(group="g", message={"type": "x", "data": "a" * 9000})


def test_a_consumer_that_ended_leaves_no_queue_behind() -> None:
    async def scenario() -> tuple[int, int]:
        layer = PostgresNotifyLayer()
        channel = await layer.new_channel()
        await layer.group_add("alerts.account.9", channel)
        receiving = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0.2)
        during = len(layer._queues)
        receiving.cancel()  # the consumer ends: its receive is cancelled...
        with pytest.raises(asyncio.CancelledError):
            await receiving
        await layer.group_discard("alerts.account.9", channel)  # ...and its groups discarded
        after = len(layer._queues)
        await layer.close()
        return during, after

    assert asyncio.run(scenario()) == (1, 0)
