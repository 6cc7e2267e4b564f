"""Send messages from a plain (non-async) script, and wait until each is stored.

    python sender.py grpc://127.0.0.1:50051 my-session my-password KEY sensors/t1 '{"temp": 21.5}'

Uses the blocking ``SyncFastPort``; an emit returns once the broker has stored the
message, retrying with the same message id if an answer is slow.
"""

from __future__ import annotations

import argparse

from fastport_client import SyncFastPort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("session")
    parser.add_argument("password")
    parser.add_argument("key", help="the session's base64 end-to-end key")
    parser.add_argument("topic")
    parser.add_argument("messages", nargs="+")
    parser.add_argument("--cipher", choices=["aes-gcm", "legacy-cbc"], default="aes-gcm")
    args = parser.parse_args()
    with SyncFastPort(args.url, args.session, args.password, args.key, args.cipher) as fp:
        for text in args.messages:
            receipt = fp.emit(args.topic, text)
            print(f"stored {receipt.message_id}: sent to {receipt.delivered_to} subscriber(s)", flush=True)


if __name__ == "__main__":
    main()
