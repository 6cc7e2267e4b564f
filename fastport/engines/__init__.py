"""Engines: what keeps messages and delivers them, behind the core's Broker API
(the interface is ``fastport/core/engine.py``).

``embedded`` (the default) tracks deliveries in this process, on the memory or SQLite
store. ``jetstream`` runs fastport nodes as stateless front doors on a NATS JetStream cluster
(docs/engines/jetstream.md).
"""
