"""The gRPC door: one grpc.aio server with Admin, Broker, health and reflection."""

from __future__ import annotations

import logging

import grpc
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from ..auth import AdminAuth
from ..core import Broker
from .admin import AdminService
from .stream import SERVICE as BROKER_SERVICE
from .stream import BrokerService

log = logging.getLogger("fastport.rpc")

ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name
# Room for a frame's framing around one maximum-size payload.
FRAME_OVERHEAD = 1 << 20
# grpcio-reflection (1.85) implements only v1alpha; current tools (grpcurl, Postman,
# grpcui) ask for v1 first. The v1 protocol is v1alpha's under a new package name, with
# the same messages field for field, so the v1alpha servicer answers it byte for byte.
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


class GrpcDoor:
    def __init__(
        self, *, max_payload_bytes: int, credentials: grpc.ServerCredentials | None = None, reuse_port: bool = False
    ) -> None:
        """``reuse_port``: share the port with other processes (``--workers``); without
        it a port in use is an error, as it should be for one server."""
        self._credentials = credentials
        self._health = health.aio.HealthServicer()
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_payload_bytes + FRAME_OVERHEAD),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", int(reuse_port)),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_permit_without_calls", 1),
            ]
        )
        self.port = 0

    def bind(self, host: str, port: int) -> int:
        """Take the port (0: a free one) before anything else is set up; the server
        serves from ``start``. Raises ``OSError`` when the port cannot be had."""
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if self._credentials is not None:
                self.port = self._server.add_secure_port(address, self._credentials)
            else:
                self.port = self._server.add_insecure_port(address)
        except RuntimeError:  # grpcio reports a port it cannot have this way, without the cause
            self.port = 0
        if not self.port:
            raise OSError(f"cannot listen on {address} (in use, or not an address of this machine)")
        return self.port

    async def start(self, broker: Broker, auth: AdminAuth) -> None:
        server = self._server
        admin_pb2_grpc.add_AdminServicer_to_server(AdminService(broker, auth), server)
        server.add_generic_rpc_handlers((BrokerService(broker).handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = (
            ADMIN_SERVICE,
            BROKER_SERVICE,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
            REFLECTION_V1,
        )
        servicer = reflection.aio.ReflectionServicer(names)
        handler = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}) for name in (reflection.SERVICE_NAME, REFLECTION_V1)]
        )
        await server.start()
        for name in ("", ADMIN_SERVICE, BROKER_SERVICE):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        """Stop accepting calls; open streams get ``grace`` seconds to finish."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
