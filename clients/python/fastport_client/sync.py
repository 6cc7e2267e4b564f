"""A blocking facade over :class:`FastPort`, for scripts that do not use asyncio.

The async client runs on an event loop in a background thread, so its reconnect and
retry keep working while the script blocks. Message callbacks run in worker threads
(one message at a time, as in the async client) and the message is ACKed when the
callback returns, so a slow callback never stalls the connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from .client import FastPort, Message, PublishReceipt
from .crypto import CipherName

T = TypeVar("T")


class SyncFastPort:
    """``with SyncFastPort(url, session, password, key) as fp: fp.emit("t", "hi")``.

    Takes the same arguments as :class:`FastPort`. Connection-level callbacks
    (``on_error``, ``on_state``, ``on_ack`` ...) run on the client's loop thread and
    should return quickly.
    """

    def __init__(
        self,
        url: str,
        session: str,
        password: str,
        key: str | bytes | None = None,
        cipher: CipherName = "aes-gcm",
        **options: Any,
    ) -> None:
        self._client = FastPort(url, session, password, key, cipher, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fastport-client", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def init(self, timeout: float | None = None) -> None:
        """Connect and authenticate; raises like :meth:`FastPort.init`."""
        self._run(self._client.init(), timeout)

    def emit(self, topic: str, message: str | bytes, timeout: float | None = None) -> PublishReceipt:
        """Publish and wait until the broker has stored the message."""
        return self._run(self._client.emit(topic, message), timeout)

    def get(self, topic: str, callback: Callable[[Message], object]) -> None:
        """Call ``callback(message)`` in a worker thread for every message on ``topic``."""

        async def in_thread(message: Message) -> None:
            await asyncio.to_thread(callback, message)

        async def register() -> None:
            self._client.get(topic, in_thread)

        self._run(register())

    def close(self) -> None:
        """Close the client and stop its thread. Safe to call more than once."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close())
            self._run(self._loop.shutdown_default_executor())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> SyncFastPort:
        try:
            self.init()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
