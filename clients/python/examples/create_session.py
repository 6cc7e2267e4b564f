"""Create a session and a fresh end-to-end key, and print what its clients need.

    python create_session.py grpc://127.0.0.1:50051 my-session my-password --admin-token TOKEN

The admin token is the server's (``fastport serve`` prints where it keeps it); it can
also come from FASTPORT_ADMIN_TOKEN. A ``ws://`` URL goes through the REST API instead.
The key never reaches the server: share it with the session's clients only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from fastport_client import create_session, generate_key


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("session")
    parser.add_argument("password")
    parser.add_argument("--admin-token", default=os.environ.get("FASTPORT_ADMIN_TOKEN"), required=False)
    args = parser.parse_args()
    if not args.admin_token:
        parser.error("an admin token is needed (--admin-token or FASTPORT_ADMIN_TOKEN)")
    created = await create_session(args.url, args.session, args.password, admin_token=args.admin_token)
    print(
        json.dumps(
            {
                "session": created.name,
                "password": created.password,
                "secretKey": created.secret_key,  # shown once: keep it to drop or suspend the session
                "key": generate_key(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
