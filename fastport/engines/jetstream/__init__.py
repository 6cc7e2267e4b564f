"""The jetstream engine: sessions in a replicated KV bucket, one stream per session,
one consumer per subscription (docs/engines/jetstream.md)."""

from .engine import JetStreamEngine
from .link import NatsOptions

__all__ = ["JetStreamEngine", "NatsOptions"]
