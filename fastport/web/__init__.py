"""The HTTP door: the legacy JSON protocol over WebSocket, the REST admin API and
``/health``, on one port, translated onto the broker core.

``codec`` is the protocol without I/O (frames to commands, core events to frames);
``peer``, ``websocket``, ``rest`` and ``server`` are the thin aiohttp layer around it.
"""

from .server import WebDoor

__all__ = ["WebDoor"]
