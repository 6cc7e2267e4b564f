"""The crypto test vectors (shared/protocol/vectors.json) through the door: each
message vector is published raw, arrives byte-identical, passes its hash check and
decrypts to its plaintext; the file-chunk vector is relayed byte-identical."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .wire import compact

VECTORS_PATH = Path(__file__).resolve().parents[1] / "data" / "vectors.json"
VECTORS = {v["name"]: v for v in json.loads(VECTORS_PATH.read_text())["vectors"]}


def decrypt(key: bytes, data: str) -> bytes:
    iv_b64, ct_b64 = data.split(":")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(base64.b64decode(iv_b64))).decryptor()
    padded = decryptor.update(base64.b64decode(ct_b64)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


@pytest.mark.parametrize("name", ["V1", "V2", "V3", "V4-fcm"])
async def test_message_vector_round_trip(joined, name: str) -> None:
    vector = VECTORS[name]
    receiver = await joined("sensors/+")
    publisher = await joined()
    await publisher.send(
        {
            "type": "publish",
            "topic": "sensors/t1",
            "data": vector["data"],
            "hash": vector["hash"],
            "timestamp": 1_700_000_000_123,
            "messageId": f"msg-{name}",
        }
    )
    assert (await publisher.recv())["deliveredTo"] == 1
    raw = await receiver.recv_text()
    assert raw == compact(
        {
            "type": "message",
            "topic": "sensors/t1",
            "data": vector["data"],
            "hash": vector["hash"],
            "timestamp": 1_700_000_000_123,
            "messageId": f"msg-{name}",
        }
    )
    message = json.loads(raw)
    assert hashlib.sha256(message["data"].encode("utf-8")).hexdigest() == vector["hash"]
    key = bytes.fromhex(vector["secretKeyHex"]) if "secretKeyHex" in vector else base64.b64decode(vector["keyB64"])
    assert decrypt(key, message["data"]).decode("utf-8") == vector["plaintext"]
    assert base64.b64decode(message["data"].split(":")[1]).hex() == vector["ctHex"]
    await receiver.send({"type": "ack", "topic": message["topic"], "messageId": message["messageId"]})
    assert await publisher.recv_text() == compact(
        {"type": "ack_received", "messageId": f"msg-{name}", "topic": "sensors/t1", "remaining": 0}
    )


async def test_file_chunk_vector_is_relayed_byte_identical(joined) -> None:
    vector = VECTORS["V5-chunk"]
    frame = bytes.fromhex(vector["frameHex"])
    assert len(frame) == vector["frameLen"]
    receiver = await joined("files/x")
    sender = await joined()
    await sender.send({"type": "init_file", "topic": "files/x", "fileId": vector["fileId"], "fileName": "v5",
                       "fileSize": len(vector["chunkHex"]) // 2, "totalChunks": 2})
    await receiver.recv()
    await sender.send_raw(frame)
    got = await receiver.recv_raw()
    assert got == frame
    assert got[1:37].decode("ascii") == vector["fileId"]
    assert int.from_bytes(got[37:41], "big") == vector["chunkIndex"]
    key = base64.b64decode(vector["keyB64"])
    decryptor = Cipher(algorithms.AES(key), modes.CBC(got[41:57])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(got[57:]) + decryptor.finalize()) + unpadder.finalize()
    assert plain.hex() == vector["chunkHex"]
