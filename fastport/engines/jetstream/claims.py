"""Client ids taken over across nodes: the last connection to claim one keeps it.

On one node a second connection with a client id closes the older one (``replaced``):
the engine sees both. Across nodes, the node that takes a client id claims it, and
every other node holding an older connection with that id closes it the same way.

A claim must be ordered against the others: two connections with one client id can
arrive on two nodes at the same moment, and exactly one must stay — the later one,
as every node agrees. So a claim is first written to KV bucket ``fastport_clients``
(key: the session's and the client id's tokens); its revision, a sequence number of
the bucket's stream that JetStream hands out in the order it stores writes, is the
claim's place in time. Then the claim, with that revision, goes to every node on core
NATS subject ``fastport.clients``. A node holding a connection whose own claim has a
lower revision closes it; one whose claim is still being written remembers the
highest revision it heard and compares once its own comes back. Clocks play no part.

Claims are told at most once (core NATS). A node cut off from NATS when one was told
reads, once NATS is back, the last claim stored for each client id it holds (``last``)
and closes its connection if another's is later; a connection whose own claim could
not be written (NATS unreachable when it joined) gives way to any claim it hears, and
is claimed again when NATS is back. docs/engines/jetstream.md.

The bucket keeps one value per key for ``TTL_S``: only the revisions matter, and they
keep growing when old values expire, so a bucket of client ids never grows past those
used within the last hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from .kv import open_bucket
from .subjects import ROOT, name_token

log = logging.getLogger("fastport.jetstream")

BUCKET = "fastport_clients"
SUBJECT = f"{ROOT}.clients"
TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Claim:
    """Connection ``number`` of ``node`` took ``client_id`` in ``session``, as the
    ``revision``-th write of the bucket."""

    session: str
    client_id: str
    node: str
    number: int
    revision: int

    def encode(self) -> bytes:
        return orjson.dumps([self.session, self.client_id, self.node, self.number, self.revision])

    @classmethod
    def decode(cls, data: bytes) -> Claim:
        session, client_id, node, number, revision = orjson.loads(data)
        return cls(str(session), str(client_id), str(node), int(number), int(revision))


def claim_key(session: str, client_id: str) -> str:
    return f"{name_token(session)}.{name_token(client_id)}"


class Claims:
    """One node's end: it claims client ids and hears the other nodes' claims."""

    def __init__(self, nc: Client, kv: KeyValue, node: str, heard: Callable[[Claim], None]) -> None:
        self._nc = nc
        self._kv = kv
        self.node = node
        self._heard = heard
        self._sub: Subscription | None = None

    @classmethod
    async def open(
        cls, js: JetStreamContext, nc: Client, node: str, replicas: int, heard: Callable[[Claim], None]
    ) -> Claims:
        """Bind to (or make) the bucket and listen: ``heard(claim)`` for every claim of
        another node."""
        claims = cls(nc, await open_bucket(js, BUCKET, replicas, ttl_s=TTL_S), node, heard)
        claims._sub = await nc.subscribe(SUBJECT, cb=claims._received)
        return claims

    async def close(self) -> None:
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()

    async def claim(self, session: str, client_id: str, number: int) -> Claim:
        """Write the claim (its revision orders it), then tell every node. Raises what
        the KV write raises when JetStream does not answer."""
        revision = await self._kv.put(claim_key(session, client_id), orjson.dumps([self.node, number]))
        claim = Claim(session, client_id, self.node, number, revision)
        await self._nc.publish(SUBJECT, claim.encode())
        return claim

    async def last(self, session: str, client_id: str) -> Claim | None:
        """The claim stored last for ``client_id`` (None if none within ``TTL_S``)."""
        try:
            entry = await self._kv.get(claim_key(session, client_id))
        except KeyNotFoundError:
            return None
        assert entry.value is not None and entry.revision is not None
        node, number = orjson.loads(entry.value)
        return Claim(session, client_id, str(node), int(number), entry.revision)

    async def _received(self, msg: Msg) -> None:
        try:
            claim = Claim.decode(msg.data)
        except (ValueError, TypeError) as exc:
            log.warning("a client id claim that does not parse, ignored: %s", exc)
            return
        if claim.node != self.node:  # this node's own take-overs are done when they happen
            self._heard(claim)
