"""Receive and print messages until interrupted (or until --count have arrived).

    python receiver.py grpc://127.0.0.1:50051 my-session my-password KEY 'sensors/#'

Each message is ACKed after it has been printed; a message that fails its integrity
check is reported on stderr and never printed as if it were good. With --client-id
the broker keeps what is published while this receiver is away.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from fastport_client import ConnectionState, Delivery, FastPort, FastPortError, Message


def on_error(error: FastPortError, delivery: Delivery | None) -> None:
    where = f" ({delivery.topic} {delivery.message_id})" if delivery else ""
    print(f"rejected{where}: {error.code}: {error.message}", file=sys.stderr, flush=True)


def on_state(state: ConnectionState, error: FastPortError | None) -> None:
    print(f"connection {state.value}" + (f": {error.message}" if error else ""), file=sys.stderr, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("session")
    parser.add_argument("password")
    parser.add_argument("key", help="the session's base64 end-to-end key")
    parser.add_argument("topic", help="a topic or pattern (MQTT wildcards + and #)")
    parser.add_argument("--cipher", choices=["aes-gcm", "legacy-cbc"], default="aes-gcm")
    parser.add_argument("--client-id", help="be a persistent subscriber under this name")
    parser.add_argument("--count", type=int, help="stop after this many messages")
    args = parser.parse_args()
    received = 0
    enough = asyncio.Event()

    def show(message: Message) -> None:
        # ACKed when this returns: a crash while printing means a re-send, not a loss.
        nonlocal received
        print(f"{message.topic} {message.message_id}: {message.text}", flush=True)
        received += 1
        if received == args.count:
            enough.set()

    fp = FastPort(
        args.url,
        args.session,
        args.password,
        args.key,
        args.cipher,
        client_id=args.client_id,
        on_error=on_error,
        on_state=on_state,
    )
    fp.get(args.topic, show)  # before init, so nothing kept for a --client-id arrives unhandled
    async with fp:
        await enough.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
