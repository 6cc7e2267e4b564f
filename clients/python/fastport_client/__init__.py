"""fastport-client: publish and subscribe through a fastport broker from Python.

::

    from fastport_client import FastPort

    async with FastPort("grpc://127.0.0.1:50051", "my-session", "password", key) as fp:
        fp.get("sensors/#", lambda message: print(message.topic, message.text))
        await fp.emit("sensors/t1", '{"temp": 21.5}')

:class:`FastPort` is the async client (``ws://`` URLs use the legacy JSON protocol),
:class:`SyncFastPort` a blocking facade for scripts, :func:`generate_key` makes an
end-to-end key, and :func:`create_session` / :func:`drop_session` manage sessions.
Every error is a :class:`FastPortError` with a stable ``code``.
"""

from importlib.metadata import version

from .admin import SessionCredentials, create_session, drop_session
from .client import Backoff, ConnectionState, FastPort, Message, MessageStream, PublishReceipt
from .crypto import generate_key
from .errors import (
    BrokerError,
    ClosedError,
    ConfigError,
    ConnectError,
    CryptoError,
    FastPortError,
    HandlerError,
    InvalidKeyError,
    NotEncryptedError,
    PublishTimeoutError,
)
from .sync import SyncFastPort
from .transport.base import AckReceived, Delivery, DeliveryFailed

__version__ = version("fastport-client")

__all__ = [
    "__version__",
    "AckReceived",
    "Backoff",
    "BrokerError",
    "ClosedError",
    "ConfigError",
    "ConnectError",
    "ConnectionState",
    "CryptoError",
    "Delivery",
    "DeliveryFailed",
    "FastPort",
    "FastPortError",
    "HandlerError",
    "InvalidKeyError",
    "Message",
    "MessageStream",
    "NotEncryptedError",
    "PublishReceipt",
    "PublishTimeoutError",
    "SessionCredentials",
    "SyncFastPort",
    "create_session",
    "drop_session",
    "generate_key",
]
