"""End-to-end encryption of message payloads, done in the client only.

The broker relays ``data`` and ``hash`` without ever holding a key. Two formats:

``legacy-cbc``
    The format of the deployed Dart, Node and browser clients (legacy-json.md §6):
    AES-256-CBC with PKCS#7, a fresh random 16-byte IV, ``data = base64(iv) + ":" +
    base64(ciphertext)``. It must stay byte-compatible so those clients and this one
    read each other's messages. It has no authentication: the ``hash`` only catches
    corruption, and anyone on the path can alter a message and recompute it.

``none``
    No encryption: the payload travels as given (chosen explicitly, with no key). Such
    messages reach keyed clients as :class:`NotEncryptedError`, never as plaintext.

``aes-gcm``
    The format for new deployments: AES-256-GCM with a fresh random 96-bit nonce. The
    session, topic and message id are bound as associated data, so a message copied
    onto another topic, id or session fails authentication instead of being accepted.
    ``data = "fp.v1.aes-256-gcm." + b64url(nonce) + "." + b64url(ciphertext || tag)``:
    it names its version and algorithm, and the ``.`` separator never occurs in legacy
    data (whose alphabet is base64 plus ``:``), so neither format can be read as the
    other. ``hash`` is still filled, for clients and tools that expect the field.

In both encrypted formats ``hash`` is the lowercase hex SHA-256 of the UTF-8 bytes of
``data``, and the receiver checks it before decrypting.

``data`` is text; a payload that is not UTF-8 (possible only unencrypted, on gRPC) is
carried with its stray bytes as surrogate escapes (PEP 383), so
``data.encode("utf-8", "surrogateescape")`` is always the exact payload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import ConfigError, CryptoError, InvalidKeyError, NotEncryptedError

KEY_BYTES: Final = 32
IV_BYTES: Final = 16
NONCE_BYTES: Final = 12

CipherName = Literal["aes-gcm", "legacy-cbc", "none"]
CIPHER_NAMES: Final[tuple[CipherName, ...]] = ("aes-gcm", "legacy-cbc", "none")

GCM_PREFIX: Final = "fp.v1.aes-256-gcm."
# Domain-separates the associated data from any other use of the same key.
_AAD_LABEL: Final = b"fastport/e2e/aes-256-gcm/v1"


def generate_key() -> str:
    """A new random key: 32 bytes as standard base64 with padding (44 characters),
    the form every fastport client exchanges keys in."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def decode_key(key: str | bytes) -> bytes:
    """Check and decode a base64 key, raising :class:`InvalidKeyError` with the reason.

    Checked strictly (no stray characters, right padding, exactly 32 bytes) because a
    key that decodes "almost" right would silently make every message unreadable.
    """
    if isinstance(key, bytes):
        try:
            key = key.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKeyError("The key must be base64 text, not raw bytes") from None
    if not isinstance(key, str):
        raise InvalidKeyError(f"The key must be a base64 string, not {type(key).__name__}")
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError("The key is not valid standard base64") from None
    if len(raw) != KEY_BYTES:
        raise InvalidKeyError(f"The key must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def data_hash(data: str) -> str:
    """The ``hash`` field: lowercase hex SHA-256 of the UTF-8 bytes of ``data``."""
    return hashlib.sha256(payload_bytes(data)).hexdigest()


def payload_bytes(data: str) -> bytes:
    """The exact payload ``data`` stands for (see the module docstring)."""
    return data.encode("utf-8", "surrogateescape")


# Either sealed format: aes-gcm's prefix, or legacy base64(iv):base64(ciphertext).
_SEALED = re.compile(r"fp\.|[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}\Z")


def looks_sealed(data: str) -> bool:
    """Whether ``data`` is in one of the encrypted formats; anything else was published
    in plain text. Checked first, so that plain text is reported as such, not as a
    hash or format error."""
    return _SEALED.match(data) is not None


def check_hash(data: str, received: str) -> None:
    """Raise ``hash_mismatch`` unless ``received`` is the hash of ``data``."""
    if not received:
        raise CryptoError("hash_mismatch", "The message has no hash")
    if not hmac.compare_digest(data_hash(data), received.lower()):
        raise CryptoError("hash_mismatch", "The hash does not match the data")


def cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """Raw AES-256-CBC/PKCS#7, as used by legacy messages and file-chunk frames."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = _Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`cbc_encrypt`; a wrong key or corrupt data is ``decrypt_failed``."""
    if not ciphertext or len(ciphertext) % 16:
        raise CryptoError("malformed", "The ciphertext length is not a positive multiple of 16")
    decryptor = _Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise CryptoError("decrypt_failed", "Bad padding after decryption (wrong key or altered data)") from None


def legacy_encrypt(key: bytes, plaintext: bytes, iv: bytes | None = None) -> str:
    """Legacy ``data`` for ``plaintext``. ``iv`` is for test vectors only: a fixed IV
    repeated under one key leaks which messages start alike."""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(iv) != IV_BYTES:
        raise ValueError(f"iv must be {IV_BYTES} bytes")
    ciphertext = cbc_encrypt(key, iv, plaintext)
    return base64.b64encode(iv).decode("ascii") + ":" + base64.b64encode(ciphertext).decode("ascii")


def legacy_decrypt(key: bytes, data: str) -> bytes:
    """Plaintext of legacy ``data`` (the hash is checked by the caller)."""
    parts = data.split(":")
    if len(parts) != 2:
        raise CryptoError("unsupported_format", "Not legacy data (expected base64(iv):base64(ciphertext))")
    try:
        iv = base64.b64decode(parts[0], validate=True)
        ciphertext = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("malformed", "Legacy data is not valid base64") from None
    if len(iv) != IV_BYTES:
        raise CryptoError("malformed", f"The IV must be {IV_BYTES} bytes, not {len(iv)}")
    return cbc_decrypt(key, iv, ciphertext)


@dataclass(frozen=True, slots=True)
class Binding:
    """Where a message belongs. aes-gcm authenticates it, so a message is accepted only
    in the session, on the topic and under the id it was sealed for."""

    session: str
    topic: str
    message_id: str

    def associated_data(self) -> bytes:
        """Length-prefixed fields, so that no two different bindings share an encoding
        (plain concatenation would make ``("a/b", "c")`` equal ``("a", "b/c")``)."""
        out = bytearray(_AAD_LABEL)
        for value in (self.session, self.topic, self.message_id):
            raw = value.encode("utf-8")
            out += struct.pack(">I", len(raw)) + raw
        return bytes(out)


_B64URL_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not text or any(c not in _B64URL_CHARS for c in text) or len(text) % 4 == 1:
        raise CryptoError("malformed", "aes-gcm data is not valid base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def gcm_encrypt(key: bytes, plaintext: bytes, binding: Binding, nonce: bytes | None = None) -> str:
    """aes-gcm ``data`` for ``plaintext`` bound to ``binding``. ``nonce`` is for tests
    only: reusing a nonce under one key breaks GCM completely."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    sealed = AESGCM(key).encrypt(nonce, plaintext, binding.associated_data())
    return GCM_PREFIX + _b64url(nonce) + "." + _b64url(sealed)


def gcm_decrypt(key: bytes, data: str, binding: Binding) -> bytes:
    """Plaintext of aes-gcm ``data``, only if it was sealed with this key for ``binding``."""
    if not data.startswith("fp."):
        raise CryptoError("unsupported_format", "Not aes-gcm data (legacy or unknown format)")
    if not data.startswith(GCM_PREFIX):
        raise CryptoError("unsupported_format", "Unknown fastport data version or algorithm")
    parts = data[len(GCM_PREFIX) :].split(".")
    if len(parts) != 2:
        raise CryptoError("malformed", "aes-gcm data must be nonce.ciphertext")
    nonce, sealed = _unb64url(parts[0]), _unb64url(parts[1])
    if len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise CryptoError("malformed", "aes-gcm nonce or tag has the wrong length")
    try:
        return AESGCM(key).decrypt(nonce, sealed, binding.associated_data())
    except InvalidTag:
        raise CryptoError(
            "authentication_failed",
            "Authentication failed (wrong key, altered data, or a message moved to another session, topic or id)",
        ) from None


class MessageCipher(ABC):
    """Seals outgoing payloads and opens incoming ones; one per client."""

    name: CipherName

    def __init__(self, key: str | bytes | None) -> None:
        if key is None:
            raise InvalidKeyError(f"The {self.name} cipher needs a key (for plain text, choose cipher='none')")
        self._key = decode_key(key)

    @abstractmethod
    def _encrypt(self, plaintext: bytes, binding: Binding) -> str: ...

    @abstractmethod
    def _decrypt(self, data: str, binding: Binding) -> bytes: ...

    def seal(self, plaintext: bytes, binding: Binding) -> tuple[str, str]:
        """``(data, hash)`` for a message about to be published."""
        data = self._encrypt(plaintext, binding)
        return data, data_hash(data)

    def open(self, data: str, hash: str, binding: Binding) -> bytes:
        """Check the hash, then decrypt; raises :class:`CryptoError` with the reason
        (:class:`NotEncryptedError` for plain text)."""
        if not looks_sealed(data):
            raise NotEncryptedError()
        check_hash(data, hash)
        return self._decrypt(data, binding)


class PlainText(MessageCipher):
    """No encryption, chosen explicitly (``cipher="none"``, no key): payloads travel as
    given and whatever arrives is handed over as it came."""

    name: CipherName = "none"

    def __init__(self, key: str | bytes | None) -> None:
        if key is not None:
            raise ConfigError("invalid_cipher", "cipher 'none' sends plain text: pass key=None")

    def _encrypt(self, plaintext: bytes, binding: Binding) -> str:
        return plaintext.decode("utf-8", "surrogateescape")

    def _decrypt(self, data: str, binding: Binding) -> bytes:
        return payload_bytes(data)

    def open(self, data: str, hash: str, binding: Binding) -> bytes:
        return self._decrypt(data, binding)  # nothing to check: it travelled as given


class LegacyCbcCipher(MessageCipher):
    name: CipherName = "legacy-cbc"

    def _encrypt(self, plaintext: bytes, binding: Binding) -> str:
        return legacy_encrypt(self._key, plaintext)

    def _decrypt(self, data: str, binding: Binding) -> bytes:
        if data.startswith("fp."):
            raise CryptoError("unsupported_format", "The message is aes-gcm data; this client reads legacy-cbc")
        return legacy_decrypt(self._key, data)


class AesGcmCipher(MessageCipher):
    name: CipherName = "aes-gcm"

    def _encrypt(self, plaintext: bytes, binding: Binding) -> str:
        return gcm_encrypt(self._key, plaintext, binding)

    def _decrypt(self, data: str, binding: Binding) -> bytes:
        # Legacy data is refused, not decrypted: accepting the unauthenticated format
        # would let anyone on the path downgrade and alter messages.
        return gcm_decrypt(self._key, data, binding)


def make_cipher(name: str, key: str | bytes | None) -> MessageCipher:
    """The cipher called ``name``, with ``key`` checked now (see :func:`decode_key`)."""
    if name == "aes-gcm":
        return AesGcmCipher(key)
    if name == "legacy-cbc":
        return LegacyCbcCipher(key)
    if name == "none":
        return PlainText(key)
    raise ConfigError("invalid_cipher", f"Unknown cipher {name!r}; use one of {', '.join(CIPHER_NAMES)}")
