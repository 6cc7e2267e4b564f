"""Consumers of subscriptions (engines/jetstream/consumers.py) on a real nats-server:
pushes reach the node that listens, a connection-bound consumer and what only it held
go with it, a durable one keeps collecting and moves to the node its subscriber comes
back to, and a delivery given up (terminated) frees the message."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from fastport.core.session import SessionRecord
from fastport.engines.jetstream.consumers import Consumer
from fastport.engines.jetstream.envelope import Envelope, Origin
from fastport.engines.jetstream.link import NatsLink
from fastport.engines.jetstream.streams import durable_name, stream_config, stream_name
from fastport.engines.jetstream.subjects import SessionSubjects

from .support import WAIT_S, record


class Inbox:
    """What a consumer pushed to one node."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def push(self, msg: Msg) -> None:
        await self.queue.put(msg)

    async def next(self) -> Msg:
        return await asyncio.wait_for(self.queue.get(), WAIT_S)


async def session(link: NatsLink, name: str) -> tuple[SessionRecord, SessionSubjects]:
    r = record(name, retry_interval_ms=60_000)
    await link.js.add_stream(stream_config(r, 60_000, 1))
    return r, SessionSubjects.of(name)


async def publish(link: NatsLink, subjects: SessionSubjects, topic: str, message_id: str) -> None:
    envelope = Envelope(message_id, Origin("n", 1), 0)
    await link.publish(subjects.topic(topic), message_id.encode(), envelope.headers())


async def until_unbound(link: NatsLink, consumer: Consumer) -> None:
    """Wait until the servers know nobody listens to ``consumer``'s pushes. Until then
    (interest travels between the servers of a cluster asynchronously) the consumer may
    push a message to the inbox that was just closed, and that push counts as a delivery."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while (await link.js.consumer_info(consumer.stream, consumer.name)).push_bound:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def stored(link: NatsLink, r: SessionRecord) -> int:
    return (await link.js.stream_info(stream_name(r.name))).state.messages


async def test_a_connection_bound_consumer_goes_with_what_only_it_held(links: list[NatsLink]) -> None:
    node, _ = links
    r, subjects = await session(node, "bound")
    inbox = Inbox()
    consumer = await Consumer.open(node, r, "a/+", inbox.push)
    assert not consumer.durable
    await publish(node, subjects, "a/b", "m1")
    await publish(node, subjects, "b", "not for it")
    msg = await inbox.next()
    assert Envelope.read(msg.headers).message_id == "m1" and msg.data == b"m1"
    assert await stored(node, r) == 1  # unacked: kept
    await consumer.close(node, delete=True)
    with pytest.raises(NotFoundError):
        await node.js.consumer_info(consumer.stream, consumer.name)
    assert await stored(node, r) == 0
    await consumer.close(node, delete=True)  # twice: nothing to do, no error


async def test_a_durable_consumer_collects_while_away_and_follows_its_subscriber(links: list[NatsLink]) -> None:
    a, b = links
    r, subjects = await session(a, "durable")
    name = durable_name("client é", "t/#")
    on_a = Inbox()
    consumer = await Consumer.open(a, r, "t/#", on_a.push, durable=name)
    assert (consumer.name, consumer.durable) == (name, True)
    await consumer.close(a, delete=False)  # the connection on node A ends
    await until_unbound(b, consumer)
    for i in range(3):
        await publish(b, subjects, f"t/{i}", f"m{i}")
    on_b = Inbox()
    back = await Consumer.open(b, r, "t/#", on_b.push, durable=name)  # back, on node B
    received = [await on_b.next() for _ in range(3)]
    assert [m.data for m in received] == [b"m0", b"m1", b"m2"]
    assert [m.metadata.num_delivered for m in received] == [1, 1, 1]  # time away used no retry
    assert on_a.queue.empty()
    for m in received:
        await m.ack_sync()
    assert await stored(b, r) == 0
    await back.close(b, delete=True)


async def test_a_terminated_delivery_frees_the_message(links: list[NatsLink]) -> None:
    node, _ = links
    r, subjects = await session(node, "term")
    inbox = Inbox()
    consumer = await Consumer.open(node, r, "t", inbox.push)
    await publish(node, subjects, "t", "m1")
    msg = await inbox.next()
    await msg.term()
    await node.nc.flush()
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while await stored(node, r):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    await consumer.close(node, delete=True)
