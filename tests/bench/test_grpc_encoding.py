"""The gRPC generator's hand-encoded frames decode to what protobuf would have built."""

from __future__ import annotations

import pytest
from fastport_proto.v1 import broker_pb2 as pb

pytest.importorskip("orjson")

from fastport.varint import varint  # noqa: E402
from fastport.bench.worker import _ack_items  # noqa: E402


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 16383, 16384, 1 << 21, (1 << 35) + 7])
def test_varint(n: int) -> None:
    assert pb.Publish.FromString(b"\x08" + varint(n)).request_id == n


def test_ack_items_match_protobuf() -> None:
    cases = [("a/b", "0.1.1732780000123456"), ("t" * 100, "x" * 30), ("t", "y" * 200), ("é/ü", "ø.1"), ("a/b", "0.2.9")]
    messages = [pb.Message(topic=topic, message_id=mid) for topic, mid in cases]
    topics: dict[str, bytes] = {}
    got = b"".join(_ack_items(messages, topics))
    assert got == pb.ClientFrame(ack=[pb.Ack(message_id=mid, topic=topic) for topic, mid in cases]).SerializeToString()
    assert set(topics) == {"a/b", "t" * 100, "t", "é/ü"}
