"""fastport-client: publish and subscribe through a fastport broker from Python.

See :class:`FastPort` for the async client and :func:`generate_key` for keys.
"""

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
    PublishTimeoutError,
)

__all__ = [
    "BrokerError",
    "ClosedError",
    "ConfigError",
    "ConnectError",
    "CryptoError",
    "FastPortError",
    "HandlerError",
    "InvalidKeyError",
    "PublishTimeoutError",
    "generate_key",
]
