"""The client's reliability logic over an in-memory transport, on a fake clock.

These exercise retry, ACK timing, de-duplication, integrity errors and reconnect
exactly, with no sockets and no waiting. The same behaviour is checked against a real
server in test_integration.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import pytest
from fpc_support import FakeClock, settle

from fastport_client import BrokerError, ClosedError, ConnectError, CryptoError, generate_key
from fastport_client.client import Backoff, ConnectionState, FastPort, Message, topic_matches
from fastport_client.crypto import Binding, make_cipher
from fastport_client.errors import ConfigError, FastPortError, HandlerError, InvalidKeyError, PublishTimeoutError
from fastport_client.transport import Endpoint, Listener, Transport, parse_url
from fastport_client.transport.base import AckReceived, Delivery, DeliveryFailed, OutgoingPublish, PublishResult

KEY = generate_key()
SESSION = "s1"


class FakeConnection(Transport):
    """One connection to :class:`FakeNet`; records what the client sends."""

    def __init__(self, net: FakeNet, listener: Listener) -> None:
        self.net = net
        self.listener = listener
        self.subscribed: list[tuple[str, bool]] = []
        self.unsubscribed: list[str] = []
        self.published: list[OutgoingPublish] = []
        self.acks: list[str] = []
        self.nacks: list[str] = []
        self.closed = False

    async def open(self) -> None:
        if self.net.down:
            raise ConnectError("connect_failed", "fake server down")

    async def init(self, session: str, password: str, client_id: str | None) -> None:
        self.net.inits.append((session, password, client_id))
        if self.net.hang_init:
            await asyncio.Event().wait()
        if self.net.refuse_init is not None:
            raise self.net.refuse_init

    async def subscribe(self, topic: str, persistent: bool) -> None:
        self.subscribed.append((topic, persistent))
        if topic in self.net.refuse_topics:
            raise BrokerError("invalid_topic", f"bad topic {topic}", temporary=False)

    async def unsubscribe(self, topic: str) -> None:
        self.unsubscribed.append(topic)

    def publish(self, item: OutgoingPublish) -> None:
        self.published.append(item)
        if self.net.auto_confirm:
            asyncio.get_running_loop().call_soon(self.confirm, item.message_id)

    def ack(self, topic: str, message_id: str) -> None:
        self.acks.append(message_id)

    def nack(self, topic: str, message_id: str) -> None:
        self.nacks.append(message_id)

    async def close(self) -> None:
        self.closed = True

    # -- what the fake server does --

    def confirm(self, message_id: str, error: BrokerError | None = None) -> None:
        self.listener.on_publish_result(PublishResult(message_id, 1, False, error))

    def deliver(self, delivery: Delivery) -> None:
        self.listener.on_delivery(delivery)

    def drop(self, code: str = "connection_lost") -> None:
        self.listener.on_closed(ConnectError(code, "dropped by the test"))


@dataclass
class FakeNet:
    down: bool = False
    auto_confirm: bool = True
    refuse_init: BrokerError | None = None
    hang_init: bool = False
    refuse_topics: set[str] = field(default_factory=set)
    inits: list[tuple[str, str, str | None]] = field(default_factory=list)
    connections: list[FakeConnection] = field(default_factory=list)

    def factory(self, endpoint: Endpoint, listener: Listener) -> Transport:
        conn = FakeConnection(self, listener)
        self.connections.append(conn)
        return conn

    @property
    def conn(self) -> FakeConnection:
        return self.connections[-1]


@dataclass
class Recorder:
    errors: list[tuple[FastPortError, Delivery | None]] = field(default_factory=list)
    states: list[ConnectionState] = field(default_factory=list)
    acks: list[AckReceived] = field(default_factory=list)
    failures: list[DeliveryFailed] = field(default_factory=list)

    def kwargs(self) -> dict[str, object]:
        return dict(
            on_error=lambda e, d: self.errors.append((e, d)),
            on_state=lambda s, e: self.states.append(s),
            on_ack=self.acks.append,
            on_delivery_failed=self.failures.append,
        )


@pytest.fixture
def net() -> FakeNet:
    return FakeNet()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make_client(net: FakeNet, clock: FakeClock, rec: Recorder, **kwargs: object) -> FastPort:
    options: dict[str, object] = dict(
        transport_factory=net.factory, clock=clock, backoff=Backoff(jitter=0), **rec.kwargs()
    )
    options.update(kwargs)
    key = options.pop("key", KEY)
    url = options.pop("url", "grpc://127.0.0.1:1")
    return FastPort(url, SESSION, "pw", key, **options)  # type: ignore[arg-type]


def sealed(topic: str, text: str, message_id: str, retry: int = 0, cipher: str = "aes-gcm") -> Delivery:
    data, hash_ = make_cipher(cipher, KEY).seal(text.encode(), Binding(SESSION, topic, message_id))
    return Delivery(topic, message_id, data, hash_, 1_700_000_000_000, retry)


# ---------------------------------------------------------------- construction


def test_bad_key_fails_at_construction(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    with pytest.raises(InvalidKeyError):
        FastPort("grpc://h:1", SESSION, "pw", "short")
    with pytest.raises(ConfigError) as err:
        FastPort("grpc://h:1", SESSION, "pw", KEY, cipher="des")  # type: ignore[arg-type]
    assert err.value.code == "invalid_cipher"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("grpc://h:7", Endpoint("grpc", "h", 7, False)),
        ("h:7", Endpoint("grpc", "h", 7, False)),
        ("grpc://h", Endpoint("grpc", "h", 50051, False)),
        ("grpcs://h:7", Endpoint("grpc", "h", 7, True)),
        ("ws://h:3000", Endpoint("ws", "h", 3000, False, "/")),
        ("wss://h/ws?x=1", Endpoint("ws", "h", 443, True, "/ws?x=1")),
        ("grpc://[::1]:7", Endpoint("grpc", "::1", 7, False)),
    ],
)
def test_parse_url(url: str, expected: Endpoint) -> None:
    assert parse_url(url) == expected


def test_ipv6_authority() -> None:
    assert parse_url("grpc://[::1]:7").authority == "[::1]:7"


@pytest.mark.parametrize("url", ["", "http://h:1", "grpc://h:99999", "grpc://:1", "grpc://h:1/path"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_url(url)
    assert err.value.code == "invalid_url"


@pytest.mark.parametrize(
    ("pattern", "topic", "hit"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "x/y", True),
        ("a/b", "a/c", False),
        ("+", "a/b", False),
        ("a/b/c", "a/b", False),
    ],
)
def test_topic_matches(pattern: str, topic: str, hit: bool) -> None:
    assert topic_matches(pattern, topic) is hit


def test_backoff_grows_caps_and_jitters() -> None:
    b = Backoff(initial=1, maximum=10, multiplier=2, jitter=0.5)
    assert [b.delay(n, rand=lambda: 0.0) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    assert b.delay(2, rand=lambda: 1.0) == 2.0
    assert b.delay(10_000, rand=lambda: 0.0) == 10


# ---------------------------------------------------------------- emit


async def test_emit_before_init_and_after_close(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    fp = make_client(net, clock, rec)
    with pytest.raises(FastPortError) as err:
        await fp.emit("t", "x")
    assert err.value.code == "not_initialized"
    await fp.init()
    await fp.close()
    with pytest.raises(ClosedError):
        await fp.emit("t", "x")


async def test_emit_is_sealed_for_its_topic_and_id(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec) as fp:
        receipt = await fp.emit("a/b", "hello")
    item = net.conn.published[0]
    assert receipt.message_id == item.message_id and receipt.delivered_to == 1
    opened = make_cipher("aes-gcm", KEY).open(item.data, item.hash, Binding(SESSION, "a/b", item.message_id))
    assert opened == b"hello"


async def test_emit_retries_same_message_until_confirmed(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.auto_confirm = False
    async with make_client(net, clock, rec, publish_timeout=5) as fp:
        emit = asyncio.ensure_future(fp.emit("t", "x"))
        await settle()
        assert len(net.conn.published) == 1
        await clock.advance(4.9)
        assert len(net.conn.published) == 1
        await clock.advance(0.1)
        await clock.advance(5)
        sent = net.conn.published
        assert len(sent) == 3 and sent[0] == sent[1] == sent[2]  # same id, same ciphertext
        net.conn.confirm(sent[0].message_id)
        assert (await emit).message_id == sent[0].message_id


async def test_emit_gives_up_after_emit_timeout(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.auto_confirm = False
    async with make_client(net, clock, rec, publish_timeout=5, emit_timeout=12) as fp:
        emit = asyncio.ensure_future(fp.emit("t", "x"))
        for _ in range(3):
            await clock.advance(5)
        with pytest.raises(PublishTimeoutError) as err:
            await emit
        assert err.value.code == "publish_timeout"
        assert len(net.conn.published) == 3  # at 0, 5 and 10 s


async def test_emit_refused_by_broker_raises_at_once(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.auto_confirm = False
    async with make_client(net, clock, rec) as fp:
        emit = asyncio.ensure_future(fp.emit("t", "x"))
        await settle()
        net.conn.confirm(net.conn.published[0].message_id, BrokerError("payload_too_large", "too big", temporary=False))
        with pytest.raises(BrokerError) as err:
            await emit
        assert err.value.code == "payload_too_large"


async def test_emit_refused_while_server_shuts_down_is_retried(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.auto_confirm = False
    async with make_client(net, clock, rec, publish_timeout=5) as fp:
        emit = asyncio.ensure_future(fp.emit("t", "x"))
        await settle()
        message_id = net.conn.published[0].message_id
        net.conn.confirm(message_id, BrokerError("shutting_down", "bye", temporary=True))
        await settle()
        assert not emit.done()
        await clock.advance(5)
        net.conn.confirm(message_id)
        assert (await emit).message_id == message_id


async def test_emit_refused_as_temporary_until_its_deadline_names_the_refusal(
    net: FakeNet, clock: FakeClock, rec: Recorder
) -> None:
    net.auto_confirm = False
    async with make_client(net, clock, rec, publish_timeout=5, emit_timeout=12) as fp:
        emit = asyncio.ensure_future(fp.emit("t", "x"))
        await settle()
        message_id = net.conn.published[0].message_id
        for _ in range(3):  # each re-send (after publish_timeout) is refused again
            net.conn.confirm(message_id, BrokerError("overloaded", "full", temporary=True))
            await clock.advance(5)
        with pytest.raises(PublishTimeoutError) as err:
            await emit
    assert [p.message_id for p in net.conn.published] == [message_id] * 3
    assert isinstance(err.value.__cause__, BrokerError) and err.value.__cause__.code == "overloaded"


async def test_ack_received_and_delivery_failed_reach_callbacks(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec) as fp:
        receipt = await fp.emit("t", "x")
        net.conn.listener.on_ack_received(AckReceived(receipt.message_id, "t", 1))
        net.conn.listener.on_delivery_failed(DeliveryFailed(receipt.message_id, "t", "retry_limit", 0))
    assert rec.acks == [AckReceived(receipt.message_id, "t", 1)]
    assert rec.failures == [DeliveryFailed(receipt.message_id, "t", "retry_limit", 0)]


# ---------------------------------------------------------------- receive


async def test_ack_only_after_callback_returns(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    release = asyncio.Event()
    got: list[Message] = []

    async def slow(message: Message) -> None:
        got.append(message)
        await release.wait()

    async with make_client(net, clock, rec) as fp:
        await fp.subscribe("t", slow)
        net.conn.deliver(sealed("t", "hi", "m1"))
        await settle()
        assert [m.text for m in got] == ["hi"] and net.conn.acks == []
        release.set()
        await settle()
        assert net.conn.acks == ["m1"]


async def test_duplicates_are_handed_over_once(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    release = asyncio.Event()
    got: list[str] = []

    async def handler(message: Message) -> None:
        got.append(message.message_id)
        await release.wait()

    async with make_client(net, clock, rec) as fp:
        await fp.subscribe("t", handler)
        net.conn.deliver(sealed("t", "hi", "m1"))
        await settle()
        net.conn.deliver(sealed("t", "hi", "m1", retry=1))  # while still being handled: ignored
        await settle()
        assert net.conn.acks == []
        release.set()
        await settle()
        net.conn.deliver(sealed("t", "hi", "m1", retry=2))  # after handling: ACKed again only
        await settle()
    assert got == ["m1"]
    assert net.conn.acks == ["m1", "m1"]


async def test_messages_in_arrival_order_and_wildcards(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    seen: list[tuple[str, str]] = []
    async with make_client(net, clock, rec) as fp:
        fp.get("a/#", lambda m: seen.append(("wild", m.text)))
        fp.get("a/b", lambda m: seen.append(("exact", m.text)))
        await settle()
        for i in range(3):
            net.conn.deliver(sealed("a/b", str(i), f"m{i}"))
        net.conn.deliver(sealed("a/c", "c", "mc"))
        await settle()
    assert seen == [
        ("wild", "0"),
        ("exact", "0"),
        ("wild", "1"),
        ("exact", "1"),
        ("wild", "2"),
        ("exact", "2"),
        ("wild", "c"),
    ]
    assert net.connections[0].acks == ["m0", "m1", "m2", "mc"]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: Delivery(d.topic, d.message_id, d.data, "0" * 64, d.timestamp_ms, d.retry), "hash_mismatch"),
        (lambda d: Delivery("t2", d.message_id, d.data, d.hash, d.timestamp_ms, d.retry), "authentication_failed"),
        (lambda d: Delivery(d.topic, "other", d.data, d.hash, d.timestamp_ms, d.retry), "authentication_failed"),
        (lambda d: Delivery(d.topic, d.message_id, '{"a":1}', d.hash, d.timestamp_ms, d.retry, True), "not_encrypted"),
        (lambda d: Delivery(d.topic, d.message_id, "21.5", "", d.timestamp_ms, d.retry), "not_encrypted"),
        (lambda d: Delivery(d.topic, d.message_id, "a:b:c", "", d.timestamp_ms, d.retry), "not_encrypted"),
    ],
    ids=["wrong-hash", "moved-topic", "moved-id", "plain-json", "plain-text", "plain-with-colons"],
)
async def test_bad_messages_are_reported_not_handed_over_not_acked(
    net: FakeNet, clock: FakeClock, rec: Recorder, mutate, code: str
) -> None:
    got: list[Message] = []
    async with make_client(net, clock, rec) as fp:
        fp.get("#", got.append)
        await settle()
        bad = mutate(sealed("t", "x", "m1"))
        net.conn.deliver(bad)
        await settle()
        assert got == [] and net.conn.acks == []
        assert len(rec.errors) == 1
        error, delivery = rec.errors[0]
        assert isinstance(error, CryptoError) and error.code == code and delivery == bad


async def test_legacy_message_refused_by_aes_gcm_client(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec) as fp:
        fp.get("t", lambda m: None)
        await settle()
        net.conn.deliver(sealed("t", "x", "m1", cipher="legacy-cbc"))
        await settle()
    assert rec.errors[0][0].code == "unsupported_format"


async def test_legacy_client_reads_legacy(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    got: list[str] = []
    async with make_client(net, clock, rec, cipher="legacy-cbc") as fp:
        fp.get("t", lambda m: got.append(m.text))
        await settle()
        net.conn.deliver(sealed("t", "old school", "m1", cipher="legacy-cbc"))
        await settle()
    assert got == ["old school"]


async def test_failing_callback_is_reported_and_not_acked(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    calls: list[int] = []

    def flaky(message: Message) -> None:
        calls.append(message.retry)
        if message.retry == 0:
            raise RuntimeError("boom")

    async with make_client(net, clock, rec) as fp:
        fp.get("t", flaky)
        await settle()
        net.conn.deliver(sealed("t", "x", "m1"))
        await settle()
        assert net.conn.acks == []
        assert isinstance(rec.errors[0][0], HandlerError) and rec.errors[0][0].code == "handler_failed"
        net.conn.deliver(sealed("t", "x", "m1", retry=1))  # the broker's re-send is handled again
        await settle()
    assert calls == [0, 1]
    assert net.connections[0].acks == ["m1"]


async def test_message_without_handler_is_not_acked(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec):
        net.conn.deliver(sealed("nobody", "x", "m1"))
        await settle()
    assert net.connections[0].acks == []


async def test_messages_iterator_acks_when_next_is_asked(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec) as fp:
        for i in range(3):
            net.conn.deliver(sealed("t", str(i), f"m{i}"))  # before the subscription: not handled
        texts: list[str] = []
        stream = fp.messages("t")
        async with contextlib.aclosing(stream):
            net.conn.deliver(sealed("t", "0", "m0", retry=1))
            first = await anext(stream)
            texts.append(first.text)
            await settle()
            assert net.conn.acks == []  # still being handled by the loop body
            net.conn.deliver(sealed("t", "1", "m1", retry=1))
            texts.append((await anext(stream)).text)
            await settle()
            assert net.conn.acks == ["m0"]
        # Left with m1 in hand: done with it, so ACKed; and the topic is unsubscribed.
        await settle()
        assert net.conn.acks == ["m0", "m1"] and net.conn.unsubscribed == ["t"]
    assert texts == ["0", "1"]


async def test_break_acks_the_message_in_hand(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    """``async for ...: break`` with nothing else: the stream is freed at once (no
    reference cycle), the loop's async-generator finalizer runs, the message is ACKed
    and the subscription ends. Messages not handed out yet are not ACKed."""
    async with make_client(net, clock, rec) as fp:
        stream = fp.messages("t")
        await stream.subscribed()
        assert net.conn.subscribed == [("t", False)]
        net.conn.deliver(sealed("t", "0", "m0"))
        net.conn.deliver(sealed("t", "1", "m1"))
        async for message in stream:
            assert message.text == "0"
            break
        del stream
        await settle()
        assert net.conn.acks == ["m0"] and net.conn.unsubscribed == ["t"]
        net.conn.deliver(sealed("t", "1", "m1", retry=1))  # m1 was not handed out: it comes again
        async with fp.messages("t") as again:
            assert (await anext(again)).message_id == "m1"
        await settle()
        assert net.conn.acks == ["m0", "m1"]


async def test_explicit_ack_and_nack(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    held: list[Message] = []
    async with make_client(net, clock, rec, auto_ack=False) as fp:
        fp.get("t", held.append)
        await settle()
        net.conn.deliver(sealed("t", "a", "m1"))
        net.conn.deliver(sealed("t", "b", "m2"))
        await settle()
        assert [m.message_id for m in held] == ["m1", "m2"] and net.conn.acks == []
        net.conn.deliver(sealed("t", "a", "m1", retry=1))  # still held by the application: ignored
        await settle()
        assert len(held) == 2
        held[1].nack()
        held[1].ack()  # settled already: nothing more is sent
        held[0].ack()
        assert (net.conn.nacks, net.conn.acks) == (["m2"], ["m1"])
        assert held[0].settled and held[1].settled
        net.conn.deliver(sealed("t", "b", "m2", retry=1))  # the re-send a NACK asks for: handed over
        net.conn.deliver(sealed("t", "a", "m1", retry=2))  # ACKed already: ACKed again, not handed over
        await settle()
        assert [(m.message_id, m.retry) for m in held] == [("m1", 0), ("m2", 0), ("m2", 1)]
        assert net.conn.acks == ["m1", "m1"]


async def test_early_ack_with_auto_ack_is_not_repeated(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec) as fp:
        fp.get("t", lambda m: m.ack())
        await settle()
        net.conn.deliver(sealed("t", "a", "m1"))
        await settle()
        assert net.conn.acks == ["m1"]


async def test_plain_text_mode(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    got: list[Message] = []
    async with make_client(net, clock, rec, key=None, cipher="none") as fp:
        fp.get("t", got.append)
        await settle()
        await fp.emit("t", b"\xff\x00 binary")
        sent = net.conn.published[0]
        assert sent.data.encode("utf-8", "surrogateescape") == b"\xff\x00 binary"
        net.conn.deliver(Delivery("t", "m1", "21.5", "", 1, 0))
        net.conn.deliver(Delivery("t", "m2", '{"v":1}', "", 1, 0, True))
        net.conn.deliver(sealed("t", "sealed", "m3"))  # handed over as it came
        await settle()
        assert [m.payload for m in got][:2] == [b"21.5", b'{"v":1}']
        assert got[2].text.startswith("fp.v1.aes-256-gcm.")
        assert net.conn.acks == ["m1", "m2", "m3"] and rec.errors == []


def test_plain_text_is_chosen_explicitly() -> None:
    with pytest.raises(InvalidKeyError):
        FastPort("grpc://127.0.0.1:1", SESSION, "pw")  # no key and no cipher="none"
    with pytest.raises(ConfigError) as err:
        FastPort("grpc://127.0.0.1:1", SESSION, "pw", KEY, cipher="none")
    assert err.value.code == "invalid_cipher"


async def test_attributes(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    got: list[Message] = []
    async with make_client(net, clock, rec) as fp:
        fp.get("t", got.append)
        await settle()
        await fp.emit("t", "x", attributes={"trace": "abc"})
        assert net.conn.published[0].attributes == {"trace": "abc"}
        with pytest.raises(TypeError):
            await fp.emit("t", "x", attributes={"n": 1})  # type: ignore[dict-item]
        d = sealed("t", "y", "m1")
        net.conn.deliver(Delivery(d.topic, d.message_id, d.data, d.hash, d.timestamp_ms, d.retry, False, {"k": "v"}))
        await settle()
        assert got[0].attributes == {"k": "v"}
    async with make_client(net, clock, rec, url="ws://127.0.0.1:1", key=None, cipher="none") as ws:
        with pytest.raises(FastPortError) as err:
            await ws.emit("t", "x", attributes={"trace": "abc"})
        assert err.value.code == "unsupported"
        with pytest.raises(FastPortError) as err:
            await ws.emit("t", b"\xff")
        assert err.value.code == "unsupported"


async def test_retry_on_failed_connect(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.down = True
    fp = make_client(net, clock, rec, retry_on_failed_connect=True)
    connecting = asyncio.ensure_future(fp.init())
    await clock.advance(0.5)
    await clock.advance(1.0)
    assert not connecting.done() and len(net.connections) == 3 and fp.state == ConnectionState.CONNECTING
    net.down = False
    await clock.advance(2.0)
    await connecting
    assert fp.state == ConnectionState.CONNECTED and len(net.connections) == 4
    await fp.close()


def test_version() -> None:
    import fastport_client

    assert fastport_client.__version__ == "0.1.0"


async def test_get_before_init_subscribes_on_connect(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    fp = make_client(net, clock, rec, client_id="worker-1")
    fp.get("a", lambda m: None)
    fp.get("b/#", lambda m: None)
    async with fp:
        pass
    assert net.inits == [(SESSION, "pw", "worker-1")]
    assert net.connections[0].subscribed == [("a", True), ("b/#", True)]


async def test_refused_subscribe(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.refuse_topics = {"bad#"}
    async with make_client(net, clock, rec) as fp:
        with pytest.raises(BrokerError) as err:
            await fp.subscribe("bad#", lambda m: None)
        assert err.value.code == "invalid_topic"
        fp.get("bad#", lambda m: None)
        await settle()
    assert rec.errors[0][0].code == "invalid_topic"


async def test_init_refused_raises(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.refuse_init = BrokerError("invalid_password", "Invalid password", temporary=False)
    fp = make_client(net, clock, rec)
    with pytest.raises(BrokerError) as err:
        await fp.init()
    assert err.value.code == "invalid_password"
    assert net.conn.closed and fp.state == ConnectionState.CLOSED


async def test_init_unreachable_raises(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.down = True
    with pytest.raises(ConnectError) as err:
        await make_client(net, clock, rec).init()
    assert err.value.code == "connect_failed"


async def test_unanswered_init_times_out(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.hang_init = True
    fp = make_client(net, clock, rec, request_timeout=10)
    init = asyncio.ensure_future(fp.init())
    await clock.advance(9.9)
    assert not init.done()
    await clock.advance(0.1)
    with pytest.raises(ConnectError) as err:
        await init
    assert err.value.code == "timeout"
    assert net.conn.closed


# ---------------------------------------------------------------- reconnect


async def test_reconnect_resubscribes_and_resends_unconfirmed(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.auto_confirm = False
    async with make_client(net, clock, rec, publish_timeout=60) as fp:
        fp.get("a", lambda m: None)
        await settle()
        emit = asyncio.ensure_future(fp.emit("a", "x"))
        await settle()
        first = net.conn
        item = first.published[0]
        net.down = True
        first.drop()
        await settle()
        assert first.closed and fp.state == ConnectionState.RECONNECTING
        await clock.advance(0.5)  # attempt 1 fails
        await clock.advance(1.0)  # attempt 2 fails
        net.down = False
        await clock.advance(2.0)  # attempt 3 connects
        assert [s for s in clock.sleeps if s < 10] == [0.5, 1.0, 2.0]  # the backoff
        assert fp.state == ConnectionState.CONNECTED
        again = net.conn
        assert again is not first and again.subscribed == [("a", False)]
        assert again.published == [item]  # same id, same ciphertext
        again.confirm(item.message_id)
        assert (await emit).message_id == item.message_id
    assert rec.states == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.RECONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.CLOSED,
    ]


async def test_redelivery_after_reconnect_is_not_handed_over_twice(
    net: FakeNet, clock: FakeClock, rec: Recorder
) -> None:
    got: list[str] = []
    async with make_client(net, clock, rec, client_id="c1") as fp:
        fp.get("t", lambda m: got.append(m.message_id))
        await settle()
        net.conn.deliver(sealed("t", "x", "m1"))
        await settle()
        net.conn.drop()  # the ACK may not have reached the broker
        await clock.advance(0.5)
        net.conn.deliver(sealed("t", "x", "m1", retry=1))
        await settle()
        assert net.conn.acks == ["m1"]
    assert got == ["m1"]


@pytest.mark.parametrize("code", ["session_dropped", "session_expired", "replaced"])
async def test_final_closing_stops_for_good(net: FakeNet, clock: FakeClock, rec: Recorder, code: str) -> None:
    net.auto_confirm = False
    fp = make_client(net, clock, rec)
    await fp.init()
    emit = asyncio.ensure_future(fp.emit("t", "x"))
    stream = fp.messages("t")
    pulled = asyncio.ensure_future(anext(stream))
    await settle()
    net.conn.drop(code)
    await settle()
    assert fp.state == ConnectionState.CLOSED and len(net.connections) == 1
    with pytest.raises(ClosedError) as err:
        await emit
    assert code in str(err.value)
    with pytest.raises(ClosedError):
        await pulled
    assert rec.errors[0][0].code == code
    await fp.close()


async def test_reconnect_stops_when_password_no_longer_valid(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    fp = make_client(net, clock, rec)
    await fp.init()
    net.refuse_init = BrokerError("invalid_password", "Invalid password", temporary=False)
    net.conn.drop()
    await clock.advance(0.5)
    assert fp.state == ConnectionState.CLOSED
    assert rec.errors[-1][0].code == "invalid_password"
    with pytest.raises(ClosedError):
        await fp.emit("t", "x")


async def test_reconnect_keeps_trying_while_suspended(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    async with make_client(net, clock, rec) as fp:
        net.refuse_init = BrokerError("session_suspended", "Session is suspended", temporary=False)
        net.conn.drop()
        await clock.advance(0.5)
        await clock.advance(1.0)
        assert fp.state == ConnectionState.RECONNECTING
        net.refuse_init = None
        await clock.advance(2.0)
        assert fp.state == ConnectionState.CONNECTED
        assert [e.code for e, _ in rec.errors] == ["session_suspended", "session_suspended"]


async def test_close_ends_iterators_and_pending_emits(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    net.auto_confirm = False
    fp = make_client(net, clock, rec)
    await fp.init()
    emit = asyncio.ensure_future(fp.emit("t", "x"))
    collected: list[Message] = []

    async def consume() -> None:
        async for message in fp.messages("t"):
            collected.append(message)

    consumer = asyncio.ensure_future(consume())
    await settle()
    await fp.close()
    await consumer  # ended normally
    with pytest.raises(ClosedError):
        await emit
    assert net.conn.closed and fp.state == ConnectionState.CLOSED


async def test_async_callbacks_are_supported(net: FakeNet, clock: FakeClock, rec: Recorder) -> None:
    states: list[ConnectionState] = []

    async def on_state(state: ConnectionState, error: FastPortError | None) -> None:
        states.append(state)

    async with make_client(net, clock, rec, on_state=on_state):
        await settle()
    await settle()
    assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED, ConnectionState.CLOSED]
