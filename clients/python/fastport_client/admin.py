"""Session administration from Python, through either door.

A ``grpc://`` URL uses the ``Admin`` service; a ``ws://`` URL uses the same server's
REST API (legacy-json.md §7) on that port, so an operator needs only the URL the
clients already use. Both need the server's admin token; dropping a session also works
with the session's own password and secret key.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import grpc
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc

from .errors import BrokerError, ConnectError
from .transport import Endpoint, parse_url

# Trailing metadata of a refused call: the stable error code, and whether it is temporary.
_ERROR_CODE_KEY = "fastport-error-code"
_ERROR_TEMPORARY_KEY = "fastport-error-temporary"


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    """What a new session's owner needs; ``secret_key`` is shown only once."""

    name: str
    password: str
    secret_key: str


async def create_session(
    url: str,
    name: str,
    password: str,
    *,
    admin_token: str,
    retry_interval_ms: int = 0,
    max_retry_limit: int = 0,
    message_expiry_ms: int = 0,
    session_expiry_ms: int = 0,
    root_certificates: bytes | None = None,
) -> SessionCredentials:
    """Create a session (0 means the server's default for each setting)."""
    endpoint = parse_url(url)
    if endpoint.kind == "grpc":
        request = admin_pb2.CreateSessionRequest(
            name=name,
            password=password,
            retry_interval_ms=retry_interval_ms,
            max_retry_limit=max_retry_limit,
            message_expiry_ms=message_expiry_ms,
            session_expiry_ms=session_expiry_ms,
        )
        response = await _grpc_call(endpoint, root_certificates, admin_token, "CreateSession", request)
        return SessionCredentials(name, password, response.secret_key)
    body: dict[str, Any] = {"sessionName": name, "password": password}
    for key, value in (
        ("retryInterval", retry_interval_ms),
        ("maxRetryLimit", max_retry_limit),
        ("messageExpiryTime", message_expiry_ms),
        ("sessionExpiry", session_expiry_ms),
    ):
        if value:
            body[key] = value
    answer = await _rest_call(endpoint, root_certificates, admin_token, "createSession", body)
    return SessionCredentials(name, password, str(answer["secretKey"]))


async def drop_session(
    url: str,
    name: str,
    *,
    admin_token: str | None = None,
    password: str = "",
    secret_key: str = "",
    root_certificates: bytes | None = None,
) -> None:
    """Drop a session: with the admin token, or with its password and secret key."""
    endpoint = parse_url(url)
    if endpoint.kind == "grpc":
        request = admin_pb2.SessionCredentials(name=name, password=password, secret_key=secret_key)
        await _grpc_call(endpoint, root_certificates, admin_token, "DropSession", request)
    else:
        body = {"sessionName": name, "password": password, "secretKey": secret_key}
        await _rest_call(endpoint, root_certificates, admin_token, "dropSession", body)


async def _grpc_call(
    endpoint: Endpoint, root_certificates: bytes | None, admin_token: str | None, method: str, request: Any
) -> Any:
    target = endpoint.authority
    if endpoint.tls:
        channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root_certificates))
    else:
        channel = grpc.aio.insecure_channel(target)
    metadata = (("authorization", f"Bearer {admin_token}"),) if admin_token else ()
    async with channel:
        try:
            return await getattr(admin_pb2_grpc.AdminStub(channel), method)(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise ConnectError("connect_failed", f"Could not reach {target}: {exc.details()}") from None
            trailing = dict(exc.trailing_metadata() or ())
            code = str(trailing.get(_ERROR_CODE_KEY) or exc.code().name.lower())
            temporary = trailing.get(_ERROR_TEMPORARY_KEY) == "true"
            raise BrokerError(code, exc.details() or code, temporary=temporary) from None


async def _rest_call(
    endpoint: Endpoint, root_certificates: bytes | None, admin_token: str | None, route: str, body: dict[str, Any]
) -> dict[str, Any]:
    url = f"{'https' if endpoint.tls else 'http'}://{endpoint.authority}/api/{route}"
    headers = {"Content-Type": "application/json"}
    if admin_token:
        headers["Authorization"] = f"Bearer {admin_token}"
    context = None
    if endpoint.tls:
        context = ssl.create_default_context()
        if root_certificates is not None:
            context.load_verify_locations(cadata=root_certificates.decode("ascii"))
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")

    def call() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:
            raise ConnectError("connect_failed", f"Could not reach {url}: {exc}") from None

    status, raw = await asyncio.to_thread(call)
    try:
        answer = json.loads(raw)
    except ValueError:
        raise BrokerError.from_code("internal", f"HTTP {status} with a body that is not JSON") from None
    if status != 200 or not isinstance(answer, dict) or answer.get("success") is not True:
        detail = answer if isinstance(answer, dict) else {}
        raise BrokerError.from_code(str(detail.get("code") or f"http_{status}"), str(detail.get("error") or f"HTTP {status}"))
    return answer
