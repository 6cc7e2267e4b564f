"""The client against a real in-process fastport server, on both doors.

The broker runs on a manual clock (the server fixture's ``clock``): its re-sends happen
when a test advances it, never by waiting.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from fastport.app import App
from fastport.core import ManualClock
from fastport.core.throttle import FREE_FAILURES
from fastport_proto.v1 import broker_pb2 as pb
from fastport_proto.v1 import broker_pb2_grpc
from fpc_support import NODE, NODE_DIR, Urls, settle, until
from tests.support import ADMIN_TOKEN, make_settings, self_signed_certificate

from fastport_client import (
    AckReceived,
    BrokerError,
    ConnectError,
    ConnectionState,
    Delivery,
    FastPort,
    FastPortError,
    Message,
    NotEncryptedError,
    SessionCredentials,
    SyncFastPort,
    create_session,
    drop_session,
    generate_key,
)
from fastport_client.crypto import Binding, data_hash, make_cipher
from fastport_client.transport.grpc import GrpcTransport

TIMEOUT = 10.0


def client(url: str, s: SessionCredentials, key: str, **options: Any) -> FastPort:
    return FastPort(url, s.name, s.password, key, **options)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("cipher", ["aes-gcm", "legacy-cbc"])
async def test_round_trip(urls: Urls, door: str, session: SessionCredentials, key: str, cipher: str) -> None:
    url = urls.of(door)
    got: list[Message] = []
    acks: list[AckReceived] = []
    async with (
        client(url, session, key, cipher=cipher) as sub,
        client(url, session, key, cipher=cipher, on_ack=acks.append) as pub,
    ):
        await sub.subscribe("rooms/+/temp", got.append)
        texts = [f"reading {i} °C ✓" for i in range(20)]
        receipts = await asyncio.gather(*(pub.emit(f"rooms/r{i % 3}/temp", t) for i, t in enumerate(texts)))
        assert all(r.delivered_to == 1 and not r.duplicate for r in receipts)
        await until(lambda: len(got) == 20 and len(acks) == 20)
    assert sorted(m.text for m in got) == sorted(texts)
    assert {m.message_id for m in got} == {r.message_id for r in receipts} == {a.message_id for a in acks}
    assert all(a.remaining == 0 for a in acks)


async def test_messages_iterator(urls: Urls, door: str, session: SessionCredentials, key: str) -> None:
    url = urls.of(door)
    async with client(url, session, key) as sub, client(url, session, key) as pub:
        stream = sub.messages("news")
        await stream.subscribed()  # the broker confirmed it: nothing published from here is missed
        await pub.emit("news", "one")
        await pub.emit("news", "two")
        assert (await anext(stream)).text == "one"
        assert (await anext(stream)).text == "two"
        await stream.aclose()


async def test_break_acks_the_message_handed_out(
    clock: ManualClock, urls: Urls, door: str, session: SessionCredentials, key: str
) -> None:
    acks: list[AckReceived] = []
    url = urls.of(door)
    async with client(url, session, key) as sub, client(url, session, key, on_ack=acks.append) as pub:
        stream = sub.messages("news")
        await stream.subscribed()
        await pub.emit("news", "only this one")
        async for message in stream:
            assert message.text == "only this one"
            break
        del stream
        await until(lambda: len(acks) == 1)
        assert acks[0].remaining == 0
        clock.advance(5000)  # settled: the broker does not re-send it
        await settle()


async def test_explicit_nack_then_ack(
    clock: ManualClock, urls: Urls, door: str, session: SessionCredentials, key: str
) -> None:
    """gRPC re-sends a NACKed message at once; the legacy protocol has no NACK, so it
    comes at the next retry interval. Either way it is handed over again, then ACKed."""
    seen: list[tuple[str, int]] = []
    acks: list[AckReceived] = []

    def handle(message: Message) -> None:
        seen.append((message.text, message.retry))
        if message.retry == 0:
            message.nack()
        else:
            message.ack()

    url = urls.of(door)
    async with (
        client(url, session, key, auto_ack=False) as sub,
        client(url, session, key, on_ack=acks.append) as pub,
    ):
        await sub.subscribe("jobs", handle)
        await pub.emit("jobs", "job")
        await until(lambda: len(seen) == 1)
        if door == "ws":
            clock.advance(5000)
        await until(lambda: len(acks) == 1)
    assert seen == [("job", 0), ("job", 1)]


async def test_plain_text_and_keyed_clients(urls: Urls, door: str, session: SessionCredentials, key: str) -> None:
    """A plain publisher (cipher="none", no key) reaches plain subscribers on either
    door; a subscriber with a key reports it as NotEncryptedError and never ACKs it."""
    errors: list[FastPortError] = []
    plain_got: list[Message] = []
    acks: list[AckReceived] = []
    url = urls.of(door)
    async with (
        client(url, session, key, on_error=lambda e, d: errors.append(e)) as keyed,
        FastPort(url, session.name, session.password, None, "none") as plain,
        FastPort(urls.grpc, session.name, session.password, cipher="none", on_ack=acks.append) as pub,
    ):
        await keyed.subscribe("sensors/#", lambda m: pytest.fail("plain text was handed over"))
        await plain.subscribe("sensors/#", plain_got.append)
        receipt = await pub.emit("sensors/t1", b"21.5 \xe2\x9c\x93")
        assert receipt.delivered_to == 2
        await until(lambda: len(plain_got) == 1 and len(errors) == 1)
        assert plain_got[0].payload == "21.5 ✓".encode()
        assert isinstance(errors[0], NotEncryptedError)
        await until(lambda: len(acks) == 1)
        assert acks[0].remaining == 1  # the keyed subscriber's delivery stays unsettled


async def test_binary_plain_text_over_grpc(urls: Urls, session: SessionCredentials) -> None:
    got: list[Message] = []
    async with (
        FastPort(urls.grpc, session.name, session.password, cipher="none") as sub,
        FastPort(urls.grpc, session.name, session.password, cipher="none") as pub,
    ):
        await sub.subscribe("bin", got.append)
        await pub.emit("bin", bytes(range(256)))
        await until(lambda: len(got) == 1)
    assert got[0].payload == bytes(range(256))


async def test_attributes_end_to_end_on_grpc_dropped_on_the_json_door(
    urls: Urls, session: SessionCredentials, key: str
) -> None:
    grpc_got: list[Message] = []
    ws_got: list[Message] = []
    async with (
        client(urls.grpc, session, key) as grpc_sub,
        client(urls.ws, session, key) as ws_sub,
        client(urls.grpc, session, key) as pub,
    ):
        await grpc_sub.subscribe("t", grpc_got.append)
        await ws_sub.subscribe("t", ws_got.append)
        await pub.emit("t", "with headers", attributes={"trace-id": "abc", "content-type": "text/plain"})
        await until(lambda: len(grpc_got) == 1 and len(ws_got) == 1)
    assert dict(grpc_got[0].attributes) == {"trace-id": "abc", "content-type": "text/plain"}
    assert ws_got[0].text == "with headers" and dict(ws_got[0].attributes) == {}


async def test_ack_of_a_message_just_handled_is_sent_by_close(
    urls: Urls, door: str, session: SessionCredentials, key: str
) -> None:
    acks: list[AckReceived] = []
    handled = asyncio.Event()
    async with client(urls.of(door), session, key, on_ack=acks.append) as pub:
        sub = client(urls.of(door), session, key)
        await sub.init()
        await sub.subscribe("t", lambda m: handled.set())
        await pub.emit("t", "last words")
        await handled.wait()
        await sub.close()  # the ACK is queued, not yet written
        await until(lambda: len(acks) == 1)


@pytest.mark.parametrize(("pub_door", "sub_door"), [("grpc", "ws"), ("ws", "grpc")])
@pytest.mark.parametrize("cipher", ["aes-gcm", "legacy-cbc"])
async def test_across_doors(app: App, urls: Urls, pub_door: str, sub_door: str, cipher: str) -> None:
    s = await create_session(urls.grpc, "x", "pw", admin_token=ADMIN_TOKEN)
    key = generate_key()
    got: list[str] = []
    async with (
        client(urls.of(sub_door), s, key, cipher=cipher) as sub,
        client(urls.of(pub_door), s, key, cipher=cipher) as pub,
    ):
        await sub.subscribe("t", lambda m: got.append(m.text))
        await pub.emit("t", "across")
        await until(lambda: got == ["across"])


async def test_sync_wrapper(urls: Urls, session: SessionCredentials, key: str, door: str) -> None:
    got: list[str] = []
    received = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_message(message: Message) -> None:  # runs in a worker thread
        got.append(message.text)
        loop.call_soon_threadsafe(received.set)

    def script() -> None:
        with SyncFastPort(urls.of(door), session.name, session.password, key) as sub:
            sub.get("t", on_message)
            with SyncFastPort(urls.of(door), session.name, session.password, key) as pub:
                assert pub.emit("t", "from a script", timeout=TIMEOUT).delivered_to == 1
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(received.wait(), TIMEOUT), loop).result()

    # The scripts block, so they run in a thread while this loop serves the server.
    await asyncio.to_thread(script)
    assert got == ["from a script"]


# ---------------------------------------------------------------- refusals


async def test_bad_credentials(urls: Urls, door: str, session: SessionCredentials, key: str) -> None:
    url = urls.of(door)
    with pytest.raises(BrokerError) as err:
        await FastPort(url, session.name, "wrong", key).init()
    assert (err.value.code, err.value.temporary) == ("invalid_password", False)
    with pytest.raises(BrokerError) as err:
        await FastPort(url, "nope", "pw", key).init()
    assert (err.value.code, err.value.temporary) == ("session_not_found", False)


async def test_refused_publish_and_subscribe(urls: Urls, door: str, session: SessionCredentials, key: str) -> None:
    async with client(urls.of(door), session, key) as fp:
        with pytest.raises(BrokerError) as err:
            await fp.emit("a/+", "wildcards are for subscribing")
        assert err.value.code == "invalid_topic"
        with pytest.raises(BrokerError) as err:
            await fp.subscribe("a/#/b", lambda m: None)
        assert err.value.code == "invalid_topic"


async def test_unreachable_server(door: str) -> None:
    url = "grpc://127.0.0.1:1" if door == "grpc" else "ws://127.0.0.1:1"
    with pytest.raises(ConnectError) as err:
        await FastPort(url, "s", "pw", generate_key()).init()
    assert err.value.code == "connect_failed"


async def test_admin_errors(urls: Urls, door: str, session: SessionCredentials) -> None:
    url = urls.of(door)
    with pytest.raises(BrokerError) as err:
        await create_session(url, session.name, "pw", admin_token=ADMIN_TOKEN)
    assert (err.value.code, err.value.temporary) == ("session_exists", False)
    for _ in range(FREE_FAILURES + 1):
        with pytest.raises(BrokerError) as err:
            await create_session(url, "other", "pw", admin_token="wrong-token")
        assert (err.value.code, err.value.temporary) == ("unauthenticated", False)
    with pytest.raises(BrokerError) as err:  # the broker's answer (gRPC) or the client's copy of it (REST)
        await create_session(url, "other", "pw", admin_token=ADMIN_TOKEN)
    assert (err.value.code, err.value.temporary) == ("too_many_attempts", True)


async def test_dropped_session_closes_client_for_good(
    urls: Urls, door: str, session: SessionCredentials, key: str
) -> None:
    states: list[tuple[ConnectionState, str | None]] = []
    fp = client(urls.of(door), session, key, on_state=lambda s, e: states.append((s, e.code if e else None)))
    await fp.init()
    # The owner drops it with its own password and secret key (no admin token).
    await drop_session(urls.of(door), session.name, password=session.password, secret_key=session.secret_key)
    await until(lambda: fp.state == ConnectionState.CLOSED)
    assert states[-1] == (ConnectionState.CLOSED, "session_dropped")
    with pytest.raises(FastPortError) as err:
        await fp.emit("t", "x")
    assert err.value.code == "closed"


# ---------------------------------------------------------------- integrity


class RawPublisher:
    """Publishes exactly the bytes a test chooses, through the gRPC door: an attacker
    or a broken client, as the subscriber sees it."""

    def __init__(self, app: App, session: SessionCredentials) -> None:
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
        self._stub = broker_pb2_grpc.BrokerStub(self._channel)
        self._session = session

    async def publish(self, topic: str, message_id: str, data: str, hash_: str) -> pb.PublishResult:
        request = pb.PublishRequest(
            session=self._session.name,
            password=self._session.password,
            publish=pb.Publish(topic=topic, message_id=message_id, payload=data.encode(), hash=hash_),
        )
        return await self._stub.Publish(request)

    async def close(self) -> None:
        await self._channel.close()


def flip_bit(data: str) -> str:
    """Flip one bit in the ciphertext part of aes-gcm data (base64url, last segment)."""
    head, _, tail = data.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return head + "." + alphabet[alphabet.index(tail[0]) ^ 1] + tail[1:]


async def test_tampered_messages_are_rejected(
    app: App, clock: ManualClock, urls: Urls, door: str, session: SessionCredentials, key: str
) -> None:
    """A flipped bit, a wrong hash and a message moved to another topic or id are
    reported with their reason, never handed over and never ACKed (so the broker keeps
    re-sending them); a good message next to them goes through."""
    cipher = make_cipher("aes-gcm", key)
    errors: list[tuple[str, str]] = []
    got: list[str] = []

    def on_error(error: FastPortError, delivery: Delivery | None) -> None:
        assert delivery is not None
        errors.append((delivery.message_id, error.code))

    raw = RawPublisher(app, session)
    async with client(urls.of(door), session, key, on_error=on_error) as sub:
        await sub.subscribe("door/#", lambda m: got.append(m.text))
        data, hash_ = cipher.seal(b"open", Binding(session.name, "door/front", "id-1"))
        await raw.publish("door/front", "flipped", flip_bit(data), data_hash(flip_bit(data)))
        await raw.publish("door/front", "wrong-hash", data, "0" * 64)
        await raw.publish("door/back", "id-1", data, hash_)  # moved to another topic
        await raw.publish("door/front", "id-2", data, hash_)  # moved to another id
        good, good_hash = cipher.seal(b"open", Binding(session.name, "door/front", "good"))
        await raw.publish("door/front", "good", good, good_hash)
        expected = {
            ("flipped", "authentication_failed"),
            ("wrong-hash", "hash_mismatch"),
            ("id-1", "authentication_failed"),
            ("id-2", "authentication_failed"),
        }
        await until(lambda: got == ["open"] and set(errors) == expected)
        # Not ACKed: at the next retry interval the broker re-sends exactly the bad ones.
        errors.clear()
        clock.advance(5000)
        await until(lambda: len(errors) == 4)
        assert set(errors) == expected and got == ["open"]
    await raw.close()


async def test_broker_resend_while_handling_is_handed_over_once(
    clock: ManualClock, urls: Urls, door: str, session: SessionCredentials, key: str
) -> None:
    release = asyncio.Event()
    calls: list[int] = []
    acks: list[AckReceived] = []

    async def slow(message: Message) -> None:
        calls.append(message.retry)
        await release.wait()

    async with (
        client(urls.of(door), session, key) as sub,
        client(urls.of(door), session, key, on_ack=acks.append) as pub,
    ):
        await sub.subscribe("t", slow)
        await pub.emit("t", "x")
        await until(lambda: calls == [0])
        clock.advance(5000)  # the broker re-sends: the client is still handling it
        await settle()
        clock.advance(5000)
        await settle()
        release.set()
        await until(lambda: len(acks) == 1)
        clock.advance(5000)  # settled: nothing more is re-sent
        await settle()
    assert calls == [0]


# ---------------------------------------------------------------- gRPC specifics


async def test_grpc_batches_concurrent_emits_into_few_frames(urls: Urls, key: str, app: App) -> None:
    s = await create_session(urls.grpc, "b", "pw", admin_token=ADMIN_TOKEN)
    frames: list[pb.ClientFrame] = []

    def counting(endpoint: Any, listener: Any) -> GrpcTransport:
        transport = GrpcTransport(endpoint, listener)
        original = transport.open

        async def open_and_spy() -> None:
            await original()
            assert transport._call is not None
            write = transport._call.write

            async def spy(frame: pb.ClientFrame) -> None:
                frames.append(frame)
                await write(frame)

            transport._call.write = spy  # type: ignore[method-assign]

        transport.open = open_and_spy  # type: ignore[method-assign]
        return transport

    async with client(urls.grpc, s, key, transport_factory=counting) as pub:
        frames.clear()
        receipts = await asyncio.gather(*(pub.emit("t", f"m{i}") for i in range(200)))
    assert len({r.message_id for r in receipts}) == 200
    publishing = [f for f in frames if f.publish]
    assert sum(len(f.publish) for f in publishing) == 200
    assert len(publishing) == 1  # all 200 were ready in one event-loop turn


async def test_tls_with_a_private_ca(tmp_path: Path, door: str) -> None:
    """``grpcs://`` and ``wss://`` against a server whose certificate only the given
    root certificates trust."""
    cert, tls_key = self_signed_certificate(tmp_path)
    server = App(make_settings(tmp_path, tls_cert=cert, tls_key=tls_key))
    await server.start()
    try:
        url = f"grpcs://localhost:{server.grpc_port}" if door == "grpc" else f"wss://localhost:{server.http_port}"
        roots = cert.read_bytes()
        s = await create_session(url, "tls", "pw", admin_token=ADMIN_TOKEN, root_certificates=roots)
        key = generate_key()
        got: list[str] = []
        async with client(url, s, key, root_certificates=roots) as sub:
            async with client(url, s, key, root_certificates=roots) as pub:
                await sub.subscribe("t", lambda m: got.append(m.text))
                await pub.emit("t", "secret")
                await until(lambda: got == ["secret"])
        with pytest.raises(ConnectError):  # the public roots do not trust a private CA
            await FastPort(url, s.name, s.password, key).init()
    finally:
        await server.stop()


# ---------------------------------------------------------------- Node.js interop


async def run_node(*args: str) -> asyncio.subprocess.Process:
    if NODE is None:
        pytest.fail("node is not installed; the interop tests need Node.js 20 or newer")
    return await asyncio.create_subprocess_exec(
        NODE,
        "--experimental-websocket",
        str(NODE_DIR / "legacy_client.js"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("sub_door", ["grpc", "ws"])
async def test_node_publisher_python_subscriber(urls: Urls, sub_door: str) -> None:
    s = await create_session(urls.grpc, "mixed", "pw", admin_token=ADMIN_TOKEN)
    key = generate_key()
    got: list[Message] = []
    async with client(urls.of(sub_door), s, key, cipher="legacy-cbc") as sub:
        await sub.subscribe("legacy/#", got.append)
        proc = await run_node("publish", urls.ws, s.name, s.password, key, "legacy/node", "hello from node ✓", "second")
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        assert proc.returncode == 0, err.decode()
        ids = json.loads(out)["messageIds"]
        await until(lambda: len(got) == 2)
    assert [m.text for m in got] == ["hello from node ✓", "second"]
    assert [m.message_id for m in got] == ids


@pytest.mark.parametrize("pub_door", ["grpc", "ws"])
async def test_python_publisher_node_subscriber(urls: Urls, pub_door: str) -> None:
    s = await create_session(urls.grpc, "mixed", "pw", admin_token=ADMIN_TOKEN)
    key = generate_key()
    acks: list[AckReceived] = []
    proc = await run_node("receive", urls.ws, s.name, s.password, key, "legacy/py", "1")
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), TIMEOUT) == b"ready\n"
    async with client(urls.of(pub_door), s, key, cipher="legacy-cbc", on_ack=acks.append) as pub:
        receipt = await pub.emit("legacy/py", "hello from python ✓")
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        assert proc.returncode == 0, err.decode()
        assert json.loads(out) == {"messageId": receipt.message_id, "topic": "legacy/py", "text": "hello from python ✓"}
        await until(lambda: [a.message_id for a in acks] == [receipt.message_id])
