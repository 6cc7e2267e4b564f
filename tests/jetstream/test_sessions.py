"""The sessions KV bucket on real nats-servers: records stored, changed and dropped on
one node are seen by the watchers of every node."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from fastport.core import BrokerError, ErrorCode
from fastport.core.session import SessionRecord
from fastport.engines.jetstream.mirror import Mirror
from fastport.engines.jetstream.sessions import BUCKET, KV_STREAM, SessionChange, SessionsKV, decode_record, encode_record
from fastport.engines.jetstream.subjects import name_token

from .support import WAIT_S, connect, jetstream, record, until_answered
from .servers import NatsCluster, NatsServer

def suspend(r: SessionRecord) -> SessionRecord:
    return dataclasses.replace(r, suspended=True)


RECOVERY_GUARD_S = 45.0


class Watch:
    """A watcher's changes, collected by a task, awaited one at a time."""

    def __init__(self, changes: AsyncIterator[SessionChange | None]) -> None:
        self.queue: asyncio.Queue[SessionChange | None] = asyncio.Queue()
        self._changes = changes
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for change in self._changes:
            await self.queue.put(change)

    async def next(self, within: float = WAIT_S) -> SessionChange | None:
        return await asyncio.wait_for(self.queue.get(), within)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def test_a_record_survives_encoding_whole() -> None:
    original = record("démo / 1", suspended=True, expires_at_ms=123)
    assert decode_record(encode_record(original)) == original


async def test_create_get_modify_delete_and_watch(nc: Client) -> None:
    sessions = await SessionsKV.open(jetstream(nc), replicas=1)
    watch = Watch(sessions.watch())
    try:
        assert await watch.next() is None  # empty bucket: caught up at once
        assert await sessions.get("a.b c") is None

        await sessions.create(record("a.b c"))
        with pytest.raises(BrokerError) as err:
            await sessions.create(record("a.b c"))
        assert err.value.code == ErrorCode.SESSION_EXISTS
        created = await watch.next()
        assert created is not None and (created.token, created.record) == (name_token("a.b c"), record("a.b c"))

        assert await sessions.modify("a.b c", suspend) == record("a.b c", suspended=True)
        changed = await watch.next()
        assert changed is not None and changed.record == record("a.b c", suspended=True)
        assert changed.revision > created.revision

        await sessions.delete("a.b c")
        dropped = await watch.next()
        assert dropped is not None and dropped.token == name_token("a.b c") and dropped.record is None
        assert await sessions.get("a.b c") is None
        for refused in (sessions.delete("a.b c"), sessions.modify("a.b c", suspend)):
            with pytest.raises(BrokerError) as err:
                await refused
            assert err.value.code == ErrorCode.SESSION_NOT_FOUND

        await sessions.create(record("a.b c", retry_interval_ms=1))  # a dropped name is free again
        again = await watch.next()
        assert again is not None and again.record == record("a.b c", retry_interval_ms=1)
    finally:
        await watch.close()


async def test_a_watcher_starts_with_the_stored_sessions(nc: Client) -> None:
    sessions = await SessionsKV.open(jetstream(nc), replicas=1)
    for name in ("one", "two"):
        await sessions.create(record(name))
    watch = Watch(sessions.watch())
    try:
        stored = [await watch.next(), await watch.next()]
        assert {c.record.name for c in stored if c and c.record} == {"one", "two"}
        assert await watch.next() is None
    finally:
        await watch.close()


async def test_concurrent_modifications_from_two_nodes_lose_no_update(nats_server: NatsServer) -> None:
    """Two nodes add one to the same field twenty times each, interleaved: with
    compare-and-set every read-modify-write lands; a blind write would lose some."""
    a, b = await connect(nats_server.url), await connect(nats_server.url)
    try:
        on_a = await SessionsKV.open(jetstream(a), replicas=1)
        on_b = await SessionsKV.open(jetstream(b), replicas=1)
        await on_a.create(record("s", max_retry_limit=0))

        def add_one(r: SessionRecord) -> SessionRecord:
            return dataclasses.replace(r, max_retry_limit=r.max_retry_limit + 1)

        async def twenty(sessions: SessionsKV) -> None:
            for _ in range(20):
                await sessions.modify("s", add_one)

        await asyncio.gather(twenty(on_a), twenty(on_b))
        found = await on_a.get("s")
        assert found is not None and found[0].max_retry_limit == 40
    finally:
        await a.close()
        await b.close()


async def test_every_node_sees_a_change_made_on_another_with_three_replicas(nats_cluster: NatsCluster) -> None:
    a, b = await connect(nats_cluster.urls[0]), await connect(nats_cluster.urls[1])
    try:
        on_a = await SessionsKV.open(jetstream(a), replicas=3)
        on_b = await SessionsKV.open(jetstream(b), replicas=3)  # the second node binds the same bucket
        info = await jetstream(a).stream_info(KV_STREAM)
        assert info.config.num_replicas == 3
        watch = Watch(on_b.watch())
        try:
            while await watch.next() is not None:  # whatever earlier tests stored
                pass
            await on_a.create(record("cluster"))
            seen = await watch.next()
            assert seen is not None and seen.record == record("cluster")
            await on_a.modify("cluster", suspend)
            seen = await watch.next()
            assert seen is not None and seen.record is not None and seen.record.suspended
            await on_a.delete("cluster")
            seen = await watch.next()
            assert seen is not None and seen.record is None
        finally:
            await watch.close()
    finally:
        await a.close()
        await b.close()


@pytest.mark.timeout(120)  # a node's kill and restart on a machine busy with other runs
async def test_a_watcher_whose_server_dies_sees_the_next_change_within_seconds(nats_cluster: NatsCluster) -> None:
    """The watcher's consumer lives on one server; when it dies, the watcher re-creates
    it elsewhere after two missed 1 s heartbeats (nats-py's own KV watcher: 20 s)."""
    a, b = await connect(*nats_cluster.urls), await connect(*nats_cluster.urls)
    try:
        on_a = await until_answered(lambda: SessionsKV.open(jetstream(a, timeout=1), replicas=3))
        on_b = await SessionsKV.open(jetstream(b), replicas=3)
        await on_a.create(record("watched"))
        existing = {c.name for c in await jetstream(a).consumers_info(KV_STREAM)}
        watch = Watch(on_b.watch())
        try:
            while await watch.next() is not None:
                pass
            mine = [c for c in await jetstream(a).consumers_info(KV_STREAM) if c.name not in existing]
            assert len(mine) == 1 and mine[0].cluster is not None
            host = next(i for i, n in enumerate(nats_cluster.nodes) if n.name == mine[0].cluster.leader)
            nats_cluster.kill(host)
            try:
                await until_answered(lambda: on_a.modify("watched", suspend))  # suspending twice is harmless
                # About 3 s on a quiet machine; a machine busy with other test runs
                # can take much longer to elect the leaders the new consumer needs.
                seen = await watch.next(within=RECOVERY_GUARD_S)
                assert seen is not None and seen.record is not None and seen.record.suspended
            finally:
                nats_cluster.restart(host)
        finally:
            await watch.close()
    finally:
        await a.close()
        await b.close()


async def test_a_mirror_starts_with_the_stored_sessions_and_applies_every_change(nats_server: NatsServer) -> None:
    """What node B's engine does with changes made on node A."""
    a, b = await connect(nats_server.url), await connect(nats_server.url)
    changes: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
    mirror: Mirror[SessionRecord] | None = None
    try:
        on_a = await SessionsKV.open(jetstream(a), replicas=1)
        await on_a.create(record("before"))
        await on_a.create(record("dropped before"))
        await on_a.delete("dropped before")
        mirror = Mirror(
            jetstream(b),
            BUCKET,
            decode_record,
            lambda r: changes.put_nowait(("changed", r)),
            lambda r: changes.put_nowait(("removed", r.name)),
        )
        assert await mirror.start() == [record("before")]
        assert changes.empty()  # what start returns is not told again

        async def next_change() -> tuple[str, object]:
            return await asyncio.wait_for(changes.get(), WAIT_S)

        await on_a.create(record("new é"))
        assert await next_change() == ("changed", record("new é"))
        await on_a.modify("before", suspend)
        assert await next_change() == ("changed", record("before", suspended=True))
        await on_a.delete("new é")
        assert await next_change() == ("removed", "new é")
        assert {r.name for r in mirror.values.values()} == {"before"}
    finally:
        if mirror is not None:
            await mirror.close()
        await a.close()
        await b.close()


async def test_a_mirror_that_cannot_read_the_bucket_fails_to_start(nats_server: NatsServer) -> None:
    nc = await connect(nats_server.url)
    try:
        await SessionsKV.open(jetstream(nc), replicas=1)
        await jetstream(nc).delete_stream(KV_STREAM)  # the bucket is gone under it
        mirror = Mirror(jetstream(nc), BUCKET, decode_record, lambda r: None, lambda r: None)
        with pytest.raises(NotFoundError):
            await asyncio.wait_for(mirror.start(), WAIT_S)
        await mirror.close()
    finally:
        await nc.close()
