"""The ``fastport.v1.Admin`` service: translates admin calls onto the broker core."""

from __future__ import annotations

import logging

import grpc
from fastport_proto.v1 import admin_pb2 as pb
from fastport_proto.v1 import admin_pb2_grpc

from ..auth import AdminAuth
from ..logs import audit_admin_action
from ..core import Broker, BrokerError, ErrorCode, Limits, SessionInfo, SessionSpec
from ..core.broker import LIMITS
from ..core.counters import Counters
from .errors import abort, client_address

audit = logging.getLogger("fastport.audit")


def limits_to_pb(limits: Limits) -> pb.Limits:
    return pb.Limits(**{name: getattr(limits, name) for name in LIMITS})


def limits_from_pb(msg: pb.Limits) -> Limits:
    return Limits(**{name: getattr(msg, name) for name in LIMITS})


def info_to_pb(info: SessionInfo) -> pb.SessionInfo:
    return pb.SessionInfo(
        name=info.name,
        retry_interval_ms=info.retry_interval_ms,
        max_retry_limit=info.max_retry_limit,
        message_expiry_ms=info.message_expiry_ms,
        expires_at_ms=info.expires_at_ms,
        limits=limits_to_pb(info.limits),
        suspended=info.suspended,
        created_at_ms=info.created_at_ms,
        connections=info.connections,
        subscriptions=info.subscriptions,
        pending_messages=info.pending_messages,
        max_remembered_ids=info.max_remembered_ids,
        dead_letter_topic=info.dead_letter_topic,
    )


def info_from_pb(msg: pb.SessionInfo) -> SessionInfo:
    """The reverse of ``info_to_pb``, for clients that show a session (``fastport session``)."""
    return SessionInfo(
        name=msg.name,
        retry_interval_ms=msg.retry_interval_ms,
        max_retry_limit=msg.max_retry_limit,
        message_expiry_ms=msg.message_expiry_ms,
        expires_at_ms=msg.expires_at_ms,
        limits=limits_from_pb(msg.limits),
        suspended=msg.suspended,
        created_at_ms=msg.created_at_ms,
        connections=msg.connections,
        subscriptions=msg.subscriptions,
        pending_messages=msg.pending_messages,
        counters=Counters(),  # not carried over gRPC
        max_remembered_ids=msg.max_remembered_ids,
        dead_letter_topic=msg.dead_letter_topic,
    )


class AdminService(admin_pb2_grpc.AdminServicer):
    def __init__(self, broker: Broker, auth: AdminAuth) -> None:
        self._broker = broker
        self._auth = auth

    @staticmethod
    def _authorization(context: grpc.aio.ServicerContext) -> str | None:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str):
                return value
        return None

    async def _is_admin(self, context: grpc.aio.ServicerContext) -> bool:
        header = self._authorization(context)
        if header is None:
            return False
        try:
            return self._auth.admit(header, client_address(context))
        except BrokerError as err:  # too many wrong tokens from this address
            await abort(context, err)
        return False

    @staticmethod
    async def _refuse(context: grpc.aio.ServicerContext, err: BrokerError, target: str = "") -> None:
        """Abort the call with ``err``, after its audit line."""
        audit.warning(
            "admin call refused: %s",
            err.message,
            extra={"peer": context.peer(), "action": "refused", "target": target},
        )
        await abort(context, err)

    async def _require_admin(self, context: grpc.aio.ServicerContext) -> None:
        """A missing token and a wrong one are told apart: the fix is not the same."""
        if self._authorization(context) is None:
            await self._refuse(context, BrokerError(ErrorCode.UNAUTHENTICATED, "Admin token required"))
        if not await self._is_admin(context):  # a wrong token is audited by the login throttle
            await abort(context, BrokerError(ErrorCode.UNAUTHENTICATED, "Invalid admin token"))

    async def _require_owner(self, request: pb.SessionCredentials, context: grpc.aio.ServicerContext) -> bool:
        """The admin token (True), or this session's own password and secret key (False)."""
        if await self._is_admin(context):
            return True
        if not request.secret_key:
            error = BrokerError(ErrorCode.UNAUTHENTICATED, "Admin token or session credentials required")
            await self._refuse(context, error, request.name)
        # Wrong credentials are audited by the login throttle.
        await self._broker.check_owner(request.name, request.password, request.secret_key, client_address(context))
        return False

    @staticmethod
    def _done(context: grpc.aio.ServicerContext, action: str, session: str, admin: bool) -> None:
        audit_admin_action(context.peer(), action, session, admin)

    async def CreateSession(self, request: pb.CreateSessionRequest, context: grpc.aio.ServicerContext) -> pb.CreateSessionResponse:
        await self._require_admin(context)
        spec = SessionSpec(
            name=request.name,
            password=request.password,
            retry_interval_ms=request.retry_interval_ms,
            max_retry_limit=request.max_retry_limit,
            message_expiry_ms=request.message_expiry_ms,
            session_expiry_ms=request.session_expiry_ms,
            limits=limits_from_pb(request.limits),
            max_remembered_ids=request.max_remembered_ids,
            dead_letter_topic=request.dead_letter_topic,
        )
        try:
            info, secret = await self._broker.create_session(spec)
        except BrokerError as err:
            await abort(context, err)
        self._done(context, "created", info.name, True)
        return pb.CreateSessionResponse(session=info_to_pb(info), secret_key=secret)

    async def DropSession(self, request: pb.SessionCredentials, context: grpc.aio.ServicerContext) -> pb.DropSessionResponse:
        try:
            admin = await self._require_owner(request, context)
            await self._broker.drop_session(request.name)
        except BrokerError as err:
            await abort(context, err)
        self._done(context, "dropped", request.name, admin)
        return pb.DropSessionResponse()

    async def SuspendSession(self, request: pb.SessionCredentials, context: grpc.aio.ServicerContext) -> pb.SessionInfo:
        return await self._set_suspended(request, context, True)

    async def ResumeSession(self, request: pb.SessionCredentials, context: grpc.aio.ServicerContext) -> pb.SessionInfo:
        return await self._set_suspended(request, context, False)

    async def _set_suspended(
        self, request: pb.SessionCredentials, context: grpc.aio.ServicerContext, suspended: bool
    ) -> pb.SessionInfo:
        try:
            admin = await self._require_owner(request, context)
            info = await self._broker.set_suspended(request.name, suspended)
        except BrokerError as err:
            await abort(context, err)
        self._done(context, "suspended" if suspended else "resumed", request.name, admin)
        return info_to_pb(info)

    async def GetSession(self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext) -> pb.SessionInfo:
        await self._require_admin(context)
        try:
            info = self._broker.get_session(request.name)
        except BrokerError as err:
            await abort(context, err)
        return info_to_pb(info)

    async def ListSessions(self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext) -> pb.ListSessionsResponse:
        await self._require_admin(context)
        return pb.ListSessionsResponse(sessions=[info_to_pb(i) for i in self._broker.list_sessions()])
