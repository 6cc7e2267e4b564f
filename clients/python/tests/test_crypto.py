"""End-to-end crypto: the shared vectors, tampering, key checks, and Node.js interop."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from fpc_support import NODE_DIR, node

from fastport_client import CryptoError, InvalidKeyError, NotEncryptedError, generate_key
from fastport_client.crypto import (
    GCM_PREFIX,
    Binding,
    cbc_decrypt,
    cbc_encrypt,
    data_hash,
    decode_key,
    gcm_encrypt,
    legacy_decrypt,
    legacy_encrypt,
    make_cipher,
)
from fastport_client.errors import ConfigError

VECTORS_PATH = Path(__file__).resolve().parents[3] / "tests" / "data" / "vectors.json"
VECTORS = {v["name"]: v for v in json.loads(VECTORS_PATH.read_text())["vectors"]}
MESSAGE_VECTORS = [VECTORS[name] for name in ("V1", "V2", "V3")]
BINDING = Binding("s1", "sensors/t1", "m-1")


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=lambda v: v["name"])
def test_legacy_vectors_encrypt_exactly(vector: dict[str, str]) -> None:
    key = decode_key(vector["keyB64"])
    data = legacy_encrypt(key, vector["plaintext"].encode(), iv=bytes.fromhex(vector["ivHex"]))
    assert data == vector["data"]
    assert data_hash(data) == vector["hash"]
    assert base64.b64decode(data.split(":")[1]).hex() == vector["ctHex"]


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=lambda v: v["name"])
def test_legacy_vectors_open(vector: dict[str, str]) -> None:
    cipher = make_cipher("legacy-cbc", vector["keyB64"])
    plaintext = cipher.open(vector["data"], vector["hash"], BINDING)
    assert plaintext.decode("utf-8") == vector["plaintext"]


def test_v2_plaintext_is_utf8() -> None:
    v2 = VECTORS["V2"]
    assert v2["plaintext"].encode("utf-8").hex() == v2["plaintextUtf8Hex"]
    assert decode_key(v2["keyB64"]).hex() == v2["keyHex"]


def test_v5_chunk_frame_ciphertext() -> None:
    """File chunks use the same CBC primitive behind a binary header (legacy-json.md §5)."""
    v5 = VECTORS["V5-chunk"]
    key, iv = decode_key(v5["keyB64"]), bytes.fromhex(v5["ivHex"])
    frame = (
        b"\x02"
        + v5["fileId"].encode("ascii")
        + v5["chunkIndex"].to_bytes(4, "big")
        + iv
        + cbc_encrypt(key, iv, bytes.fromhex(v5["chunkHex"]))
    )
    assert len(frame) == v5["frameLen"]
    assert frame.hex() == v5["frameHex"]
    assert cbc_decrypt(key, frame[41:57], frame[57:]).hex() == v5["chunkHex"]


@pytest.mark.parametrize("name", ["legacy-cbc", "aes-gcm"])
def test_round_trip_uses_fresh_randomness(name: str) -> None:
    cipher = make_cipher(name, generate_key())
    first = cipher.seal("héllo 👋".encode(), BINDING)
    second = cipher.seal("héllo 👋".encode(), BINDING)
    assert first != second
    for data, hash_ in (first, second):
        assert hash_ == data_hash(data)
        assert cipher.open(data, hash_, BINDING).decode() == "héllo 👋"


def test_gcm_format_is_self_describing_and_never_legacy() -> None:
    key = generate_key()
    data, _ = make_cipher("aes-gcm", key).seal(b"x", BINDING)
    assert data.startswith(GCM_PREFIX)
    # Neither cipher reads the other's format as its own.
    with pytest.raises(CryptoError) as err:
        make_cipher("legacy-cbc", key).open(data, data_hash(data), BINDING)
    assert err.value.code == "unsupported_format"
    legacy, legacy_hash = make_cipher("legacy-cbc", key).seal(b"x", BINDING)
    with pytest.raises(CryptoError) as err:
        make_cipher("aes-gcm", key).open(legacy, legacy_hash, BINDING)
    assert err.value.code == "unsupported_format"


def test_gcm_unknown_version_is_refused() -> None:
    data, _ = make_cipher("aes-gcm", generate_key()).seal(b"x", BINDING)
    future = "fp.v2.aes-256-gcm." + data[len(GCM_PREFIX) :]
    with pytest.raises(CryptoError) as err:
        make_cipher("aes-gcm", generate_key()).open(future, data_hash(future), BINDING)
    assert err.value.code == "unsupported_format"


def _flip_bit_in_ciphertext(data: str, urlsafe: bool) -> str:
    """Flip one bit of the ciphertext and re-encode, keeping the format valid."""
    head, _, tail = data.rpartition("." if urlsafe else ":")
    if urlsafe:
        raw = bytearray(base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4)))
        raw[0] ^= 0x01
        return head + "." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    raw = bytearray(base64.b64decode(tail))
    raw[-1] ^= 0x01
    return head + ":" + base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("name", ["legacy-cbc", "aes-gcm"])
def test_flipped_bit_with_stale_hash_is_a_hash_mismatch(name: str) -> None:
    cipher = make_cipher(name, generate_key())
    data, hash_ = cipher.seal(b"pay me 10", BINDING)
    tampered = _flip_bit_in_ciphertext(data, urlsafe=name == "aes-gcm")
    with pytest.raises(CryptoError) as err:
        cipher.open(tampered, hash_, BINDING)
    assert err.value.code == "hash_mismatch"


def test_gcm_flipped_bit_with_recomputed_hash_fails_authentication() -> None:
    """The hash is no MAC: an attacker recomputes it. aes-gcm still catches the change."""
    cipher = make_cipher("aes-gcm", generate_key())
    data, _ = cipher.seal(b"pay me 10", BINDING)
    tampered = _flip_bit_in_ciphertext(data, urlsafe=True)
    with pytest.raises(CryptoError) as err:
        cipher.open(tampered, data_hash(tampered), BINDING)
    assert err.value.code == "authentication_failed"


def test_legacy_flipped_last_block_with_recomputed_hash_fails_padding() -> None:
    cipher = make_cipher("legacy-cbc", VECTORS["V1"]["keyB64"])
    tampered = _flip_bit_in_ciphertext(VECTORS["V1"]["data"], urlsafe=False)
    with pytest.raises(CryptoError) as err:
        cipher.open(tampered, data_hash(tampered), BINDING)
    assert err.value.code == "decrypt_failed"


@pytest.mark.parametrize("name", ["legacy-cbc", "aes-gcm"])
def test_wrong_hash_is_refused(name: str) -> None:
    cipher = make_cipher(name, generate_key())
    data, hash_ = cipher.seal(b"x", BINDING)
    for bad in ("", "0" * 64, hash_[:-1] + ("0" if hash_[-1] != "0" else "1")):
        with pytest.raises(CryptoError) as err:
            cipher.open(data, bad, BINDING)
        assert err.value.code == "hash_mismatch"
    assert cipher.open(data, hash_.upper(), BINDING) == b"x"


@pytest.mark.parametrize(
    "moved",
    [
        Binding("s1", "sensors/t2", "m-1"),
        Binding("s1", "sensors/t1", "m-2"),
        Binding("s2", "sensors/t1", "m-1"),
        # Shifting a separator between fields must not give the same associated data.
        Binding("s1", "sensors", "/t1m-1"),
    ],
    ids=["other-topic", "other-id", "other-session", "shifted-fields"],
)
def test_gcm_message_moved_elsewhere_fails_authentication(moved: Binding) -> None:
    cipher = make_cipher("aes-gcm", generate_key())
    data, hash_ = cipher.seal(b"open the door", BINDING)
    with pytest.raises(CryptoError) as err:
        cipher.open(data, hash_, moved)
    assert err.value.code == "authentication_failed"


def test_wrong_key_is_refused() -> None:
    data, hash_ = make_cipher("aes-gcm", generate_key()).seal(b"x", BINDING)
    with pytest.raises(CryptoError) as err:
        make_cipher("aes-gcm", generate_key()).open(data, hash_, BINDING)
    assert err.value.code == "authentication_failed"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        # Not in a sealed format at all: plain text, reported as such.
        ("", "not_encrypted"),
        ("no-colon", "not_encrypted"),
        ("a:b:c", "not_encrypted"),
        ("!!!!:AAAA", "not_encrypted"),
        ("21.5", "not_encrypted"),
        # The legacy shape, with an IV or ciphertext of the wrong size.
        ("AAAA:" + "A" * 24, "malformed"),
        ("AAAAAAAAAAAAAAAAAAAAAA==:QUJD", "malformed"),
    ],
)
def test_malformed_legacy_data(data: str, code: str) -> None:
    with pytest.raises(CryptoError) as err:
        make_cipher("legacy-cbc", generate_key()).open(data, data_hash(data), BINDING)
    assert err.value.code == code
    assert isinstance(err.value, NotEncryptedError) == (code == "not_encrypted")


@pytest.mark.parametrize(
    "suffix", ["", "AAAA", "AAAA.", "!!!.AAAA", "AAAAAAAAAAAAAAAA.AAAA", "AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.x"]
)
def test_malformed_gcm_data(suffix: str) -> None:
    data = GCM_PREFIX + suffix
    with pytest.raises(CryptoError) as err:
        make_cipher("aes-gcm", generate_key()).open(data, data_hash(data), BINDING)
    assert err.value.code == "malformed"


def test_gcm_nonce_is_96_bits_and_fresh() -> None:
    key = decode_key(generate_key())
    nonces = set()
    for _ in range(50):
        data = gcm_encrypt(key, b"x", BINDING)
        nonce_b64 = data[len(GCM_PREFIX) :].split(".")[0]
        nonce = base64.urlsafe_b64decode(nonce_b64 + "=" * (-len(nonce_b64) % 4))
        assert len(nonce) == 12
        nonces.add(nonce)
    assert len(nonces) == 50


def test_generate_key_is_44_chars_of_32_bytes() -> None:
    key = generate_key()
    assert len(key) == 44 and len(base64.b64decode(key)) == 32
    assert generate_key() != key


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        (base64.b64encode(b"k" * 16).decode(), "32 bytes, not 16"),
        (base64.b64encode(b"k" * 33).decode(), "32 bytes, not 33"),
        ("not base64 at all!!", "not valid standard base64"),
        ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "not valid standard base64"),
        (b"\xff" * 32, "base64 text"),
        (12345, "base64 string"),
    ],
)
def test_bad_keys_are_clear_errors(key: object, fragment: str) -> None:
    with pytest.raises(InvalidKeyError) as err:
        make_cipher("aes-gcm", key)  # type: ignore[arg-type]
    assert err.value.code == "invalid_key"
    assert fragment in err.value.message


def test_unknown_cipher_name() -> None:
    with pytest.raises(ConfigError) as err:
        make_cipher("rot13", generate_key())
    assert err.value.code == "invalid_cipher"


# ---------------------------------------------------------------- Node.js interop


def test_node_encrypts_python_decrypts() -> None:
    key = generate_key()
    text = '{"temp":21.5,"note":"héllo 👋"}'
    out = json.loads(node(NODE_DIR / "legacy_crypto.js", "encrypt", key, text))
    assert make_cipher("legacy-cbc", key).open(out["data"], out["hash"], BINDING).decode() == text


def test_python_encrypts_node_decrypts() -> None:
    key = generate_key()
    text = "from Python: ünïcödé ✓"
    data, hash_ = make_cipher("legacy-cbc", key).seal(text.encode(), BINDING)
    assert node(NODE_DIR / "legacy_crypto.js", "decrypt", key, data, hash_) == text


def test_node_refuses_a_wrong_hash() -> None:
    key = generate_key()
    data, _ = make_cipher("legacy-cbc", key).seal(b"x", BINDING)
    with pytest.raises(subprocess.CalledProcessError) as err:
        node(NODE_DIR / "legacy_crypto.js", "decrypt", key, data, "0" * 64)
    assert err.value.returncode == 2


def test_legacy_decrypt_reads_vector_without_cipher_object() -> None:
    v1 = VECTORS["V1"]
    assert legacy_decrypt(decode_key(v1["keyB64"]), v1["data"]) == v1["plaintext"].encode()
