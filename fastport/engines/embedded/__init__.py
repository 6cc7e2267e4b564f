"""The embedded engine: the broker's own delivery tracker in this process, on a store
(``fastport.store``: memory or SQLite). See ``engine.py``."""

from .engine import EmbeddedEngine

__all__ = ["EmbeddedEngine"]
