"""The jetstream engine: sessions in a replicated KV bucket, one stream per session,
one consumer per subscription (docs/engines/jetstream.md)."""
