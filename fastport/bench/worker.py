"""A generator process: some publishers, subscribers or idle connections on one door.

The parent (``runner``) starts several of these so that the generator is not the
bottleneck, and drives them over a pipe with small commands: ``start`` (publishers
begin), ``sample`` (counters, CPU, latency histogram), ``stop`` (publishers stop and
wait for their outstanding publish results), ``drain`` (subscribers wait for what
was confirmed to arrive) and ``exit``.

Message ids carry what the measurement needs: ``"<publisher>.<seq>.<send time µs>"``.
Subscribers mark each (publisher, seq) in a bitmap to count lost and duplicate
deliveries, and take the end-to-end latency from the send time (the legacy
``timestamp`` field only has milliseconds).

Every loop here ends: publishing by the parent's ``stop`` (or the message count),
waits by their timeouts, and the process itself when the parent goes quiet for
``idle_timeout`` seconds or closes the pipe.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import orjson

from . import mqttclient, wsclient
from .hist import Histogram
from ..varint import varint
from .payloads import make_pool
from .proc import raise_fd_limit, self_cpu

CONNECT_TIMEOUT_S = 30.0
MAX_ERRORS_KEPT = 5
GRPC_CONNECT = "/fastport.v1.Broker/Connect"
# Streams opened per gRPC channel (one HTTP/2 connection) for idle connections.
IDLE_STREAMS_PER_CHANNEL = 100


class SetupError(Exception):
    pass


def _mark(bitmap: bytearray, seq: int) -> bool:
    """Set ``seq``; True if it was already set."""
    if seq >= len(bitmap):
        bitmap.extend(bytes(max(seq + 1 - len(bitmap), 65536)))
    was = bitmap[seq]
    bitmap[seq] = 1
    return bool(was)


class Worker:
    def __init__(self, spec: dict[str, Any], delivered: Any) -> None:
        self.spec = spec
        self.delivered_by = delivered  # per subscriber index, shared between processes
        self.pool = make_pool(spec["size"])
        self.published = 0
        self.acked = 0
        self.pub_errors = 0
        self.acks_received = 0
        self.delivered = 0
        self.duplicates = 0
        self.retries = 0
        self.foreign = 0  # messages whose id is not ours
        self.closed = 0
        self.errors: list[str] = []
        self.hist = Histogram()
        self.publishers: list[Any] = []
        self.subscribers: list[Any] = []
        self.idle: list[Any] = []
        self.stalled: list[Any] = []
        self._idle_channels: list[Any] = []
        self._on_channel = 0
        self.sending = False

    def note_error(self, text: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT and text not in self.errors:
            self.errors.append(text)

    def on_message(self, sub: Any, message_id: str, now_us: int, retry: int) -> None:
        """Count one delivery: distinct or duplicate, and its latency."""
        self.delivered += 1
        if retry:
            self.retries += 1
        try:
            pub, seq, sent = message_id.split(".")
            bitmap = sub.received.get(pub)
            if bitmap is None:
                bitmap = sub.received[pub] = bytearray()
            if _mark(bitmap, int(seq)):
                self.duplicates += 1
            self.hist.add(now_us - int(sent))
        except (ValueError, AttributeError):
            self.foreign += 1

    def sample(self, reset_latency: bool, with_latency: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "wall": time.monotonic(),
            "cpu": self_cpu(),
            "published": self.published,
            "acked": self.acked,
            "pub_errors": self.pub_errors,
            "acks_received": self.acks_received,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "retries": self.retries,
            "foreign": self.foreign,
            "closed": self.closed,
            "errors": list(self.errors),
            "publishing": any(p.sending for p in self.publishers),
        }
        if with_latency:
            out["latency"] = self.hist.state()
        if reset_latency:
            self.hist = Histogram()
        return out

    # -- lifecycle --

    async def _connect_all(self, clients: list[Any]) -> None:
        sem = asyncio.Semaphore(self.spec.get("connect_concurrency", 64))

        async def limited(coro: Any) -> None:
            async with sem:
                await coro

        await asyncio.wait_for(
            asyncio.gather(*(limited(c.setup()) for c in clients)),
            CONNECT_TIMEOUT_S + len(clients) / 100,
        )

    async def setup(self) -> None:
        spec = self.spec
        if spec["door"] == "ws":
            self.subscribers = [WsSubscriber(self, i, t) for i, t in spec["subscribers"]]
            self.publishers = [WsPublisher(self, i, t) for i, t in spec["publishers"]]
        elif spec["door"] == "mqtt":
            self.subscribers = [MqttSubscriber(self, i, t) for i, t in spec["subscribers"]]
            self.publishers = [MqttPublisher(self, i, t) for i, t in spec["publishers"]]
        else:
            self.subscribers = [GrpcSubscriber(self, i, t) for i, t in spec["subscribers"]]
            self.publishers = [GrpcPublisher(self, i, t) for i, t in spec["publishers"]]
        self.stalled = [
            (WsStalled if door == "ws" else GrpcStalled)(self, host, port, topic)
            for door, host, port, topic in spec.get("stalled", ())
        ]
        await self._connect_all([*self.subscribers, *self.publishers, *self.stalled])

    async def open_idle(self, count: int) -> None:
        """Open ``count`` more idle initialized connections (gRPC: streams, up to
        ``IDLE_STREAMS_PER_CHANNEL`` on each channel)."""
        if self.spec["door"] == "ws":
            new: list[Any] = [WsIdle(self) for _ in range(count)]
        else:
            new = []
            for _ in range(count):
                if not self._idle_channels or self._on_channel >= IDLE_STREAMS_PER_CHANNEL:
                    self._idle_channels.append(_grpc_channel(self.spec))
                    self._on_channel = 0
                new.append(GrpcIdle(self, self._idle_channels[-1]))
                self._on_channel += 1
        self.idle += new
        await self._connect_all(new)

    def start(self) -> None:
        self.sending = True
        for p in self.publishers:
            p.start()

    async def stop(self, timeout: float) -> dict[str, bytes]:
        """Stop publishing and wait (bounded) for the outstanding publish results."""
        for p in self.publishers:
            p.sending = False
        deadline = time.monotonic() + timeout
        while any(p.inflight for p in self.publishers) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return {str(p.index): bytes(p.acked_seqs) for p in self.publishers}

    async def drain(self, expected: dict[str, dict[str, int]], timeout: float) -> list[dict[str, Any]]:
        """Wait (bounded) until each subscriber has every confirmed message of its
        topic's publishers, then report what each received."""

        def complete(sub: Any) -> bool:
            for pub, want in expected.get(sub.topic, {}).items():
                got = sub.received.get(pub)
                if got is None or got.count(1) < want:
                    return False
            return True

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(complete(s) for s in self.subscribers):
            await asyncio.sleep(0.05)
        return [
            {"index": s.index, "topic": s.topic, "received": {p: bytes(b) for p, b in s.received.items()}}
            for s in self.subscribers
        ]

    async def close(self) -> None:
        for c in [*self.publishers, *self.subscribers, *self.idle, *self.stalled]:
            await c.close()
        for ch in self._idle_channels:
            await ch.close()


# ---------------------------------------------------------------------- WebSocket


class _WsRole:
    """Connection set-up common to every WebSocket role: connect, init, (subscribe)."""

    client: wsclient.WsClient

    def __init__(self, w: Worker) -> None:
        self.w = w
        self._waiting: tuple[str, asyncio.Future[dict[str, Any]]] | None = None

    async def setup(self) -> None:
        await self._open()

    async def _open(self, host: str = "", port: int = 0) -> None:
        spec = self.w.spec
        self.client = await asyncio.wait_for(
            wsclient.connect(host or spec["host"], port or spec["port"], spec.get("path", "/"), self.on_frames),
            CONNECT_TIMEOUT_S,
        )
        self.client.closed.add_done_callback(self._on_closed)
        await self._request({"type": "init", "sessionName": spec["session"], "password": spec["password"]}, "init_response")

    def _on_closed(self, fut: asyncio.Future[str]) -> None:
        self.w.closed += 1
        self.w.note_error(f"ws: {fut.result()}")

    async def _request(self, frame: dict[str, Any], reply: str) -> None:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting = (reply, fut)
        self.client.send([orjson.dumps(frame)])
        answer = await asyncio.wait_for(fut, CONNECT_TIMEOUT_S)
        self._waiting = None
        if not answer.get("success"):
            raise SetupError(f"{frame['type']} refused: {answer.get('error')}")

    def _control(self, f: dict[str, Any]) -> None:
        waiting = self._waiting
        if waiting is not None and f.get("type") == waiting[0] and not waiting[1].done():
            waiting[1].set_result(f)
        elif "error" in f:
            self.w.note_error(f"ws: {f.get('error')} ({f.get('code', '')})")

    def on_frames(self, frames: list[bytearray]) -> None:
        for raw in frames:
            self._control(orjson.loads(raw))

    async def close(self) -> None:
        if hasattr(self, "client"):
            self.client.closed.remove_done_callback(self._on_closed)
            self.client.close()


class _Receiving:
    """Subscriber bookkeeping shared by both doors: what arrived, per publisher."""

    def __init__(self, w: Worker, index: int, topic: str) -> None:
        self.index = index
        self.topic = topic
        self.received: dict[str, bytearray] = {}
        self.ack = w.spec["ack"]


class WsIdle(_WsRole):
    """An initialized connection that does nothing (scenario e)."""


class WsSubscriber(_WsRole, _Receiving):
    def __init__(self, w: Worker, index: int, topic: str) -> None:
        _WsRole.__init__(self, w)
        _Receiving.__init__(self, w, index, topic)

    async def setup(self) -> None:
        await self._open()
        await self._request({"type": "subscribe", "topic": self.topic}, "subscribe_response")

    def on_frames(self, frames: list[bytearray]) -> None:
        w = self.w
        now = time.time_ns() // 1000
        acks = []
        loads = orjson.loads
        for raw in frames:
            f = loads(raw)
            if f.get("type") == "message":
                mid = f.get("messageId")
                w.on_message(self, mid, now, f.get("retry", 0))
                if self.ack:
                    acks.append(b'{"type":"ack","topic":' + orjson.dumps(f.get("topic")) + b',"messageId":' + orjson.dumps(mid) + b"}")
            else:
                self._control(f)
        if acks:
            self.client.send(acks)


class WsStalled(_WsRole):
    """Subscribes, then never reads again (the slow-subscriber scenario): the server
    sees a socket whose receive window stays shut."""

    def __init__(self, w: Worker, host: str, port: int, topic: str) -> None:
        super().__init__(w)
        self._address = (host, port)
        self.topic = topic

    async def setup(self) -> None:
        await self._open(*self._address)
        await self._request({"type": "subscribe", "topic": self.topic}, "subscribe_response")
        assert self.client.transport is not None
        self.client.transport.pause_reading()


class _Publishing:
    """Window, rate and message-count bookkeeping shared by both doors' publishers."""

    def __init__(self, w: Worker, index: int, topic: str) -> None:
        spec = w.spec
        self.w = w
        self.index = index
        self.topic = topic
        self.window: int = spec["window"]
        self.rate: float = spec["rate"]  # per publisher, msgs/s; 0 = as fast as the window allows
        self.limit: int = spec["messages"]  # per publisher; 0 = until stopped
        self.seq = 0
        self.inflight = 0
        self.sending = False
        self.acked_seqs = bytearray()
        self._t0 = 0.0
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.sending = True
        self._t0 = time.monotonic()
        if self.rate:
            self._ticker = asyncio.ensure_future(self._tick())
        else:
            self.fill()

    async def _tick(self) -> None:
        """Fixed rate: every millisecond, send what is due (bounded by the window)."""
        while self.sending:
            self.fill()
            await asyncio.sleep(0.001)

    def allowance(self) -> int:
        n = self.window - self.inflight
        if self.rate:
            n = min(n, int((time.monotonic() - self._t0) * self.rate) + 1 - self.seq)
        if self.limit:
            n = min(n, self.limit - self.seq)
            if n <= 0 and self.seq >= self.limit:
                self.sending = False
        return n

    def result(self, seq: int, ok: bool, error: str) -> None:
        """A publish result; ``seq`` is -1 when it cannot be told which publish it answers."""
        self.inflight -= 1
        w = self.w
        if ok:
            w.acked += 1
            if seq >= 0:
                _mark(self.acked_seqs, seq)
            else:
                w.note_error("a publish result for an unknown message id")
        else:
            w.pub_errors += 1
            w.note_error(f"publish refused: {error}")

    def fill(self) -> None:
        raise NotImplementedError


class WsPublisher(_WsRole, _Publishing):
    def __init__(self, w: Worker, index: int, topic: str) -> None:
        _WsRole.__init__(self, w)
        _Publishing.__init__(self, w, index, topic)
        topic_json = orjson.dumps(topic)
        self._prefixes = [
            b'{"type":"publish","topic":' + topic_json + b',"data":' + orjson.dumps(p.data)
            + b',"hash":' + orjson.dumps(p.hash) + b',"timestamp":'
            for p in w.pool
        ]
        self._tag = str(index).encode()

    def fill(self) -> None:
        if not self.sending:
            return
        n = self.allowance()
        if n <= 0:
            return
        now_us = time.time_ns() // 1000
        tail = b'%d,"messageId":"%s.' % (now_us // 1000, self._tag)
        end = b".%d\"}" % now_us
        prefixes = self._prefixes
        count = len(prefixes)
        seq = self.seq
        frames = [prefixes[s % count] + tail + b"%d" % s + end for s in range(seq, seq + n)]
        self.seq = seq + n
        self.inflight += n
        self.w.published += n
        self.client.send(frames)

    def on_frames(self, frames: list[bytearray]) -> None:
        loads = orjson.loads
        result = self.result
        for raw in frames:
            f = loads(raw)
            kind = f.get("type")
            if kind == "publish_response":
                try:
                    seq = int(f.get("messageId", "").split(".")[1])
                except (ValueError, IndexError, AttributeError):
                    seq = -1
                result(seq, f.get("success") is True, str(f.get("error")))
            elif kind == "ack_received":
                self.w.acks_received += 1
            else:
                self._control(f)
        if self.sending and not self.rate:
            self.fill()

    async def close(self) -> None:
        self.sending = False
        await _WsRole.close(self)


# ---------------------------------------------------------------------- gRPC


def _len_field(key: int, data: bytes) -> bytes:
    """A length-delimited protobuf field; ``key`` is (field number << 3) | 2."""
    return bytes((key,)) + varint(len(data)) + data


def _ack_items(messages: Any, topics: dict[str, bytes]) -> list[bytes]:
    """``ClientFrame.ack`` items for ``messages``, encoded by hand as the WebSocket
    subscriber builds its ack frames: ``pb.Ack`` objects and a ``ClientFrame`` cost the
    generator several times more per ACK (bench/README.md, "The generator's own
    costs"). ``topics`` caches each topic's encoded field."""
    out = []
    for m in messages:
        topic = topics.get(m.topic)
        if topic is None:
            topic = topics[m.topic] = _len_field(0x12, m.topic.encode())  # Ack.topic
        mid = m.message_id.encode()
        if len(mid) < 0x80 and len(mid) + len(topic) < 0x7E:  # one-byte lengths
            out.append(b"\x2a%c\x0a%c%s%s" % (len(mid) + 2 + len(topic), len(mid), mid, topic))
        else:
            out.append(_len_field(0x2A, _len_field(0x0A, mid) + topic))
    return out


def _grpc_channel(spec: dict[str, Any]) -> Any:
    import grpc

    return grpc.aio.insecure_channel(
        f"{spec['host']}:{spec['port']}",
        options=[
            ("grpc.max_receive_message_length", -1),
            ("grpc.enable_retries", 0),
            # One TCP connection per client, as each WebSocket client has its own.
            ("grpc.use_local_subchannel_pool", 1),
        ],
    )


class _GrpcRole:
    def __init__(self, w: Worker, channel: Any = None) -> None:
        self.w = w
        self._own_channel = channel is None
        self.channel = channel
        self.call: Any = None
        self.batch = w.spec["batch"]
        self._task: asyncio.Task[None] | None = None

    async def setup(self) -> None:
        await self._open()

    async def _open(self) -> None:
        from fastport_proto.v1 import broker_pb2 as pb

        spec = self.w.spec
        if self.channel is None:
            self.channel = _grpc_channel(spec)
        self.call = self.channel.stream_stream(
            GRPC_CONNECT,
            request_serializer=None,  # frames are written encoded (the publisher builds its own)
            response_deserializer=pb.ServerFrame.FromString,
        )()
        init = pb.Init(request_id=1, session=spec["session"], password=spec["password"])
        await self.call.write(pb.ClientFrame(init=init).SerializeToString())
        frame = await asyncio.wait_for(self.call.read(), CONNECT_TIMEOUT_S)
        if not frame.HasField("init_result"):
            raise SetupError("init: no init result")
        if frame.init_result.HasField("error"):
            raise SetupError(f"init refused: {frame.init_result.error.message}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.call is not None:
            self.call.cancel()
        if self._own_channel and self.channel is not None:
            await self.channel.close()

    def _frame_errors(self, frame: Any) -> None:
        for err in frame.errors:
            self.w.note_error(f"grpc: {err.code}: {err.message}")
        if frame.HasField("closing"):
            self.w.closed += 1
            self.w.note_error(f"grpc: closed by server: {frame.closing.code}")

    def _ended(self, exc: BaseException) -> None:
        self.w.closed += 1
        self.w.note_error(f"grpc: stream ended: {type(exc).__name__}: {exc}")


class GrpcIdle(_GrpcRole):
    """An initialized stream that does nothing (scenario e)."""


class GrpcSubscriber(_GrpcRole, _Receiving):
    def __init__(self, w: Worker, index: int, topic: str) -> None:
        _GrpcRole.__init__(self, w)
        _Receiving.__init__(self, w, index, topic)

    async def setup(self) -> None:
        from fastport_proto.v1 import broker_pb2 as pb

        await self._open()
        await self.call.write(pb.ClientFrame(subscribe=[pb.Subscribe(request_id=2, topic=self.topic)]).SerializeToString())
        while True:
            frame = await asyncio.wait_for(self.call.read(), CONNECT_TIMEOUT_S)
            if frame.subscribe_results:
                if frame.subscribe_results[0].HasField("error"):
                    raise SetupError(f"subscribe refused: {frame.subscribe_results[0].error.message}")
                break
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        import grpc

        w = self.w
        call = self.call
        batch = self.batch
        topics: dict[str, bytes] = {}
        try:
            while True:
                frame = await call.read()
                if frame is grpc.aio.EOF:
                    return
                now = time.time_ns() // 1000
                messages = frame.messages
                if messages:
                    for m in messages:
                        w.on_message(self, m.message_id, now, m.retry)
                    if self.ack:
                        acks = _ack_items(messages, topics)
                        for i in range(0, len(acks), batch):
                            await call.write(b"".join(acks[i : i + batch]))
                if frame.errors or frame.HasField("closing"):
                    self._frame_errors(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._ended(exc)


class GrpcStalled(_GrpcRole):
    """Subscribes, then never reads the stream again (the slow-subscriber scenario)."""

    def __init__(self, w: Worker, host: str, port: int, topic: str) -> None:
        super().__init__(w, _grpc_channel({"host": host, "port": port}))
        self._own_channel = True
        self.topic = topic

    async def setup(self) -> None:
        from fastport_proto.v1 import broker_pb2 as pb

        await self._open()
        await self.call.write(pb.ClientFrame(subscribe=[pb.Subscribe(request_id=2, topic=self.topic)]).SerializeToString())
        while not (await asyncio.wait_for(self.call.read(), CONNECT_TIMEOUT_S)).subscribe_results:
            pass


class GrpcPublisher(_GrpcRole, _Publishing):
    def __init__(self, w: Worker, index: int, topic: str) -> None:
        _GrpcRole.__init__(self, w)
        _Publishing.__init__(self, w, index, topic)
        self._tag = f"{index}.".encode()
        # Publish fields that do not change, encoded once per pool entry; the request
        # id, timestamp and message id are added per message (see _write_loop).
        self._static = [
            _len_field(0x12, topic.encode()) + _len_field(0x1A, p.data.encode()) + _len_field(0x22, p.hash.encode())
            for p in w.pool
        ]
        self._wake = asyncio.Event()

    async def setup(self) -> None:
        await self._open()
        self._task = asyncio.ensure_future(self._read())

    def start(self) -> None:
        self.sending = True
        self._t0 = time.monotonic()
        self._ticker = asyncio.ensure_future(self._write_loop())

    def fill(self) -> None:
        self._wake.set()

    async def _write_loop(self) -> None:
        """The one task that writes this stream (grpc.aio allows one write at a time):
        sends what the window (and rate) allows, then sleeps until results free room.

        ClientFrames are written as bytes put together from pre-encoded pieces, as the
        WebSocket publisher does with its JSON: with a single publisher and a window,
        the time the publisher takes between a batch of results and the next batch of
        publishes is time the server waits, so a slow generator would understate the
        door's throughput."""
        static = self._static
        count = len(static)
        tag = self._tag
        call = self.call
        batch = self.batch
        try:
            while self.sending:
                n = self.allowance()
                if n > 0:
                    now_us = time.time_ns() // 1000
                    tail = b"\x28" + varint(now_us // 1000) + b"\x32"  # timestamp_ms, then message_id's key
                    suffix = b".%d" % now_us
                    seq = self.seq
                    items = []
                    for s in range(seq, seq + n):
                        mid = tag + b"%d" % s + suffix
                        item = b"\x08" + varint(s + 1) + static[s % count] + tail + varint(len(mid)) + mid
                        items.append(b"\x22" + varint(len(item)) + item)  # ClientFrame.publish
                    self.seq = seq + n
                    self.inflight += n
                    self.w.published += n
                    for i in range(0, n, batch):
                        await call.write(b"".join(items[i : i + batch]))
                    continue
                if self.rate:
                    await asyncio.sleep(0.001)
                else:
                    self._wake.clear()
                    await self._wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.sending = False
            self._ended(exc)

    async def _read(self) -> None:
        import grpc

        call = self.call
        result = self.result
        w = self.w
        try:
            while True:
                frame = await call.read()
                if frame is grpc.aio.EOF:
                    return
                for r in frame.publish_results:  # request_id is seq + 1
                    if r.HasField("error"):
                        result(r.request_id - 1, False, r.error.message)
                    else:
                        result(r.request_id - 1, True, "")
                if frame.acks_received:
                    w.acks_received += len(frame.acks_received)
                if frame.errors or frame.HasField("closing"):
                    self._frame_errors(frame)
                if not self.rate:
                    self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._ended(exc)

    async def close(self) -> None:
        self.sending = False
        self._wake.set()
        if self._ticker is not None:
            self._ticker.cancel()
        await _GrpcRole.close(self)


# ---------------------------------------------------------------------- MQTT


class _MqttRole:
    """One MQTT 3.1.1 connection (``mqttclient``: the generator's own minimal QoS 1
    client, so that the broker, not the generator, is the busy process)."""

    client: mqttclient.MqttClient

    def __init__(self, w: Worker) -> None:
        self.w = w

    async def setup(self) -> None:
        spec = self.w.spec
        try:
            self.client = await mqttclient.connect(spec["host"], spec["port"], self.on_publish, self.on_puback, CONNECT_TIMEOUT_S)
        except (TimeoutError, ConnectionError) as exc:
            raise SetupError(f"mqtt: {exc or 'no answer to CONNECT'}") from None
        self.client.closed.add_done_callback(self._on_closed)

    def _on_closed(self, fut: asyncio.Future[str]) -> None:
        self.w.closed += 1
        self.w.note_error(f"mqtt: {fut.result()}")

    def on_publish(self, publishes: list[mqttclient.Publish]) -> None:
        self.w.note_error("mqtt: a PUBLISH for a connection that subscribed to nothing")

    def on_puback(self, packet_ids: list[int]) -> None:
        self.w.note_error("mqtt: a PUBACK for a connection that published nothing")

    async def close(self) -> None:
        if hasattr(self, "client"):
            self.client.closed.remove_done_callback(self._on_closed)
            self.client.close()


class MqttSubscriber(_MqttRole, _Receiving):
    """A QoS 1 subscription: every delivery a read brought in is counted, then all
    their PUBACKs leave in one write."""

    def __init__(self, w: Worker, index: int, topic: str) -> None:
        _MqttRole.__init__(self, w)
        _Receiving.__init__(self, w, index, topic)

    async def setup(self) -> None:
        await _MqttRole.setup(self)
        granted = await self.client.subscribe(self.topic, CONNECT_TIMEOUT_S)
        if granted != 1:
            raise SetupError(f"mqtt: subscription not granted at QoS 1 (SUBACK {granted:#x})")

    def on_publish(self, publishes: list[mqttclient.Publish]) -> None:
        w = self.w
        now = time.time_ns() // 1000
        puback = mqttclient.puback_packet
        for p in publishes:
            payload = p.payload
            w.on_message(self, payload[: payload.find(b" ")].decode(), now, p.dup)
        w.delivered_by[self.index] += len(publishes)
        self.client.send([puback(p.packet_id) for p in publishes])


class MqttPublisher(_MqttRole, _Publishing):
    """QoS 1 publishes, a window of them unacknowledged: a PUBACK settles one.
    Payload: the message id, a space, then a pool entry's encrypted ``data`` (the
    bytes fastport carries for the same message).

    The window also bounds the publishes some subscriber of the topic has not yet
    received (counted in the shared ``delivered_by``). Mosquitto answers a publish
    before delivering it and never slows a publisher down, so with PUBACKs alone one
    publisher queues without bound in front of ten subscribers (b): deliveries lag by
    seconds and the broker's CPU is spent on messages the run never sees delivered.
    fastport's doors hold a publisher back themselves."""

    PACE_POLL_S = 0.0002  # when only the subscribers' progress can open the window

    def __init__(self, w: Worker, index: int, topic: str) -> None:
        _MqttRole.__init__(self, w)
        _Publishing.__init__(self, w, index, topic)
        self._topic = mqttclient.utf8(topic)
        self._bodies = [b" " + p.data.encode() for p in w.pool]
        self._tag = b"%d." % index
        self._seq_of: dict[int, int] = {}  # packet id -> seq
        self._subscribers = w.spec["subscribers_of"][topic]
        self._poll: asyncio.TimerHandle | None = None

    def allowance(self) -> int:
        n = _Publishing.allowance(self)
        if self._subscribers:
            slowest = min(self.w.delivered_by[i] for i in self._subscribers)
            n = min(n, self.window - (self.seq - slowest))
        return n

    def _repoll(self) -> None:
        self._poll = None
        self.fill()

    def fill(self) -> None:
        if not self.sending:
            return
        n = self.allowance()
        if n <= 0:
            if self.inflight == 0 and self._poll is None:  # no PUBACK left to wake us
                self._poll = asyncio.get_running_loop().call_later(self.PACE_POLL_S, self._repoll)
            return
        now_us = time.time_ns() // 1000
        end = b".%d" % now_us
        bodies = self._bodies
        count = len(bodies)
        topic = self._topic
        tag = self._tag
        seq_of = self._seq_of
        publish = mqttclient.publish_packet
        packets = []
        for s in range(self.seq, self.seq + n):
            packet_id = s % mqttclient.MAX_PACKET_ID + 1  # 1..65535; the window is far smaller
            seq_of[packet_id] = s
            packets.append(publish(topic, packet_id, tag + b"%d" % s + end + bodies[s % count]))
        self.seq += n
        self.inflight += n
        self.w.published += n
        self.client.send(packets)

    def on_puback(self, packet_ids: list[int]) -> None:
        """A PUBACK at QoS 1 always means success (MQTT 3.1.1 has no reason codes)."""
        seq_of = self._seq_of
        for packet_id in packet_ids:
            self.result(seq_of.pop(packet_id, -1), True, "")
        if self.sending and not self.rate:
            self.fill()

    async def close(self) -> None:
        self.sending = False
        if self._poll is not None:
            self._poll.cancel()
        await _MqttRole.close(self)


# ---------------------------------------------------------------------- process


async def _serve(conn: Any, spec: dict[str, Any], delivered: Any) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def read_commands() -> None:
        """Blocking reads in a thread: the pipe stays in blocking mode (an event-loop
        reader would make it non-blocking, and a large reply would then fail)."""
        while True:
            try:
                cmd = conn.recv()
            except (EOFError, OSError):
                cmd = {"cmd": "exit"}
            loop.call_soon_threadsafe(commands.put_nowait, cmd)
            if cmd["cmd"] == "exit":
                return

    worker = Worker(spec, delivered)
    try:
        await worker.setup()
    except Exception as exc:
        conn.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        await worker.close()
        return
    conn.send({"ready": True, "sample": worker.sample(False, False)})
    threading.Thread(target=read_commands, daemon=True, name="commands").start()
    try:
        for _ in itertools.count():
            try:
                cmd = await asyncio.wait_for(commands.get(), spec["idle_timeout"])
            except TimeoutError:
                break  # the parent is gone or stuck: do not outlive it
            kind = cmd["cmd"]
            if kind == "start":
                worker.start()
            elif kind == "sample":
                conn.send(worker.sample(cmd.get("reset", False), cmd.get("latency", False)))
            elif kind == "stop":
                conn.send({"acked": await worker.stop(cmd["timeout"])})
            elif kind == "open":
                try:
                    await worker.open_idle(cmd["count"])
                    conn.send({"opened": len(worker.idle)})
                except Exception as exc:
                    conn.send({"error": f"{type(exc).__name__}: {exc}"})
            elif kind == "drain":
                conn.send({"subscribers": await worker.drain(cmd["expected"], cmd["timeout"])})
            elif kind == "exit":
                break
    finally:
        await worker.close()


def main(conn: Any, spec: dict[str, Any], delivered: Any) -> None:
    """Entry point of a generator process (multiprocessing, spawn); ``delivered`` is
    every subscriber's delivery count, shared by all of the run's processes."""
    raise_fd_limit()
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(conn, spec, delivered))
    conn.close()
