"""Base-128 integers, least significant group first: protobuf's varint, and MQTT's
Remaining Length (§2.2.3) alike. The gRPC door encodes message items by hand with it
(rpc/stream.py), and the benchmark's load generators encode their frames with it."""

from __future__ import annotations


def varint(n: int) -> bytes:
    """``n`` (≥ 0) as a varint."""
    if n < 0x4000:  # lengths and ids: one or two bytes, no loop
        return bytes((n,)) if n < 0x80 else bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)
