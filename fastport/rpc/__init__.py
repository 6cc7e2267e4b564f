"""The gRPC door: thin servicers that translate ``fastport.v1`` frames onto the core."""

from .server import GrpcDoor

__all__ = ["GrpcDoor"]
