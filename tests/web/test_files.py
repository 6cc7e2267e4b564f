"""File relay (legacy-json.md §2, §5): init_file and end_file forwarded verbatim,
binary chunks relayed byte-identical to the topic's other subscribers, never answered."""

from __future__ import annotations

import asyncio
import struct

import pytest

from fastport.web import legacy
from fastport.web.legacy import State

from ..support import eventually
from .wire import compact

FILE_ID = "123e4567-e89b-12d3-a456-426614174000"


def chunk(index: int, body: bytes = b"\xa0" * 16 + b"ciphertext", file_id: str = FILE_ID) -> bytes:
    return b"\x02" + file_id.encode("ascii") + struct.pack(">I", index) + body


def init_file(topic: str = "files", file_id: str = FILE_ID) -> dict:
    return {"type": "init_file", "topic": topic, "fileId": file_id, "fileName": "a.bin", "fileSize": 20, "totalChunks": 2}


async def test_file_transfer_is_relayed(joined) -> None:
    receiver = await joined("files")
    wildcard = await joined("+", "#")  # two matching patterns: relayed once
    other_topic = await joined("elsewhere")
    sender = await joined("files")  # subscribed itself: still skipped
    announce = init_file()
    await sender.send(announce)
    for client in (receiver, wildcard):
        assert await client.recv_text() == compact(announce)
    frames = [chunk(0), chunk(1, b"\x00" * 70_000)]
    for frame in frames:
        await sender.send_raw(frame)
    for client in (receiver, wildcard):
        for frame in frames:
            assert await client.recv_raw() == frame
    end = {"type": "end_file", "topic": "files", "fileId": FILE_ID, "hash": ""}
    await sender.send(end)
    for client in (receiver, wildcard):
        assert await client.recv_text() == compact(end)
    # after end_file, chunks for that fileId go nowhere
    await sender.send_raw(chunk(2))
    for client in (receiver, wildcard, other_topic, sender):
        assert await client.silent(0.1)


async def test_init_file_is_forwarded_verbatim(joined) -> None:
    receiver = await joined("files")
    sender = await joined()
    raw = '{ "type": "init_file", "topic": "files", "fileId": "%s", "extra": {"kept": [1, 2.50]} }' % FILE_ID
    await sender.send_raw(raw)
    assert await receiver.recv_text() == raw


async def test_chunks_need_an_announced_file_id(joined) -> None:
    receiver = await joined("files")
    sender = await joined()
    await sender.send_raw(chunk(0))  # never announced
    await sender.send(init_file())
    await receiver.recv()
    await sender.send_raw(chunk(0, file_id="00000000-0000-0000-0000-000000000000"))  # another id
    await sender.send_raw(b"\x03" + chunk(0)[1:])  # wrong frame type
    await sender.send_raw(chunk(0)[:40])  # too short
    assert await receiver.silent()
    assert await sender.silent(0.05)


async def test_announcements_are_per_socket(joined) -> None:
    receiver = await joined("files")
    announcer = await joined()
    other = await joined()
    await announcer.send(init_file())
    await receiver.recv()
    await other.send_raw(chunk(0))  # the other socket did not announce it
    assert await receiver.silent()


async def test_file_errors(ws, joined, rest) -> None:
    sender = await joined()
    missing = '{"type":"error","error":"Missing topic or fileId","code":"invalid_field"}'
    for frame in ({"type": "init_file", "topic": "files"}, {"type": "end_file", "fileId": FILE_ID}):
        await sender.send(frame)
        assert await sender.recv_text() == missing
    await sender.send(init_file(file_id="not-a-uuid"))
    assert await sender.recv_text() == '{"error":"Invalid field: fileId","code":"invalid_field"}'
    await sender.send(init_file(topic="files/#"))
    reply = await sender.recv()
    assert reply["type"] == "error" and reply["code"] == "invalid_topic"
    stranger = await ws()
    await stranger.send(init_file())
    assert await stranger.recv_text() == '{"error":"Not initialized","code":"not_initialized"}'
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    await sender.send(init_file())
    assert await sender.recv_text() == '{"type":"error","error":"Session Invalid or Suspended","code":"session_suspended"}'


async def test_suspension_stops_chunks(joined, rest) -> None:
    receiver = await joined("files")
    sender = await joined()
    await sender.send(init_file())
    await receiver.recv()
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    await sender.send_raw(chunk(0))
    assert await receiver.silent()


@pytest.mark.parametrize("count", [1, 257])
async def test_open_transfers_are_limited(joined, count: int) -> None:
    sender = await joined()
    replies = []
    for i in range(count):
        await sender.send(init_file(file_id=f"{i:036d}"))
    if count > 256:
        replies.append(await sender.recv())
        assert replies[0]["type"] == "error" and replies[0]["code"] == "limit_exceeded"
    assert await sender.silent(0.1)


async def test_a_congested_receiver_holds_the_sender_back_and_loses_no_chunk(app, joined, monkeypatch) -> None:
    """Chunks are not dropped for a receiver that is behind: the sender's socket waits
    for it (its later frames are kept back meanwhile), and once the receiver reads,
    every chunk arrives, in order, and then the sender's next frame is answered."""
    monkeypatch.setattr(legacy, "READ_PAUSE_BYTES", 64 * 1024)
    receiver = await joined("files")  # reads nothing until the end
    sender = await joined("files")
    await sender.send(init_file())
    assert await receiver.recv_text() == compact(init_file())
    # More than the kernel's socket buffers and the client's queue take in.
    frames = [chunk(i, bytes([i % 256]) * 60_000) for i in range(300)]

    async def send_all() -> None:
        for frame in frames:
            await sender.send_raw(frame)
        await sender.send({"type": "subscribe", "topic": "after/chunks"})

    sending = asyncio.create_task(send_all())
    await eventually(lambda: any(p.legacy.state is State.RELAYING for p in app.web.websockets._sockets))
    assert await sender.silent(0.3)
    for frame in frames:
        assert await receiver.recv_raw() == frame
    assert await sender.recv() == {"type": "subscribe_response", "success": True, "topic": "after/chunks"}
    await sending
