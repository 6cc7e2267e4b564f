"""A plain Node.js script publishes in the legacy format; this Python receiver reads it.

    python cross_language.py ws://127.0.0.1:3000 my-session my-password KEY [--via grpc://127.0.0.1:50051]

The Node side (clients/node/legacy_client.js) uses nothing but Node's built-in
WebSocket and ``crypto``, the way deployed Node and browser clients do. The Python side
uses ``cipher="legacy-cbc"`` to read that format, through the WebSocket door by
default or through the gRPC door with --via: the broker relays the same bytes on both.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

from fastport_client import FastPort, Message

NODE_CLIENT = Path(__file__).resolve().parents[2] / "node" / "legacy_client.js"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ws_url", help="the server's WebSocket URL (the Node publisher uses it)")
    parser.add_argument("session")
    parser.add_argument("password")
    parser.add_argument("key", help="the session's base64 end-to-end key")
    parser.add_argument("--via", help="receive through this URL instead of ws_url (e.g. grpc://host:50051)")
    parser.add_argument("--text", default="Hello from Node.js!")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None:
        parser.error("node is not installed")

    arrived: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    def on_message(message: Message) -> None:
        if not arrived.done():
            arrived.set_result(message)

    async with FastPort(args.via or args.ws_url, args.session, args.password, args.key, cipher="legacy-cbc") as fp:
        await fp.subscribe("demo/node", on_message)
        publisher = await asyncio.create_subprocess_exec(
            node,
            "--experimental-websocket",
            str(NODE_CLIENT),
            "publish",
            args.ws_url,
            args.session,
            args.password,
            args.key,
            "demo/node",
            args.text,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await publisher.communicate()
        if publisher.returncode != 0:
            print("the Node.js publisher failed", file=sys.stderr)
            return 1
        print(f"node published: {out.decode().strip()}")
        message = await asyncio.wait_for(arrived, 10)
        print(f"python received on {message.topic}: {message.text}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
