"""A node's copy of a KV bucket, kept current: how a change made on one node (a
session created, suspended, resumed or dropped; a subscription made or ended) takes
effect on every node.

``Mirror.start`` reads every key of the bucket (the node builds its state from what
it returns before it serves), then keeps watching (kv.py) and calls ``changed(value)``
for each key created or changed and ``removed(value)`` (the last value it had) for
each key deleted, on whichever node the change was made — the node's own changes come
back too, so both callbacks must take a change the node already made as nothing new.

A watch that fails (the NATS connection closed under it, a bug) is started again
after a pause, and what it reads then is compared with what the mirror knew: a key
missing from it was deleted meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from nats.js import JetStreamContext

from .kv import watch_bucket

log = logging.getLogger("fastport.jetstream")

RESTART_PAUSE_S = 1.0
V = TypeVar("V")


class Mirror(Generic[V]):
    def __init__(
        self,
        js: JetStreamContext,
        bucket: str,
        decode: Callable[[bytes], V],
        changed: Callable[[V], None],
        removed: Callable[[V], None],
    ) -> None:
        self._js = js
        self.bucket = bucket
        self._decode = decode
        self._changed = changed
        self._removed = removed
        self.values: dict[str, V] = {}  # by key
        self._task: asyncio.Task[None] | None = None
        self._caught_up: asyncio.Future[None] | None = None

    async def start(self) -> list[V]:
        """Every stored value, once read; from then on changes arrive as they happen."""
        self._caught_up = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"fastport-watch-{self.bucket}")
        await asyncio.shield(self._caught_up)
        return list(self.values.values())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._caught_up is not None and not self._caught_up.done():
                    self._caught_up.set_exception(exc)
                    return
                log.error("watching bucket %s failed (%s); watching again in %.0f s", self.bucket, exc, RESTART_PAUSE_S)
            await asyncio.sleep(RESTART_PAUSE_S)

    async def _watch(self) -> None:
        """One watch: the stored values, compared with what was known, then changes."""
        seen: set[str] | None = set()
        async for change in watch_bucket(self._js, self.bucket):
            if change is None:  # caught up: whatever was known and is not stored any more is gone
                assert seen is not None
                for key in set(self.values) - seen:
                    self._apply(key, None)
                seen = None
                if self._caught_up is not None and not self._caught_up.done():
                    self._caught_up.set_result(None)
                continue
            if seen is not None and change.value is not None:
                seen.add(change.key)
            self._apply(change.key, None if change.value is None else self._decode(change.value))

    def _apply(self, key: str, value: V | None) -> None:
        """Record a change; tell the node of it once the first read is over (what that
        read finds, ``start`` returns)."""
        tell = self._caught_up is not None and self._caught_up.done()
        known = self.values.get(key)
        if value is None:
            if known is not None:
                del self.values[key]
                if tell:
                    self._removed(known)
        elif value != known:
            self.values[key] = value
            if tell:
                self._changed(value)
