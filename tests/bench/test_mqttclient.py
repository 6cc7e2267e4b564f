"""The load generator's own MQTT 3.1.1 QoS 1 client (fastport/bench/mqttclient.py),
checked against independent MQTT clients: Debian's mosquitto_sub and mosquitto_pub
(libmosquitto, C), through a real mosquitto broker. No speed is checked."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from fastport.bench import mqttclient, servers
from fastport.bench.servers import Server

CLIENTS = "mosquitto_sub and mosquitto_pub are not installed (Debian: apt-get install mosquitto-clients)"


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """Mosquitto with one QoS 1 message in flight per client: it sends a subscriber
    its next message only once the previous one was PUBACKed, so receiving them all
    proves every PUBACK was understood."""
    monkeypatch.setattr(servers, "MOSQUITTO_CONF", servers.MOSQUITTO_CONF.replace("max_inflight_messages 1000", "max_inflight_messages 1"))
    s = Server("mosquitto").start()
    try:
        yield s
    finally:
        s.stop()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(CLIENTS)
    return found


def _port(broker: Server) -> int:
    return broker.ports["mqtt"]


async def _client(broker: Server, publishes: list[mqttclient.Publish] | None = None, pubacks: list[int] | None = None) -> mqttclient.MqttClient:
    holder: list[mqttclient.MqttClient] = []

    def on_publish(batch: list[mqttclient.Publish]) -> None:
        assert publishes is not None
        publishes.extend(batch)
        holder[0].send([mqttclient.puback_packet(p.packet_id) for p in batch])

    def on_puback(ids: list[int]) -> None:
        assert pubacks is not None
        pubacks.extend(ids)

    client = await mqttclient.connect("127.0.0.1", _port(broker), on_publish, on_puback, 10)
    holder.append(client)
    return client


async def _until(condition: object, what: str) -> None:
    for _ in range(1000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_publishes_reach_a_libmosquitto_subscriber_and_are_acknowledged(broker: Server) -> None:
    sub = subprocess.Popen(
        # stdbuf: line-buffered, so that its SUBACK line arrives before it exits.
        [_tool("stdbuf"), "-oL", _tool("mosquitto_sub"), "-p", str(_port(broker)), "-q", "1", "-t", "bench/t", "-C", "3", "-d"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert sub.stdout is not None
        for line in sub.stdout:  # -d: the client's own log, then the payloads
            if "received SUBACK" in line:
                break
        pubacks: list[int] = []
        client = await _client(broker, pubacks=pubacks)
        topic = mqttclient.utf8("bench/t")
        big = b"x" * 300  # a Remaining Length of two bytes
        client.send([mqttclient.publish_packet(topic, 1, b"one"), mqttclient.publish_packet(topic, 2, b"two " + big),
                     mqttclient.publish_packet(topic, 3, b"three")])
        await _until(lambda: len(pubacks) == 3, "three PUBACKs")
        assert sorted(pubacks) == [1, 2, 3]
        client.close()
        out, _ = sub.communicate(timeout=30)
        payloads = [line for line in out.splitlines() if not line.startswith(("Client ", "Subscribed "))]
        assert payloads == ["one", "two " + big.decode(), "three"]
    finally:
        sub.kill()
        sub.wait()


async def test_deliveries_from_a_libmosquitto_publisher_are_received_and_acknowledged(broker: Server) -> None:
    publishes: list[mqttclient.Publish] = []
    client = await _client(broker, publishes=publishes)
    try:
        assert await client.subscribe("bench/+", 10) == 1
        for text in ("a", "b", "c"):
            done = subprocess.run([_tool("mosquitto_pub"), "-p", str(_port(broker)), "-q", "1", "-t", "bench/u", "-m", text], timeout=30)
            assert done.returncode == 0
        # One in flight at a time: the second and third arrive only after our PUBACKs.
        await _until(lambda: len(publishes) == 3, "three deliveries")
        assert [(p.topic, p.payload, p.dup) for p in publishes] == [(b"bench/u", t, False) for t in (b"a", b"b", b"c")]
        assert all(p.packet_id > 0 for p in publishes)
    finally:
        client.close()


async def test_a_refused_connection_is_reported(broker: Server) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Refuser(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectionError, match="CONNACK return code 05"):
            await mqttclient.connect("127.0.0.1", port, lambda p: None, lambda i: None, 10)
    finally:
        server.close()


class _Refuser(asyncio.Protocol):
    """A broker that answers every CONNECT with 'not authorized' (return code 5)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"\x20\x02\x00\x05")  # type: ignore[attr-defined]
