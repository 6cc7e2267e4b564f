"""The Python side of the Node.js client's cross-language tests (clients/node/test/).

    peer.py seal KEY SESSION TOPIC MESSAGE_ID NONCE_HEX TEXT   -> the aes-gcm data
    peer.py publish URL SESSION PASSWORD KEY CIPHER TOPIC TEXT [ATTRIBUTES_JSON]
    peer.py receive URL SESSION PASSWORD KEY CIPHER TOPIC COUNT
        prints "ready" once subscribed, then {"topic","text","attributes"} per message

Runs on the fastport-client package, as an application would.
"""

from __future__ import annotations

import asyncio
import json
import sys

from fastport_client import FastPort, Message
from fastport_client.crypto import Binding, decode_key, gcm_encrypt


async def publish(url: str, session: str, password: str, key: str, cipher: str, topic: str, text: str, *attrs: str) -> None:
    async with FastPort(url, session, password, key, cipher) as fp:  # type: ignore[arg-type]
        attributes = json.loads(attrs[0]) if attrs else None
        receipt = await fp.emit(topic, text, attributes=attributes)
        print(json.dumps({"messageId": receipt.message_id, "deliveredTo": receipt.delivered_to}))


async def receive(url: str, session: str, password: str, key: str, cipher: str, topic: str, count: str) -> None:
    async with FastPort(url, session, password, key, cipher) as fp:  # type: ignore[arg-type]
        stream = fp.messages(topic)
        await stream.subscribed()
        print("ready", flush=True)
        got = 0
        async for message in stream:
            print(json.dumps(_describe(message)), flush=True)
            got += 1
            if got == int(count):
                break
        await stream.aclose()


def _describe(message: Message) -> dict[str, object]:
    return {"topic": message.topic, "text": message.text, "attributes": dict(message.attributes)}


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "seal":
        key, session, topic, message_id, nonce, text = args
        print(gcm_encrypt(decode_key(key), text.encode(), Binding(session, topic, message_id), bytes.fromhex(nonce)))
    elif command == "publish":
        asyncio.run(publish(*args))
    elif command == "receive":
        asyncio.run(receive(*args))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
