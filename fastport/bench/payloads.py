"""A pool of payloads encrypted before the run, in the legacy end-to-end format.

Real clients encrypt every message (legacy-json.md §6): ``data`` is
``base64(iv) ":" base64(AES-256-CBC ciphertext)`` and ``hash`` the hex SHA-256 of
``data``. Encrypting per message would make the generator measure AES, not the
broker, so a pool of distinct messages is encrypted once and cycled through.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

POOL_SIZE = 64


@dataclass(frozen=True, slots=True)
class Payload:
    data: str  # the E2E string, as sent in the legacy ``data`` field / gRPC ``payload``
    hash: str  # lowercase hex SHA-256 of ``data``


def encrypt(key: bytes, plaintext: bytes) -> Payload:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    data = base64.b64encode(iv).decode() + ":" + base64.b64encode(ciphertext).decode()
    return Payload(data, hashlib.sha256(data.encode()).hexdigest())


def make_pool(size: int, count: int = POOL_SIZE, key: bytes | None = None) -> list[Payload]:
    """``count`` payloads of ``size`` plaintext bytes each, under one random key."""
    key = key or os.urandom(32)
    return [encrypt(key, os.urandom(size)) for _ in range(count)]


def wire_size(size: int) -> int:
    """Length of the ``data`` string for ``size`` plaintext bytes."""
    ciphertext = (size // 16 + 1) * 16
    return 24 + 1 + 4 * ((ciphertext + 2) // 3)
