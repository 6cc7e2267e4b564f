"""The jetstream engine in the contract suite: one engine per test on the run's shared
nats-server, and ``settle``, which waits until the engine has done the work due.

The embedded engine's time is the test's: ``clock.advance`` and ``run_timers()`` do
exactly the work due, at once. The jetstream engine's is not: JetStream re-sends after
AckWait on the server, pushes messages when it gets to them and takes ACKs in its own
time. So ``elapse(ms)`` really lets ``ms`` pass (the manual clock, started at the wall
time, moves along, so that what the node and the engine date agrees with the
servers), and ``settle`` then waits — bounded, failing with what is still owed —
until nothing due is outstanding:

- no subscription being made, no background work, no ACK still to be sent to NATS;
- every message JetStream has for this node's consumers pushed (or held back by the
  in-flight limit), every push received and handled;
- every re-send due (a retry interval after the client was sent it) received, every
  last attempt due given up, every message and session expiry due done;
- the sessions' pending counts read again (the engine shows them up to 1 s old).

Tests keep retry intervals short where they let time pass on this engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from fastport.core import Engine, ManualClock
from fastport.core.clock import SystemClock
from fastport.core.delivery import Message
from fastport.core.engine import EngineEvents
from fastport.core.session import Session
from fastport.core.stats import Stats
from fastport.engines.jetstream.engine import ACK, TERM, Client, JetStreamEngine, Load, Subscription

from ..jetstream.support import connect, jetstream, link_options

SETTLE_S = 10.0  # a guard against hanging, not a timing expectation


class ObservedEngine(JetStreamEngine):
    """The jetstream engine, noting what ``settle`` needs to know and the engine does
    not keep: the last push each consumer made here, and when each client was last
    sent each message."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pushed: dict[str, int] = {}  # consumer name -> its last delivery's sequence
        self.sent_at: dict[tuple[int, str], float] = {}  # (client number, message id) -> loop time
        # Consumer name -> stream sequences pushed here and not yet ACKed or terminated.
        self.unanswered: dict[str, set[int]] = {}

    async def open(self, events: EngineEvents, stats: Stats) -> Sequence[Session]:
        sessions = await super().open(events, stats)
        post = self.notices.post

        def posted(subject: str, data: bytes) -> None:
            if data in (ACK, TERM) and subject.startswith("$JS.ACK."):
                tokens = subject.split(".")  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...
                self.unanswered.get(tokens[3], set()).discard(int(tokens[5]))
            post(subject, data)

        self.notices.post = posted  # type: ignore[method-assign]
        return sessions

    def _received(self, client: Client, sub: Subscription, msg: Msg) -> None:
        meta = msg.metadata
        self.pushed[meta.consumer] = max(self.pushed.get(meta.consumer, 0), meta.sequence.consumer)
        self.unanswered.setdefault(meta.consumer, set()).add(meta.sequence.stream)
        super()._received(client, sub, msg)

    def _deliver(self, client: Client, message: Message, retry: int) -> bool:
        sent = super()._deliver(client, message, retry)
        if sent:
            self.sent_at[client.number, message.id] = asyncio.get_running_loop().time()
        return sent


@dataclass(frozen=True)
class JetStreamFactory:
    """Engines on the server at ``url``; ``close`` deletes whatever a test left there
    (streams, and the KV buckets, which are streams too), so the next test starts on
    an empty server."""

    url: str

    def __call__(self, clock: ManualClock, **options: int) -> ObservedEngine:
        clock.advance(max(0, SystemClock().now_ms() - clock.now_ms()))
        return ObservedEngine(link_options(self.url), clock=clock, **options)

    async def settle(self, engine: Engine) -> None:
        assert isinstance(engine, ObservedEngine)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        while owed := await _owed(engine):
            assert loop.time() < deadline, f"the jetstream engine did not settle in {SETTLE_S} s: {owed}"
            await asyncio.sleep(0.005)
        for name in list(engine.sessions):
            load = engine._loads.setdefault(name, Load())
            load.read_at = time.monotonic()
            await engine._read_load(name, load)

    async def elapse(self, engine: Engine, clock: ManualClock, ms: int) -> None:
        clock.advance(ms)
        await asyncio.sleep(ms / 1000)
        await self.settle(engine)

    async def close(self) -> None:
        nc = await connect(self.url)
        try:
            js = jetstream(nc)
            for info in await js.streams_info():
                try:
                    await js.delete_stream(info.config.name)
                except NotFoundError:
                    pass
        finally:
            await nc.close()


async def _owed(engine: ObservedEngine) -> str:
    """What the engine still owes by now, or "" if nothing."""
    now = asyncio.get_running_loop().time()
    if any(engine._opening.values()):
        return "subscriptions being made"
    if engine._background:
        return "work in the background"
    if engine.notices._queue:
        return "ACKs being sent to NATS"
    if any(p.expiry is not None and p.expiry.when() <= now for p in engine._pending.values()):
        return "a message's expiry"
    if any(handle.when() <= now for handle in engine._expiries.values()):
        return "a session's expiry"
    clients: list[Client] = [conn.subscriber for conn in engine._connections.values() if conn.subscriber is not None]
    wall = SystemClock().now_ms()  # the servers' time: what they removed by max age
    for client in clients:
        interval = client.session.retry_interval_ms / 1000
        for message_id, held in client.held.items():
            if held.message.expires_ms and held.message.expires_ms <= wall:
                continue  # gone from the stream: nothing more will come
            if engine.sent_at[client.number, message_id] + interval <= now:
                return f"the re-send or give-up of {message_id!r}"
    await engine.link.nc.flush()
    for client in clients:
        for sub in list(client.subscriptions.values()):
            consumer = sub.consumer
            if consumer is None:
                return "a consumer being made"
            if consumer.closed:
                continue
            info = await engine.link.js.consumer_info(consumer.stream, consumer.name)
            assert info.delivered is not None and info.config.max_ack_pending is not None
            if engine.pushed.get(consumer.name, 0) < info.delivered.consumer_seq:
                return f"pushes to {sub.pattern!r} on their way"
            if (info.num_ack_pending or 0) > len(engine.unanswered.get(consumer.name, ())):
                return f"ACKs to {sub.pattern!r} being taken"
            if info.num_pending and (info.num_ack_pending or 0) < info.config.max_ack_pending:
                return f"messages for {sub.pattern!r} not pushed yet"
    return ""
