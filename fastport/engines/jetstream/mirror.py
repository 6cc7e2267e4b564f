"""Every node's view of the sessions bucket, kept current: what makes a session
created, suspended, resumed or dropped on one node take effect on all of them.

``SessionMirror.start`` reads every stored session (the node builds its sessions from
them before it serves), then keeps watching the bucket (sessions.py) and calls
``changed(record)`` for each session created or changed and ``removed(name)`` for
each dropped, on whichever node the change was made — the node's own changes come
back too, so both callbacks must take a change the node already made as nothing new.

A watch that fails (the NATS connection closed under it, a bug) is started again
after a pause, and what it reads then is compared with what the mirror knew: a
session missing from it was dropped meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ...core.session import SessionRecord
from .sessions import SessionsKV

log = logging.getLogger("fastport.jetstream")

RESTART_PAUSE_S = 1.0


class SessionMirror:
    def __init__(
        self,
        kv: SessionsKV,
        changed: Callable[[SessionRecord], None],
        removed: Callable[[str], None],
    ) -> None:
        self._kv = kv
        self._changed = changed
        self._removed = removed
        self.records: dict[str, SessionRecord] = {}  # by token (a drop names only its token)
        self._task: asyncio.Task[None] | None = None
        self._caught_up: asyncio.Future[None] | None = None

    async def start(self) -> list[SessionRecord]:
        """Every stored session, once read; from then on changes arrive as they happen."""
        self._caught_up = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="fastport-sessions-watch")
        await asyncio.shield(self._caught_up)
        return list(self.records.values())

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
                log.error("watching the sessions bucket failed (%s); watching again in %.0f s", exc, RESTART_PAUSE_S)
            await asyncio.sleep(RESTART_PAUSE_S)

    async def _watch(self) -> None:
        """One watch: the stored sessions, compared with what was known, then changes."""
        seen: dict[str, SessionRecord] | None = {}
        async for change in self._kv.watch():
            if change is None:  # caught up: whatever was known and is not stored any more is gone
                assert seen is not None
                for token in set(self.records) - set(seen):
                    self._apply(token, None)
                seen = None
                if self._caught_up is not None and not self._caught_up.done():
                    self._caught_up.set_result(None)
                continue
            if seen is not None and change.record is not None:
                seen[change.token] = change.record
            self._apply(change.token, change.record)

    def _apply(self, token: str, record: SessionRecord | None) -> None:
        """Record a change; tell the node of it once the first read is over (what that
        read finds, ``start`` returns)."""
        tell = self._caught_up is not None and self._caught_up.done()
        known = self.records.get(token)
        if record is None:
            if known is not None:
                del self.records[token]
                if tell:
                    self._removed(known.name)
        elif record != known:
            self.records[token] = record
            if tell:
                self._changed(record)
