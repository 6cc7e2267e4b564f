"""Transports: one connection to a fastport server, over gRPC or the legacy WebSocket protocol."""

from .base import Endpoint, Listener, Transport, parse_url

__all__ = ["Endpoint", "Listener", "Transport", "open_transport", "parse_url"]


def open_transport(endpoint: Endpoint, listener: Listener, root_certificates: bytes | None = None) -> Transport:
    """A new, not yet opened, transport for ``endpoint``."""
    if endpoint.kind == "ws":
        from .ws import WebSocketTransport

        return WebSocketTransport(endpoint, listener, root_certificates)
    from .grpc import GrpcTransport

    return GrpcTransport(endpoint, listener, root_certificates)
