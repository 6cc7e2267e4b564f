"""Engines: what keeps messages and delivers them, behind the core's Broker API.

``jetstream`` runs fastport nodes as stateless front doors on a NATS JetStream cluster
(docs/engines/jetstream.md).
"""
