"""A client id taken over on another node (engines/jetstream/claims.py): two fastport
nodes, both doors, one real nats-server. The older connection is closed with
``replaced`` as on one node; a persistent subscriber's messages, the one it had not
ACKed included, go on to its new connection; and of two connections with one client id
arriving on both nodes at once, the one whose claim JetStream stored last stays, with
the durable consumers pushing to it. A node cut off from NATS while its client id was
taken closes the older connection once it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import orjson
from fastport_proto.v1 import broker_pb2 as pb
from fastport_proto.v1 import broker_pb2_grpc
from nats.js.errors import KeyNotFoundError

from fastport.app import App
from fastport.core import SessionSpec
from fastport.engines.jetstream.claims import BUCKET, claim_key
from fastport.engines.jetstream.engine import JetStreamEngine

from ..support import Stream, make_settings
from ..web.wire import WsClient
from .nodes import recv_type, settled_subscriptions, start_node, until_everywhere, ws
from .servers import NatsServer
from .support import WAIT_S, eventually

RETRY_MS = 300


def engine(app: App) -> JetStreamEngine:
    assert app.broker is not None and isinstance(app.broker.engine, JetStreamEngine)
    return app.broker.engine


async def make_session(a: App, nodes: list[App]) -> None:
    assert a.broker is not None
    await a.broker.create_session(SessionSpec("s", "pw", retry_interval_ms=RETRY_MS))
    await until_everywhere(nodes, "s")


async def test_the_older_connection_on_the_other_node_is_closed_and_its_messages_follow(nodes: list[App]) -> None:
    a, b = nodes
    await make_session(a, nodes)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{a.grpc_port}") as channel:
        old = Stream(broker_pb2_grpc.BrokerStub(channel))
        await old.init("s", client_id="c")
        await old.send(subscribe=[pb.Subscribe(request_id=1, topic="t", persistent=True)])
        await old.until(lambda f: len(f.subscribe_results) > 0)
        await settled_subscriptions(nodes, 1)
        pub = await ws(a.http_port)
        await pub.send({"type": "publish", "topic": "t", "data": "one", "messageId": "m1"})
        assert (await recv_type(pub, "publish_response"))["deliveredTo"] == 1
        [first] = await old.messages(1)
        assert first.message_id == "m1"  # and not ACKed

        new = await ws(b.http_port)
        await new.init("s", "pw", clientId="c")
        closing = await old.until(lambda f: f.HasField("closing"), WAIT_S)
        assert closing.closing.code == "replaced"

        again = await recv_type(new, "message")  # re-sent to the new connection, on the other node
        assert (again["messageId"], again["data"]) == ("m1", "one")
        await pub.send({"type": "publish", "topic": "t", "data": "two", "messageId": "m2"})
        assert (await recv_type(pub, "publish_response"))["deliveredTo"] == 1
        after = await recv_type(new, "message")
        assert after["messageId"] == "m2"
        for message_id in ("m1", "m2"):
            await new.send({"type": "ack", "topic": "t", "messageId": message_id})
            acked = await recv_type(pub, "ack_received")
            assert (acked["messageId"], acked["remaining"]) == (message_id, 0)

        back = Stream(broker_pb2_grpc.BrokerStub(channel))  # and back to the first node, over gRPC
        await back.init("s", client_id="c")
        code, reason = await new.closed(WAIT_S)
        assert code == 4001 and "client id" in reason
        back.close()
        old.close()


async def connect_as(app: App, client_id: str) -> WsClient:
    client = await ws(app.http_port)
    await client.send({"type": "init", "sessionName": "s", "password": "pw", "clientId": client_id})
    assert (await recv_type(client, "init_response"))["success"] is True
    return client


async def holders(nodes: list[App], client_id: str) -> list[App]:
    """The nodes with a connection of session s holding ``client_id``, once only one does."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        found = [
            app
            for app in nodes
            if app.broker is not None and any(c.client_id == client_id for c in app.broker.sessions["s"].connections)
        ]
        if len(found) <= 1:
            return found
        assert asyncio.get_running_loop().time() < deadline, "both connections still open"
        await asyncio.sleep(0.01)


async def test_two_connections_at_once_on_two_nodes_the_last_claim_stays(nodes: list[App]) -> None:
    """A few rounds: which node's claim JetStream stores last is up to the race, and so
    is whose durable consumer update lands last; the survivor is always the one the
    bucket names, and it gets what is published next."""
    a, b = nodes
    await make_session(a, nodes)
    pub = await ws(a.http_port)
    kv = await engine(a).link.js.key_value(BUCKET)
    for round in range(4):
        client_id = f"c{round}"
        first = await connect_as(a, client_id)
        await first.send({"type": "subscribe", "topic": f"t/{round}", "persistent": True})
        assert (await recv_type(first, "subscribe_response"))["success"] is True
        await first.conn.close()  # the durable consumer stays, waiting for its client id
        await settled_subscriptions(nodes, round + 1)

        on_a, on_b = await asyncio.gather(connect_as(a, client_id), connect_as(b, client_id))
        [app] = await holders(nodes, client_id)
        survivor, loser = (on_a, on_b) if app is a else (on_b, on_a)
        code, _ = await loser.closed(WAIT_S)
        assert code == 4001
        stored = await kv.get(claim_key("s", client_id))
        assert stored.value is not None and orjson.loads(stored.value)[0] == engine(app).node

        await pub.send({"type": "publish", "topic": f"t/{round}", "data": "x", "messageId": f"m{round}"})
        assert (await recv_type(pub, "publish_response"))["deliveredTo"] == 1
        message = await recv_type(survivor, "message")
        assert message["messageId"] == f"m{round}"
        await survivor.send({"type": "ack", "topic": f"t/{round}", "messageId": f"m{round}"})
        await survivor.conn.close()


async def stored_claim(app: App, client_id: str) -> None:
    """Until the claim stored last for ``client_id`` is ``app``'s."""
    kv = await engine(app).link.js.key_value(BUCKET)
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        try:
            stored = await kv.get(claim_key("s", client_id))
            if stored.value is not None and orjson.loads(stored.value)[0] == engine(app).node:
                return
        except KeyNotFoundError:
            pass
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


class Relay:
    """A TCP relay in front of a NATS server, which the test can cut: the node behind
    it loses NATS (its connection dropped, new ones closed at once) while the others
    keep it."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.cut = False
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"nats://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut_off(self) -> None:
        self.cut = True
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    def restore(self) -> None:
        self.cut = False

    def close(self) -> None:
        self.cut_off()
        if self.server is not None:
            self.server.close()


async def test_a_node_cut_off_from_nats_closes_the_older_connection_once_back(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    relay = Relay(nats_server.port)
    a = App(make_settings(tmp_path / "a", engine="jetstream", nats_url=(await relay.start(),)))
    await a.start()
    b = await start_node(tmp_path, "b", nats_server)
    try:
        await make_session(b, [a, b])
        old = await connect_as(a, "c")
        await stored_claim(a, "c")
        relay.cut_off()
        await eventually(lambda: a.broker is not None and not a.broker.ready())
        await connect_as(b, "c")  # told to every node but a
        await stored_claim(b, "c")
        relay.restore()  # a reconnects, reads the last claim, and closes its connection
        code, reason = await old.closed(WAIT_S)
        assert code == 4001 and "client id" in reason
    finally:
        relay.close()
        await a.stop()
        await b.stop()
