from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Limits(_message.Message):
    __slots__ = ("max_payload_bytes", "max_connections", "max_subscriptions", "max_pending_messages", "max_pending_bytes", "max_in_flight")
    MAX_PAYLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_PENDING_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_PENDING_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    max_payload_bytes: int
    max_connections: int
    max_subscriptions: int
    max_pending_messages: int
    max_pending_bytes: int
    max_in_flight: int
    def __init__(self, max_payload_bytes: _Optional[int] = ..., max_connections: _Optional[int] = ..., max_subscriptions: _Optional[int] = ..., max_pending_messages: _Optional[int] = ..., max_pending_bytes: _Optional[int] = ..., max_in_flight: _Optional[int] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("name", "password", "retry_interval_ms", "max_retry_limit", "message_expiry_ms", "session_expiry_ms", "limits", "max_remembered_ids", "dead_letter_topic")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    RETRY_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EXPIRY_MS_FIELD_NUMBER: _ClassVar[int]
    SESSION_EXPIRY_MS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    MAX_REMEMBERED_IDS_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTER_TOPIC_FIELD_NUMBER: _ClassVar[int]
    name: str
    password: str
    retry_interval_ms: int
    max_retry_limit: int
    message_expiry_ms: int
    session_expiry_ms: int
    limits: Limits
    max_remembered_ids: int
    dead_letter_topic: str
    def __init__(self, name: _Optional[str] = ..., password: _Optional[str] = ..., retry_interval_ms: _Optional[int] = ..., max_retry_limit: _Optional[int] = ..., message_expiry_ms: _Optional[int] = ..., session_expiry_ms: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., max_remembered_ids: _Optional[int] = ..., dead_letter_topic: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session", "secret_key")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    session: SessionInfo
    secret_key: str
    def __init__(self, session: _Optional[_Union[SessionInfo, _Mapping]] = ..., secret_key: _Optional[str] = ...) -> None: ...

class SessionCredentials(_message.Message):
    __slots__ = ("name", "password", "secret_key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    password: str
    secret_key: str
    def __init__(self, name: _Optional[str] = ..., password: _Optional[str] = ..., secret_key: _Optional[str] = ...) -> None: ...

class DropSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[SessionInfo]
    def __init__(self, sessions: _Optional[_Iterable[_Union[SessionInfo, _Mapping]]] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("name", "retry_interval_ms", "max_retry_limit", "message_expiry_ms", "expires_at_ms", "limits", "suspended", "created_at_ms", "connections", "subscriptions", "pending_messages", "max_remembered_ids", "dead_letter_topic")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETRY_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EXPIRY_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    PENDING_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_REMEMBERED_IDS_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTER_TOPIC_FIELD_NUMBER: _ClassVar[int]
    name: str
    retry_interval_ms: int
    max_retry_limit: int
    message_expiry_ms: int
    expires_at_ms: int
    limits: Limits
    suspended: bool
    created_at_ms: int
    connections: int
    subscriptions: int
    pending_messages: int
    max_remembered_ids: int
    dead_letter_topic: str
    def __init__(self, name: _Optional[str] = ..., retry_interval_ms: _Optional[int] = ..., max_retry_limit: _Optional[int] = ..., message_expiry_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., suspended: _Optional[bool] = ..., created_at_ms: _Optional[int] = ..., connections: _Optional[int] = ..., subscriptions: _Optional[int] = ..., pending_messages: _Optional[int] = ..., max_remembered_ids: _Optional[int] = ..., dead_letter_topic: _Optional[str] = ...) -> None: ...
