"""Reconnect against a real server process that is killed (SIGKILL) and started again.

The server runs ``fastport serve`` with its default embedded store, so sessions,
persistent subscriptions and confirmed messages survive the crash. A persistent
subscriber and a publisher stay connected through it without the application doing
anything, and every message whose emit was confirmed - before the crash, in flight
during it, emitted while the server was down, or after the restart - reaches the
subscriber's application exactly once.

Waits here are for a real process to die and start; the clients' backoff is made short
so no test waits through a default retry interval.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from fpc_support import until
from tests.support import ADMIN_TOKEN, ServerProcess

from fastport_client import Backoff, ConnectError, ConnectionState, FastPort, Message, create_session, generate_key

FAST = dict(backoff=Backoff(initial=0.05, maximum=0.5), publish_timeout=1.0, request_timeout=5.0)


async def test_every_confirmed_message_is_received_once_across_a_crash(
    server_process: ServerProcess, door: str
) -> None:
    server = await asyncio.to_thread(server_process.start)
    ports = dict(server.ports)
    url = f"grpc://127.0.0.1:{ports['grpc']}" if door == "grpc" else f"ws://127.0.0.1:{ports['http']}"
    s = await create_session(url, "orders", "pw", admin_token=ADMIN_TOKEN)
    key = generate_key()

    received: list[str] = []
    sub_states: list[ConnectionState] = []
    pub_states: list[ConnectionState] = []

    def handle(message: Message) -> None:
        assert message.text == f"order {message.topic.rsplit('/', 1)[1]}"
        received.append(message.message_id)

    sub = FastPort(
        url, s.name, s.password, key, client_id="billing", on_state=lambda st, e: sub_states.append(st), **FAST
    )
    sub.get("orders/#", handle)
    pub = FastPort(url, s.name, s.password, key, on_state=lambda st, e: pub_states.append(st), **FAST)
    confirmed: list[str] = []

    async def emit(i: int) -> None:
        confirmed.append((await pub.emit(f"orders/{i}", f"order {i}")).message_id)

    async with sub, pub:
        await asyncio.gather(*(emit(i) for i in range(20)))  # confirmed before the crash
        in_flight = [asyncio.ensure_future(emit(i)) for i in range(20, 40)]
        await asyncio.sleep(0)  # handed to the transport; the server may or may not get them
        await asyncio.to_thread(server.kill)
        await until(lambda: ConnectionState.RECONNECTING in sub_states and ConnectionState.RECONNECTING in pub_states)
        while_down = [asyncio.ensure_future(emit(i)) for i in range(40, 60)]
        await asyncio.to_thread(server.start, ports=ports)
        await asyncio.wait_for(asyncio.gather(*in_flight, *while_down), 30)
        await asyncio.gather(*(emit(i) for i in range(60, 80)))  # after the restart
        await until(lambda: set(received) >= set(confirmed), timeout=30)
        await until(lambda: sub.state == pub.state == ConnectionState.CONNECTED)

    assert len(confirmed) == 80
    counts = Counter(received)
    assert set(counts) == set(confirmed)
    assert max(counts.values()) == 1, "a message was handed to the application twice"
    assert sub_states[:4] == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.RECONNECTING,
        ConnectionState.CONNECTED,
    ]


async def test_retry_on_failed_connect_waits_for_the_server(server_process: ServerProcess) -> None:
    server = await asyncio.to_thread(server_process.start)
    ports = dict(server.ports)
    url = f"grpc://127.0.0.1:{ports['grpc']}"
    s = await create_session(url, "later", "pw", admin_token=ADMIN_TOKEN)
    await asyncio.to_thread(server.kill)
    key = generate_key()
    impatient = FastPort(url, s.name, s.password, key, **FAST)
    with pytest.raises(ConnectError) as failed:
        await impatient.init()
    assert failed.value.code == "connect_failed"
    patient = FastPort(url, s.name, s.password, key, retry_on_failed_connect=True, **FAST)
    connecting = asyncio.ensure_future(patient.init())
    await asyncio.sleep(0.2)  # a few attempts fail meanwhile
    assert not connecting.done()
    await asyncio.to_thread(server.start, ports=ports)
    await connecting
    async with patient:
        assert patient.state == ConnectionState.CONNECTED
        assert (await patient.emit("t", "made it")).delivered_to == 0
