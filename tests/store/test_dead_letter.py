"""Dead letters on the sqlite store (issue #17): a dead letter is written with the
settle of the delivery it reports, so a crash at any point dead-letters that delivery
once: never twice, never not at all."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from fastport.core import Broker
from fastport.core.deadletter import dead_letter_id
from fastport.engines.embedded import EmbeddedEngine
from fastport.store.sqlite import SqliteStore

from ..conformance.support import Client, make_session
from .conftest import Node

DEAD = "dead"
DEAD_ID = dead_letter_id("m1", "dev1")


async def written(broker: Broker) -> None:
    """Wait until the store has written everything handed to it."""
    assert isinstance(broker.engine, EmbeddedEngine)
    store = broker.engine.store
    assert isinstance(store, SqliteStore)
    async with asyncio.timeout(5):
        while store._batch is not None or store._writing is not None:
            await asyncio.sleep(0.001)


async def crash(node: Node) -> None:
    """The process dies: what the store was handed and has not written yet is lost,
    and nothing else happens (no clean shutdown)."""
    broker = node.broker
    assert broker is not None and isinstance(broker.engine, EmbeddedEngine)
    store = broker.engine.store
    assert isinstance(store, SqliteStore)
    assert broker.engine._timer_task is not None
    broker.engine._timer_task.cancel()
    store._batch = None
    await store.close()
    node.broker = None


async def given_up(node: Node) -> tuple[Client, Client]:
    """Session "s" with the dead-letter topic; "dev1" subscribed to "t" never ACKs m1,
    whose delivery is given up at the retry limit now (nothing of that written yet);
    "dlq" subscribes to the dead-letter topic persistently, offline."""
    broker = node.broker
    assert broker is not None
    await make_session(broker, retry_interval_ms=500, max_retry_limit=1, dead_letter_topic=DEAD)
    sub = await node.client(client_id="dev1")
    sub.subscribe("t", persistent=True)
    dlq = await node.client(client_id="dlq")
    dlq.subscribe(DEAD, persistent=True)
    dlq.disconnect()
    pub = await node.client()
    await pub.publish("t", b"payload", message_id="m1")
    node.run_timers(500)  # the last attempt
    await written(broker)
    node.run_timers(500)  # given up: the dead letter and the settle are handed to the store
    return sub, pub


def dead_letters(node: Node) -> list[tuple[object, ...]]:
    return node.rows(f"SELECT id FROM messages WHERE topic = '{DEAD}'")


async def test_a_crash_before_the_give_up_is_written_dead_letters_it_after_the_restart(node: Node) -> None:
    await given_up(node)
    await crash(node)
    assert dead_letters(node) == [] and node.rows("SELECT message_id, subscriber FROM deliveries") == [("m1", "dev1")]
    broker = await node.start()
    node.run_timers()  # the delivery is due: given up again
    await written(broker)
    assert dead_letters(node) == [(DEAD_ID,)]
    assert node.rows("SELECT message_id, subscriber FROM deliveries") == [(DEAD_ID, "dlq")]
    dlq = await node.client(client_id="dlq")
    assert [(m.message_id, m.payload) for m in dlq.peer.messages] == [(DEAD_ID, b"payload")]


@pytest.mark.parametrize("acked", [False, True], ids=["pending", "acked"])
async def test_a_give_up_repeated_after_a_restart_is_not_dead_lettered_twice(node: Node, acked: bool) -> None:
    """The dead letter was written but the original delivery's settle was not (as a
    store that writes them in two steps may leave it): given up again after the
    restart, the same dead-letter id is a duplicate, whether the dead letter is still
    pending or was ACKed already (its id remembered)."""
    await given_up(node)
    assert node.broker is not None
    await written(node.broker)
    assert node.broker.stats.dead_lettered == {"retry_limit": 1}
    if acked:
        dlq = await node.client(client_id="dlq")
        assert dlq.ack(DEAD_ID)
        await written(node.broker)
    await crash(node)
    with sqlite3.connect(node.path) as db:  # the settle of m1 to dev1 lost
        db.execute("UPDATE messages SET forget_at_ms = 0, payload = x'70' WHERE id = 'm1'")
        db.execute("INSERT INTO deliveries VALUES ('s', 'm1', 'dev1', 2, ?)", (node.clock.now_ms(),))
    broker = await node.start()
    assert broker.get_session("s").pending_messages == (1 if acked else 2)  # m1 back (and its dead letter)
    node.run_timers()  # given up again
    await written(broker)
    assert broker.get_session("s").pending_messages == (0 if acked else 1)  # the dead letter only
    assert dead_letters(node) == [(DEAD_ID,)]
    assert broker.stats.dead_lettered == {}  # nothing published this time
    assert node.rows("SELECT message_id FROM deliveries") == ([] if acked else [(DEAD_ID,)])
    dlq = await node.client(client_id="dlq")
    assert dlq.peer.ids() == ([] if acked else [DEAD_ID])
