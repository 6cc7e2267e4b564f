"""Crashes under load, with ``fastport serve --engine jetstream`` processes on real
nats-servers: nothing confirmed to a publisher is lost.

- A node killed with SIGKILL while a persistent subscriber on it receives: the
  subscriber reconnects to the other node with its client id and gets every message
  whose publish was confirmed (duplicates are counted and allowed: at-least-once).
- The NATS server leading the session's stream (one of three, 3 replicas) killed with
  SIGKILL while publishing: every confirmed message is delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb

from fastport.engines.jetstream.streams import stream_name

from ..support import ADMIN_METADATA, ServerProcess, Stream
from .support import connect, jetstream
from .servers import NatsCluster, NatsServer

MESSAGES = 300
WAIT_S = 30.0  # a guard against hanging on a machine busy with other test runs


def node(tmp_path: Path, name: str, urls: list[str], replicas: int = 1) -> ServerProcess:
    args = ["--engine", "jetstream", "--nats-url", ",".join(urls), "--nats-replicas", str(replicas)]
    return ServerProcess(tmp_path / name, args=args).start()


@pytest.fixture
def stopped() -> Iterator[list[ServerProcess]]:
    """Nodes to kill at the end of the test, whatever happens."""
    nodes: list[ServerProcess] = []
    yield nodes
    for n in nodes:
        n.kill()


async def create_session(address: str, **settings: object) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        await admin_pb2_grpc.AdminStub(channel).CreateSession(
            admin_pb2.CreateSessionRequest(name="s", password="pw", **settings), metadata=ADMIN_METADATA  # type: ignore[arg-type]
        )


async def subscriptions_seen(address: str, count: int) -> None:
    """Wait until the node at ``address`` counts ``count`` subscriptions of session s
    (made on any node): until then a publish there may not count or reach them."""
    async with grpc.aio.insecure_channel(address) as channel:
        admin = admin_pb2_grpc.AdminStub(channel)
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while True:
            try:
                info = await admin.GetSession(admin_pb2.GetSessionRequest(name="s"), metadata=ADMIN_METADATA)
                if info.subscriptions == count:
                    return
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:  # not there yet
                    raise
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)


async def publish_all(address: str, on_each: object = None) -> set[str]:
    """Publish MESSAGES messages one by one; the ids whose publish was confirmed."""
    confirmed: set[str] = set()
    async with grpc.aio.insecure_channel(address) as channel:
        pub = Stream(broker_pb2_grpc.BrokerStub(channel))
        await pub.init("s")
        for i in range(MESSAGES):
            # Not Stream.publish: a publish during a NATS election may take its whole
            # budget (link.py), longer than that helper waits.
            await pub.send(publish=[pb.Publish(request_id=i + 1, topic="t", payload=b"%d" % i, message_id=f"m{i}")])
            frame = await pub.until(lambda f: len(f.publish_results) > 0, timeout=WAIT_S)
            [result] = frame.publish_results
            if not result.error.code:
                confirmed.add(result.message_id)
            if callable(on_each):
                await on_each(i)  # type: ignore[misc]
        pub.close()
    return confirmed


async def receive(stream: Stream, received: list[str], until: set[str] | None = None) -> None:
    """ACK everything that arrives, recording ids, until ``until`` is all in (or for ever)."""
    while until is None or not until <= set(received):
        frame = await stream.until(lambda f: len(f.messages) > 0, timeout=WAIT_S)
        for m in frame.messages:
            received.append(m.message_id)
        await stream.send(ack=[pb.Ack(message_id=m.message_id) for m in frame.messages])


@pytest.mark.timeout(180)
async def test_a_node_killed_under_load_loses_nothing_confirmed(
    nats_server: NatsServer, tmp_path: Path, stopped: list[ServerProcess]
) -> None:
    a = node(tmp_path, "a", [nats_server.url])
    b = node(tmp_path, "b", [nats_server.url])
    stopped += [a, b]
    await create_session(a.grpc_address, retry_interval_ms=1000)
    received: list[str] = []
    async with grpc.aio.insecure_channel(b.grpc_address) as channel_b:
        on_b = Stream(broker_pb2_grpc.BrokerStub(channel_b))
        await subscriptions_seen(b.grpc_address, 0)  # the session is on node B too
        await on_b.init("s", client_id="sub")
        await on_b.send(subscribe=[pb.Subscribe(request_id=1, topic="t", persistent=True)])
        await on_b.until(lambda f: len(f.subscribe_results) > 0)
        await subscriptions_seen(a.grpc_address, 1)
        receiving = asyncio.create_task(receive(on_b, received))

        async def kill_b_midway(i: int) -> None:
            if i == MESSAGES // 2:
                b.kill()

        confirmed = await publish_all(a.grpc_address, kill_b_midway)
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)
    assert len(confirmed) == MESSAGES  # node A and NATS were up throughout
    async with grpc.aio.insecure_channel(a.grpc_address) as channel_a:
        back = Stream(broker_pb2_grpc.BrokerStub(channel_a))
        await back.init("s", client_id="sub")  # its persistent subscription comes back with it
        await receive(back, received, until=confirmed)
        back.close()
    lost = confirmed - set(received)
    duplicates = len(received) - len(set(received))
    print(f"node killed: {len(confirmed)} confirmed, {len(lost)} lost, {duplicates} duplicates")
    assert not lost


async def stream_leader(cluster: NatsCluster) -> int:
    """Which server leads session s's stream: the one whose death costs an election."""
    nc = await connect(*cluster.urls)
    try:
        info = await jetstream(nc).stream_info(stream_name("s"))
    finally:
        await nc.close()
    assert info.cluster is not None
    return next(i for i, n in enumerate(cluster.nodes) if n.name == info.cluster.leader)


@pytest.mark.timeout(180)
async def test_a_nats_server_killed_under_load_with_three_replicas_loses_nothing_confirmed(
    nats_cluster: NatsCluster, tmp_path: Path, stopped: list[ServerProcess]
) -> None:
    a = node(tmp_path, "a", nats_cluster.urls, replicas=3)
    stopped.append(a)
    await create_session(a.grpc_address, retry_interval_ms=1000)
    received: list[str] = []
    async with grpc.aio.insecure_channel(a.grpc_address) as channel:
        sub = Stream(broker_pb2_grpc.BrokerStub(channel))
        await sub.init("s", client_id="sub")
        await sub.send(subscribe=[pb.Subscribe(request_id=1, topic="t", persistent=True)])
        await sub.until(lambda f: len(f.subscribe_results) > 0)
        await subscriptions_seen(a.grpc_address, 1)
        leader = await stream_leader(nats_cluster)
        receiving = asyncio.create_task(receive(sub, received))
        killed: list[int] = []

        async def kill_one_midway(i: int) -> None:
            if i == MESSAGES // 2:
                killed.append(leader)
                nats_cluster.kill(leader)

        try:
            confirmed = await publish_all(a.grpc_address, kill_one_midway)
            deadline = asyncio.get_running_loop().time() + WAIT_S
            while not confirmed <= set(received):
                assert asyncio.get_running_loop().time() < deadline, f"{len(confirmed - set(received))} not delivered"
                await asyncio.sleep(0.1)
        finally:
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
            if killed:
                nats_cluster.restart(leader)
    duplicates = len(received) - len(set(received))
    print(f"NATS server killed: {len(confirmed)} of {MESSAGES} confirmed, 0 lost, {duplicates} duplicates")
    assert len(confirmed) > MESSAGES // 2
