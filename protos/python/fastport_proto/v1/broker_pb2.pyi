from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientFrame(_message.Message):
    __slots__ = ("init", "subscribe", "unsubscribe", "publish", "ack", "nack")
    INIT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    init: Init
    subscribe: _containers.RepeatedCompositeFieldContainer[Subscribe]
    unsubscribe: _containers.RepeatedCompositeFieldContainer[Unsubscribe]
    publish: _containers.RepeatedCompositeFieldContainer[Publish]
    ack: _containers.RepeatedCompositeFieldContainer[Ack]
    nack: _containers.RepeatedCompositeFieldContainer[Nack]
    def __init__(self, init: _Optional[_Union[Init, _Mapping]] = ..., subscribe: _Optional[_Iterable[_Union[Subscribe, _Mapping]]] = ..., unsubscribe: _Optional[_Iterable[_Union[Unsubscribe, _Mapping]]] = ..., publish: _Optional[_Iterable[_Union[Publish, _Mapping]]] = ..., ack: _Optional[_Iterable[_Union[Ack, _Mapping]]] = ..., nack: _Optional[_Iterable[_Union[Nack, _Mapping]]] = ...) -> None: ...

class Init(_message.Message):
    __slots__ = ("request_id", "session", "password", "client_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    session: str
    password: str
    client_id: str
    def __init__(self, request_id: _Optional[int] = ..., session: _Optional[str] = ..., password: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...

class Subscribe(_message.Message):
    __slots__ = ("request_id", "topic", "persistent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PERSISTENT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    topic: str
    persistent: bool
    def __init__(self, request_id: _Optional[int] = ..., topic: _Optional[str] = ..., persistent: _Optional[bool] = ...) -> None: ...

class Unsubscribe(_message.Message):
    __slots__ = ("request_id", "topic")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    topic: str
    def __init__(self, request_id: _Optional[int] = ..., topic: _Optional[str] = ...) -> None: ...

class Publish(_message.Message):
    __slots__ = ("request_id", "topic", "payload", "hash", "timestamp_ms", "message_id", "json", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    topic: str
    payload: bytes
    hash: str
    timestamp_ms: int
    message_id: str
    json: bool
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, request_id: _Optional[int] = ..., topic: _Optional[str] = ..., payload: _Optional[bytes] = ..., hash: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., message_id: _Optional[str] = ..., json: _Optional[bool] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("message_id", "topic", "request_id")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    topic: str
    request_id: int
    def __init__(self, message_id: _Optional[str] = ..., topic: _Optional[str] = ..., request_id: _Optional[int] = ...) -> None: ...

class Nack(_message.Message):
    __slots__ = ("message_id", "topic", "request_id")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    topic: str
    request_id: int
    def __init__(self, message_id: _Optional[str] = ..., topic: _Optional[str] = ..., request_id: _Optional[int] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("session", "password", "publish")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    session: str
    password: str
    publish: Publish
    def __init__(self, session: _Optional[str] = ..., password: _Optional[str] = ..., publish: _Optional[_Union[Publish, _Mapping]] = ...) -> None: ...

class ServerFrame(_message.Message):
    __slots__ = ("init_result", "subscribe_results", "unsubscribe_results", "publish_results", "messages", "acks_received", "delivery_failures", "errors", "closing", "ack_results")
    INIT_RESULT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_RESULTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ACKS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FAILURES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    CLOSING_FIELD_NUMBER: _ClassVar[int]
    ACK_RESULTS_FIELD_NUMBER: _ClassVar[int]
    init_result: InitResult
    subscribe_results: _containers.RepeatedCompositeFieldContainer[SubscribeResult]
    unsubscribe_results: _containers.RepeatedCompositeFieldContainer[UnsubscribeResult]
    publish_results: _containers.RepeatedCompositeFieldContainer[PublishResult]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    acks_received: _containers.RepeatedCompositeFieldContainer[AckReceived]
    delivery_failures: _containers.RepeatedCompositeFieldContainer[DeliveryFailed]
    errors: _containers.RepeatedCompositeFieldContainer[Error]
    closing: Closing
    ack_results: _containers.RepeatedCompositeFieldContainer[AckResult]
    def __init__(self, init_result: _Optional[_Union[InitResult, _Mapping]] = ..., subscribe_results: _Optional[_Iterable[_Union[SubscribeResult, _Mapping]]] = ..., unsubscribe_results: _Optional[_Iterable[_Union[UnsubscribeResult, _Mapping]]] = ..., publish_results: _Optional[_Iterable[_Union[PublishResult, _Mapping]]] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., acks_received: _Optional[_Iterable[_Union[AckReceived, _Mapping]]] = ..., delivery_failures: _Optional[_Iterable[_Union[DeliveryFailed, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[Error, _Mapping]]] = ..., closing: _Optional[_Union[Closing, _Mapping]] = ..., ack_results: _Optional[_Iterable[_Union[AckResult, _Mapping]]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("request_id", "code", "message", "temporary")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    code: str
    message: str
    temporary: bool
    def __init__(self, request_id: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., temporary: _Optional[bool] = ...) -> None: ...

class InitResult(_message.Message):
    __slots__ = ("request_id", "session", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    session: str
    error: Error
    def __init__(self, request_id: _Optional[int] = ..., session: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class SubscribeResult(_message.Message):
    __slots__ = ("request_id", "topic", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    topic: str
    error: Error
    def __init__(self, request_id: _Optional[int] = ..., topic: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class UnsubscribeResult(_message.Message):
    __slots__ = ("request_id", "topic", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    topic: str
    error: Error
    def __init__(self, request_id: _Optional[int] = ..., topic: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class PublishResult(_message.Message):
    __slots__ = ("request_id", "message_id", "delivered_to", "duplicate", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_TO_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    message_id: str
    delivered_to: int
    duplicate: bool
    error: Error
    def __init__(self, request_id: _Optional[int] = ..., message_id: _Optional[str] = ..., delivered_to: _Optional[int] = ..., duplicate: _Optional[bool] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class AckResult(_message.Message):
    __slots__ = ("request_id", "message_id", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    message_id: str
    error: Error
    def __init__(self, request_id: _Optional[int] = ..., message_id: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("topic", "message_id", "payload", "hash", "timestamp_ms", "retry", "json", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    topic: str
    message_id: str
    payload: bytes
    hash: str
    timestamp_ms: int
    retry: int
    json: bool
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, topic: _Optional[str] = ..., message_id: _Optional[str] = ..., payload: _Optional[bytes] = ..., hash: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., retry: _Optional[int] = ..., json: _Optional[bool] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AckReceived(_message.Message):
    __slots__ = ("message_id", "topic", "remaining")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    topic: str
    remaining: int
    def __init__(self, message_id: _Optional[str] = ..., topic: _Optional[str] = ..., remaining: _Optional[int] = ...) -> None: ...

class DeliveryFailed(_message.Message):
    __slots__ = ("message_id", "topic", "reason", "remaining", "dead_lettered")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    topic: str
    reason: str
    remaining: int
    dead_lettered: bool
    def __init__(self, message_id: _Optional[str] = ..., topic: _Optional[str] = ..., reason: _Optional[str] = ..., remaining: _Optional[int] = ..., dead_lettered: _Optional[bool] = ...) -> None: ...

class Closing(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
