"""``fastport serve`` processes on the default sqlite store, killed with SIGKILL and
started again on the same data directory: every confirmed publish reaches its
persistent subscriber, and retry counts carry on. Also storage faults of a real
process: a read-only database, a full disk, a newer schema, a second server."""

from __future__ import annotations

import asyncio
import itertools
import resource
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb

from fastport.store.sqlite import SCHEMA_VERSION

from ..support import ADMIN_METADATA, create_session
from ..support import ServerProcess
from .conftest import read_only

pytestmark = pytest.mark.timeout(120)


class Stream:
    """One Connect stream to a server process."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.call = broker_pb2_grpc.BrokerStub(channel).Connect()
        self.received: list[pb.Message] = []
        self.results: list[pb.PublishResult] = []

    async def open(self, client_id: str = "", subscribe: Sequence[str] = ()) -> Stream:
        """Init into session "s" (with ``client_id``) and subscribe persistently."""
        await self.call.write(
            pb.ClientFrame(
                init=pb.Init(request_id=1, session="s", password="pw", client_id=client_id),
                subscribe=[pb.Subscribe(request_id=2, topic=t, persistent=True) for t in subscribe],
            )
        )
        answered = 0
        while answered < 1 + len(subscribe):
            frame = await self.read()
            for result in [frame.init_result] if frame.HasField("init_result") else []:
                assert not result.HasField("error"), result
            for result in frame.subscribe_results:
                assert not result.HasField("error"), result
            answered += frame.HasField("init_result") + len(frame.subscribe_results)
        return self

    async def read(self, timeout: float = 20.0) -> pb.ServerFrame:
        async with asyncio.timeout(timeout):
            frame = await self.call.read()
        assert frame is not grpc.aio.EOF, "stream ended"
        self.received += frame.messages
        self.results += frame.publish_results
        return frame

    async def publish(self, ids: Sequence[str], per_frame: int = 100) -> None:
        for at in range(0, len(ids), per_frame):
            batch = ids[at : at + per_frame]
            await self.call.write(
                pb.ClientFrame(publish=[pb.Publish(request_id=1, topic="t/x", payload=i.encode(), message_id=i) for i in batch])
            )

    async def receive(self, ids: set[str], within: float = 30.0) -> None:
        """Read until every one of ``ids`` has been delivered; fail naming the missing ones."""
        try:
            async with asyncio.timeout(within):
                while not ids <= {m.message_id for m in self.received}:
                    await self.read()
        except TimeoutError:
            missing = sorted(ids - {m.message_id for m in self.received})
            raise AssertionError(f"{len(missing)} of {len(ids)} confirmed ids not delivered: {missing[:5]}...") from None

    def confirmed(self) -> set[str]:
        return {r.message_id for r in self.results if not r.HasField("error")}

    def close(self) -> None:
        self.call.cancel()


@pytest.fixture
async def connect(server_process: ServerProcess) -> AsyncIterator:  # type: ignore[type-arg]
    """``await connect()``: a channel to the server process as it is now (ports change on restart)."""
    channels: list[grpc.aio.Channel] = []

    async def make() -> grpc.aio.Channel:
        channels.append(grpc.aio.insecure_channel(server_process.grpc_address))
        return channels[-1]

    yield make
    for channel in channels:
        await channel.close(None)


async def start_with_session(server: ServerProcess, connect, **settings: object) -> grpc.aio.Channel:  # type: ignore[no-untyped-def]
    """Start the server and create session "s" (password "pw")."""
    server.start()
    channel = await connect()
    await create_session(admin_pb2_grpc.AdminStub(channel), "s", **settings)
    return channel


async def go_offline(channel: grpc.aio.Channel, client_id: str, pattern: str) -> None:
    """Subscribe ``client_id`` persistently and leave; returns once the server has let go."""
    (await Stream(channel).open(client_id, [pattern])).close()
    admin = admin_pb2_grpc.AdminStub(channel)
    async with asyncio.timeout(10):
        while (await admin.GetSession(admin_pb2.GetSessionRequest(name="s"), metadata=ADMIN_METADATA)).connections:
            await asyncio.sleep(0.01)


def restart(server: ServerProcess) -> None:
    server.kill()
    server.start()


async def test_sigkill_with_an_online_subscriber_that_does_not_ack(server_process: ServerProcess, connect) -> None:  # type: ignore[no-untyped-def]
    n, retry_ms = 300, 1500
    channel = await start_with_session(server_process, connect, retry_interval_ms=retry_ms)
    sub = await Stream(channel).open("dev1", ["t/#"])
    pub = await Stream(channel).open()
    ids = [f"m{i:04}" for i in range(n)]
    await pub.publish(ids)
    while len(pub.results) < n:
        await pub.read()
    confirmed = pub.confirmed()
    assert confirmed == set(ids)
    # Wait for the first re-send of every message, then let its write commit.
    last_retry: dict[str, int] = {}
    while len(last_retry) < n or min(last_retry.values()) < 1:
        for m in (await sub.read()).messages:
            last_retry[m.message_id] = max(m.retry, last_retry.get(m.message_id, 0))
    await asyncio.sleep(0.3)

    restart(server_process)
    back = await Stream(await connect()).open("dev1")
    await back.receive(confirmed)
    after = {m.message_id: m.retry for m in back.received}
    assert set(after) == confirmed
    # Retry counts continued: the next send after the restart is the next attempt (or the
    # one after, had a re-send that was never read here been stored just before the kill).
    assert {after[i] - last_retry[i] for i in ids} <= {1, 2}


async def test_sigkill_during_publishes_to_an_offline_subscriber(server_process: ServerProcess, connect) -> None:  # type: ignore[no-untyped-def]
    # The subscriber that comes back does not ACK: its window must hold all of them.
    limits = admin_pb2.Limits(max_in_flight=100_000)
    channel = await start_with_session(server_process, connect, limits=limits)
    await go_offline(channel, "dev1", "t/#")
    pub = await Stream(channel).open()

    async def publish_until_killed() -> None:
        for at in itertools.count(0, 100):
            await pub.publish([f"m{i:07}" for i in range(at, at + 100)])

    writer = asyncio.create_task(publish_until_killed())
    while len(pub.confirmed()) < 2000:
        await pub.read()
    server_process.kill()  # while publishes are in flight
    writer.cancel()
    confirmed = pub.confirmed()

    server_process.start()
    back = await Stream(await connect()).open("dev1")
    await back.receive(confirmed)
    got = [m.message_id for m in back.received]
    assert got == sorted(got)  # in publish order
    assert {m.retry for m in back.received} == {0}  # offline time used no attempts


async def test_read_only_data_directory(server_process: ServerProcess, connect) -> None:  # type: ignore[no-untyped-def]
    channel = await start_with_session(server_process, connect)
    await go_offline(channel, "dev1", "t/#")
    pub = await Stream(channel).open()
    await pub.publish(["kept"])
    while not pub.results:
        await pub.read()
    assert pub.confirmed() == {"kept"}
    assert server_process.stop() == 0
    data = server_process.data_dir
    with read_only(data, data / "fastport.db"):
        server_process.start()
        assert "cannot be written" in server_process.read_log()
        channel = await connect()
        pub = await Stream(channel).open()
        await pub.publish(["new"])
        while not pub.results:
            await pub.read()
        assert pub.results[0].error.code == "storage_error" and pub.confirmed() == set()
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await broker_pb2_grpc.BrokerStub(channel).Publish(
                pb.PublishRequest(session="s", password="pw", publish=pb.Publish(topic="t/x", payload=b"x"))
            )
        assert dict(unary.value.trailing_metadata() or ())["fastport-error-code"] == "storage_error"
        back = await Stream(channel).open("dev1")
        await back.receive({"kept"})
        assert [m.message_id for m in back.received] == ["kept"]  # what is stored is still served
        server_process.kill()


async def test_full_disk(server_process: ServerProcess, connect) -> None:  # type: ignore[no-untyped-def]
    channel = await start_with_session(server_process, connect)
    await go_offline(channel, "dev1", "t/#")
    pub = await Stream(channel).open()
    files = list(server_process.data_dir.glob("fastport.db*"))
    limit = max(f.stat().st_size for f in files) + 256 * 1024
    assert server_process.proc is not None
    # The server's files may not grow past ``limit`` (Python ignores SIGXFSZ: writes fail).
    resource.prlimit(server_process.proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
    payload = b"z" * 32 * 1024
    for i in range(200):
        request = pb.Publish(request_id=1, topic="t/x", payload=payload, message_id=f"m{i:03}")
        await pub.call.write(pb.ClientFrame(publish=[request]))
        while len(pub.results) <= i:
            await pub.read()
        if pub.results[-1].HasField("error"):
            break
    assert pub.results[-1].error.code == "storage_error"
    confirmed = pub.confirmed()
    assert confirmed and len(confirmed) == len(pub.results) - 1
    sessions = await admin_pb2_grpc.AdminStub(channel).ListSessions(
        admin_pb2.ListSessionsRequest(), metadata=ADMIN_METADATA
    )
    assert [s.name for s in sessions.sessions] == ["s"]  # still serving

    restart(server_process)  # without the limit
    back = await Stream(await connect()).open("dev1")
    await back.receive(confirmed)


def test_newer_schema_stops_the_server(server_process: ServerProcess) -> None:
    server_process.data_dir.mkdir(parents=True)
    with sqlite3.connect(server_process.data_dir / "fastport.db") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError) as exited:
        server_process.start()
    assert "fastport: storage_error: " in str(exited.value)
    assert f"schema version 99, newer than this fastport's ({SCHEMA_VERSION})" in str(exited.value)
    assert server_process.proc is not None and server_process.proc.wait(10) == 1


def test_an_empty_database_file_stops_the_server(server_process: ServerProcess) -> None:
    server_process.data_dir.mkdir(parents=True)
    (server_process.data_dir / "fastport.db").touch()
    with pytest.raises(RuntimeError) as exited:
        server_process.start()
    assert "fastport: storage_error: " in str(exited.value)
    assert "is an empty file (0 bytes) that this server did not create" in str(exited.value)
    assert server_process.proc is not None and server_process.proc.wait(10) == 1


def test_second_server_on_the_same_data_directory(server_process: ServerProcess, tmp_path: Path) -> None:
    server_process.start()
    second = ServerProcess(server_process.data_dir)
    with pytest.raises(RuntimeError, match="in use by another fastport process"):
        second.start()
    second.kill()
