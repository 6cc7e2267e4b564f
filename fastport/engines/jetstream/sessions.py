"""Sessions in a replicated JetStream KV bucket, watched by every node.

A session's record (settings, hashed credentials, suspended flag — core/session.py's
``SessionRecord``, never live state) is one JSON value under the key
``name_token(name)``: KV keys allow only ``[-/_=.a-zA-Z0-9]``, while session names
are any printable text, so the name travels inside the value. Every node watches the
bucket and applies each change, so a session created, suspended, resumed or dropped on
one node takes effect on all of them.

Changes that read a record and write it back (suspend, resume) are compare-and-set on
the key's revision: a node never writes over a change it has not seen, so a suspend
racing with a drop cannot bring the dropped session back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ...core.errors import BrokerError, ErrorCode
from ...core.session import Limits, SessionRecord
from .kv import kv_stream, open_bucket, watch_bucket
from .subjects import name_token

BUCKET = "fastport_sessions"
KV_STREAM = kv_stream(BUCKET)


def encode_record(record: SessionRecord) -> bytes:
    return orjson.dumps(dataclasses.asdict(record))


def decode_record(value: bytes) -> SessionRecord:
    fields = orjson.loads(value)
    limits = Limits(**fields.pop("limits"))
    return SessionRecord(**fields, limits=limits)


@dataclass(frozen=True, slots=True)
class SessionChange:
    """One change seen by a watcher: the session's record, or None when it was dropped.

    ``token`` identifies the session either way (a drop carries no record to take the
    name from); ``revision`` orders changes to the same session.
    """

    token: str
    record: SessionRecord | None
    revision: int


class SessionsKV:
    """The sessions bucket, as the engine of one node sees it."""

    def __init__(self, js: JetStreamContext, kv: KeyValue) -> None:
        self._js = js
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> SessionsKV:
        """Bind to the bucket, or create it if this is the first node ever (kv.py)."""
        return cls(js, await open_bucket(js, BUCKET, replicas))

    async def create(self, record: SessionRecord) -> int:
        """Store a new session; ``session_exists`` if one of that name is stored."""
        try:
            return await self._kv.create(name_token(record.name), encode_record(record))
        except KeyWrongLastSequenceError:
            raise BrokerError(ErrorCode.SESSION_EXISTS, "Session already exists") from None

    async def get(self, name: str) -> tuple[SessionRecord, int] | None:
        """The stored record of ``name`` and its revision, or None."""
        try:
            entry = await self._kv.get(name_token(name))
        except KeyNotFoundError:  # also a deleted key (KeyDeletedError is a subclass)
            return None
        assert entry.value is not None and entry.revision is not None
        return decode_record(entry.value), entry.revision

    async def modify(self, name: str, change: Callable[[SessionRecord], SessionRecord]) -> SessionRecord:
        """Apply ``change`` to the stored record, again on the newer record if another
        node wrote in between; ``session_not_found`` if there is none (or no longer)."""
        while True:
            found = await self.get(name)
            if found is None:
                raise BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session not found")
            record, revision = found
            new = change(record)
            try:
                await self._kv.update(name_token(name), encode_record(new), last=revision)
            except KeyWrongLastSequenceError:
                continue
            return new

    async def delete(self, name: str) -> None:
        """Drop the record; ``session_not_found`` if there is none."""
        if await self.get(name) is None:
            raise BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session not found")
        await self._kv.delete(name_token(name))

    async def watch(self) -> AsyncIterator[SessionChange | None]:
        """Every stored session, then None once (caught up: the node may serve), then
        every change as it happens, until the caller stops iterating (kv.py)."""
        async for change in watch_bucket(self._js, BUCKET):
            if change is None:
                yield None
            else:
                record = None if change.value is None else decode_record(change.value)
                yield SessionChange(change.key, record, change.revision)
