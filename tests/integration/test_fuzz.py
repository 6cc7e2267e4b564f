"""Both doors fuzzed (hypothesis) against a real server process: whatever one client
sends, no reply is ``internal``, the server logs no ERROR and no traceback, and a
control publisher/subscriber pair in another session loses nothing
(DESIGN.md "One tenant never hurts another").

The examples are few (a few seconds in all): this runs in ``make test`` to catch a
door that lets a value through to where it fails, not to search long.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from ..support import ADMIN_METADATA, ServerProcess

FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TIMEOUT = 5.0

# Sessions a fuzzing client may name: its own (right password, so that frames get past
# init), one it does not know the password of, and one that does not exist. Wrong
# passwords are rare, or the login throttle would soon refuse every init.
SESSION = st.sampled_from(["fz", "fz", "fz", "victim", "nope"])
PASSWORD = st.sampled_from(["pw"] * 8 + ["wrong"])
INTS = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1])
SCALARS = st.none() | st.booleans() | INTS | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)
TOPIC = st.sampled_from(["t", "a/b", "a/+", "#", "", "sys/logs", "a//b"]) | st.text(max_size=10)
FIELDS = {
    "sessionName": SESSION | JSON,
    "password": PASSWORD | JSON,
    "topic": TOPIC | JSON,
    "data": JSON,
    "hash": st.text(max_size=8) | JSON,
    "timestamp": INTS | JSON,
    "messageId": st.text(max_size=12) | JSON,
    "clientId": st.text(max_size=8) | JSON,
    "persistent": st.booleans() | JSON,
    "fileId": st.text(max_size=6) | JSON,
    "userId": st.text(max_size=6) | JSON,
}
TYPES = st.sampled_from(["init", "publish", "subscribe", "unsubscribe", "ack", "init_file", "end_file", "ping", "?"])


@st.composite
def ws_frame(draw: st.DrawFn) -> tuple[str | bytes, bool]:
    """A frame and whether it goes as text (bytes as text: maybe not UTF-8)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=64)), draw(st.booleans())
    if kind == 1:
        return draw(st.text(max_size=64)), True
    if kind == 2:  # deep nesting
        depth = draw(st.integers(200, 1200))
        return json.dumps({"type": "publish", "topic": "t", "data": json.loads("[" * depth + "]" * depth)}), True
    frame: dict[str, Any] = {"type": draw(TYPES | JSON)}
    if kind == 3:
        frame = {"type": "init", "sessionName": draw(SESSION), "password": draw(PASSWORD)}
    for key in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=5, unique=True)):
        frame[key] = draw(FIELDS[key])
    return json.dumps(frame, allow_nan=True), kind != 4  # JSON in a binary frame, too


GRPC_STRINGS = st.text(max_size=12)
GRPC_PUBLISH = st.builds(
    pb.Publish,
    request_id=st.integers(0, 2**64 - 1),
    topic=TOPIC,
    payload=st.binary(max_size=32),
    hash=GRPC_STRINGS,
    timestamp_ms=st.integers(-(2**63), 2**63 - 1),
    message_id=GRPC_STRINGS,
    json=st.booleans(),
)
GRPC_FRAME = st.builds(
    pb.ClientFrame,
    init=st.none() | st.builds(pb.Init, request_id=st.integers(0, 2**64 - 1), session=SESSION, password=PASSWORD, client_id=GRPC_STRINGS),
    subscribe=st.lists(st.builds(pb.Subscribe, request_id=st.integers(0, 2**64 - 1), topic=TOPIC, persistent=st.booleans()), max_size=2),
    publish=st.lists(GRPC_PUBLISH, max_size=3),
    ack=st.lists(st.builds(pb.Ack, message_id=GRPC_STRINGS, topic=TOPIC), max_size=2),
)


@st.composite
def grpc_bytes(draw: st.DrawFn, message: st.SearchStrategy[Any]) -> bytes:
    """A message's encoding, or that encoding with bytes changed, or noise."""
    data = draw(message).SerializeToString()
    how = draw(st.integers(0, 3))
    if how == 1 and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif how == 2:
        data = draw(st.binary(max_size=64))
    elif how == 3 and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


class Control:
    """A publisher and a subscriber in their own session, checked after each example."""

    def __init__(self, sub: ClientConnection, pub: ClientConnection) -> None:
        self.sub = sub
        self.pub = pub
        self._ids = itertools.count()

    def check(self) -> None:
        message_id = f"c{next(self._ids)}"
        self.pub.send(json.dumps({"type": "publish", "topic": "c", "data": "x", "messageId": message_id}))
        assert json.loads(self.pub.recv(TIMEOUT))["deliveredTo"] == 1
        got = json.loads(self.sub.recv(TIMEOUT))
        assert (got["type"], got["messageId"], got.get("retry", 0)) == ("message", message_id, 0)
        self.sub.send(json.dumps({"type": "ack", "topic": "c", "messageId": message_id}))
        assert json.loads(self.pub.recv(TIMEOUT))["type"] == "ack_received"


def _joined(ws: ClientConnection, session: str, topic: str | None = None) -> ClientConnection:
    ws.send(json.dumps({"type": "init", "sessionName": session, "password": "pw"}))
    assert json.loads(ws.recv(TIMEOUT))["success"]
    if topic is not None:
        ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        assert json.loads(ws.recv(TIMEOUT))["success"]
    return ws


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Control]]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("fuzz")), args=["--max-payload", "65536"]).start()
    try:
        with grpc.insecure_channel(server.grpc_address) as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            for name in ("fz", "ctl", "victim"):
                admin.CreateSession(admin_pb2.CreateSessionRequest(name=name, password="pw"), metadata=ADMIN_METADATA)
        url = f"ws://127.0.0.1:{server.ports['http']}/"
        with ws_connect(url) as sub, ws_connect(url) as pub:
            yield server, Control(_joined(sub, "ctl", "c"), _joined(pub, "ctl"))
    finally:
        server.stop()


def _clean(server: ServerProcess, control: Control) -> None:
    """What every example ends with: the control pair served, nothing logged as a failure."""
    control.check()
    log = server.read_log()  # read each time, or the server blocks on a full stderr pipe
    server.log.clear()
    assert " ERROR " not in log and "Traceback" not in log, log


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _reply_codes(frame: pb.ServerFrame) -> list[str]:
    items = [frame.init_result, *frame.subscribe_results, *frame.unsubscribe_results, *frame.publish_results]
    return [e.code for e in frame.errors] + [i.error.code for i in items if i.HasField("error")]


@FUZZ
@given(frames=st.lists(ws_frame(), min_size=1, max_size=6))
def test_websocket_door(fuzzed: tuple[ServerProcess, Control], frames: list[tuple[str | bytes, bool]]) -> None:
    server, control = fuzzed
    with ws_connect(f"ws://127.0.0.1:{server.ports['http']}/", max_size=None) as ws:
        try:
            for frame, text in frames:
                ws.send(frame, text=text)
                if text and isinstance(frame, bytes) and not _utf8(frame):
                    break  # the server closes the socket (1007): what is sent next may meet a closed one
            # The door answers pings in order with the frames before them: once the
            # pong is back, every reply is. No pong: the server closed the socket.
            pong, deadline = ws.ping(), time.monotonic() + TIMEOUT
            while not pong.wait(0.005):
                assert time.monotonic() < deadline, "no pong"
                if ws.state is not State.OPEN:
                    ws.recv(TIMEOUT)  # raises ConnectionClosed
            while True:
                reply = ws.recv(0)
                if isinstance(reply, str):  # (bytes: a file chunk relayed to this socket)
                    assert json.loads(reply).get("code") != "internal", reply
        except TimeoutError:
            pass  # all read
        except ConnectionClosed as closed:  # e.g. 1007 for invalid UTF-8, 1009 for a frame too large
            assert closed.rcvd is not None and closed.rcvd.code not in (1011, 1006), closed
    _clean(server, control)


@FUZZ
@given(frames=st.lists(grpc_bytes(GRPC_FRAME), min_size=1, max_size=4))
def test_grpc_connect(fuzzed: tuple[ServerProcess, Control], frames: list[bytes]) -> None:
    server, control = fuzzed
    with grpc.insecure_channel(server.grpc_address) as channel:
        connect = channel.stream_stream("/fastport.v1.Broker/Connect")
        for reply in connect(iter(frames), timeout=TIMEOUT):
            assert "internal" not in _reply_codes(pb.ServerFrame.FromString(reply))
    _clean(server, control)


@FUZZ
@given(request=grpc_bytes(st.builds(pb.PublishRequest, session=SESSION, password=PASSWORD, publish=GRPC_PUBLISH)))
def test_grpc_unary_publish(fuzzed: tuple[ServerProcess, Control], request: bytes) -> None:
    server, control = fuzzed
    with grpc.insecure_channel(server.grpc_address) as channel:
        try:
            channel.unary_unary("/fastport.v1.Broker/Publish")(request, timeout=TIMEOUT)
        except grpc.RpcError as err:
            code = dict(err.trailing_metadata() or ()).get("fastport-error-code")  # type: ignore[attr-defined]
            assert code is not None and code != "internal", err
    _clean(server, control)
