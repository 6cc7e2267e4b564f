"""The broker core: sessions, topics and at-least-once delivery, with no transport.

Doors (gRPC, HTTP/WebSocket) call ``Broker`` and implement ``Peer``; nothing here
imports a network library or a wire format.
"""

from .broker import Broker, BrokerConfig
from .clock import Clock, ManualClock, SystemClock
from .connection import Connection, Peer, PublishOutcome
from .delivery import Message
from .engine import Engine, EngineEvents
from .errors import BrokerError, CloseReason, EngineError, ErrorCode, GiveUpReason
from .session import Limits, SessionInfo, SessionSpec

__all__ = [
    "Broker",
    "BrokerConfig",
    "BrokerError",
    "Clock",
    "CloseReason",
    "Connection",
    "Engine",
    "EngineError",
    "EngineEvents",
    "ErrorCode",
    "GiveUpReason",
    "Limits",
    "ManualClock",
    "Message",
    "Peer",
    "PublishOutcome",
    "SessionInfo",
    "SessionSpec",
    "SystemClock",
]
