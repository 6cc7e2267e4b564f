"""A message's headers (envelope.py) and the notices between nodes (notices.py), through
a real nats-server: what one node writes is what another reads."""

from __future__ import annotations

import asyncio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.msg import Msg

from fastport.core.delivery import ABSENT, Hash
from fastport.engines.jetstream.envelope import MSG_ID, Envelope, Origin
from fastport.engines.jetstream.notices import Kind, Notice, Notices, decode, node_subject

from .support import WAIT_S, connect
from .servers import NatsServer

TRICKY_IDS = ["a", "a ", " a", "a\r\nNats-Msg-Id: b", "%41", "A", "é日本\U0001f600", "\t", "x" * 256]
texts = st.one_of(st.sampled_from(TRICKY_IDS), st.text(min_size=1, max_size=40))
hashes: st.SearchStrategy[Hash] = st.one_of(st.just(ABSENT), st.none(), st.just(""), st.text(max_size=70))


envelopes = st.builds(
    Envelope,
    message_id=texts,
    origin=st.builds(Origin, st.text("0123456789abcdef", min_size=1, max_size=12), st.integers(0, 2**40)),
    timestamp_ms=st.integers(-(2**63), 2**63 - 1),
    json=st.booleans(),
    hash=hashes,
    attributes=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3),
    delivered_to=st.integers(0, 2**32),
)


async def round_trip(url: str, sent: list[Envelope]) -> list[Envelope]:
    """Each envelope as headers of a message through the server, read back."""
    nc = await connect(url)
    try:
        sub = await nc.subscribe("t")
        for envelope in sent:
            await nc.publish("t", b"", headers=envelope.headers())
        received: list[Msg] = [await sub.next_msg(timeout=WAIT_S) for _ in sent]
        return [Envelope.read(msg.headers) for msg in received]
    finally:
        await nc.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(envelopes, min_size=1, max_size=10))
def test_every_envelope_round_trips_through_the_server(nats_server: NatsServer, sent: list[Envelope]) -> None:
    assert asyncio.run(round_trip(nats_server.url, sent)) == sent


def test_message_ids_stay_apart_and_on_one_line() -> None:
    ids = [Envelope(i, Origin("n", 1), 0).headers()[MSG_ID] for i in TRICKY_IDS]
    assert len(set(ids)) == len(ids)
    assert all(i.isprintable() and " " not in i and i == i.strip() for i in ids)


def test_a_message_fastport_did_not_store_is_refused() -> None:
    for headers in (None, {}, {MSG_ID: "x"}):
        with pytest.raises((ValueError, KeyError)):
            Envelope.read(headers)


async def test_notices_reach_the_publishers_node_in_order_and_stay_home_for_its_own(nats_server: NatsServer) -> None:
    got: dict[str, asyncio.Queue[Notice]] = {"a": asyncio.Queue(), "b": asyncio.Queue()}
    clients = [await connect(nats_server.url), await connect(nats_server.url)]
    a = Notices(clients[0], "a", got["a"].put_nowait)
    b = Notices(clients[1], "b", got["b"].put_nowait)
    await a.start()
    await b.start()
    try:
        await clients[0].flush()
        await clients[1].flush()
        sent = [Notice(Kind.ACKED, "sé ssion", f"m{i}", subscriber="~3") for i in range(50)]
        sent.append(Notice(Kind.GAVE_UP, "s", "m\r\n", subscriber="client é", reason="retry_limit", dead_lettered=True))
        for notice in sent:
            a.send("b", notice)
        received = [await asyncio.wait_for(got["b"].get(), WAIT_S) for _ in sent]
        assert received == sent
        home = Notice(Kind.ACKED, "s", "own")
        b.send("b", home)
        assert got["b"].get_nowait() == home  # handled at once, not through NATS
        assert got["a"].empty()
    finally:
        await a.close()
        await b.close()
        for nc in clients:
            await nc.close()


async def test_notices_made_together_leave_as_one_message_after_the_acks(nats_server: NatsServer) -> None:
    """What one turn queues for a node is one NATS message, sent after the data posted
    with it: a JetStream +ACK never follows the notice that tells of it."""
    sender, watcher = await connect(nats_server.url), await connect(nats_server.url)
    seen: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def watch(msg: Msg) -> None:
        seen.put_nowait((msg.subject, msg.data))

    for subject in ("t.ack", node_subject("b")):
        await watcher.subscribe(subject, cb=watch)
    await watcher.flush()
    a = Notices(sender, "a", lambda notice: None)
    await a.start()
    try:
        sent = [Notice(Kind.ACKED, "s", f"m{i}", subscriber=f"~{i}") for i in range(20)]
        a.post("t.ack", b"first")
        for notice in sent:
            a.send("b", notice)
        a.post("t.ack", b"second")
        got = [await asyncio.wait_for(seen.get(), WAIT_S) for _ in range(3)]
        assert got[:2] == [("t.ack", b"first"), ("t.ack", b"second")]
        assert got[2][0] == node_subject("b") and decode(got[2][1]) == sent
        await sender.flush()
        await watcher.flush()
        assert seen.empty()
    finally:
        await a.close()
        for nc in (sender, watcher):
            await nc.close()
