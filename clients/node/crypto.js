'use strict';
// End-to-end encryption of message payloads, done in the client only; the broker relays
// `data` and `hash` without ever holding a key. The same two formats as the Python
// client (clients/python/fastport_client/crypto.py), byte for byte:
//
// legacy-cbc: the deployed Dart/Node/browser clients' format (legacy-json.md §6).
//   AES-256-CBC/PKCS#7 with a fresh 16-byte IV, data = base64(iv) + ":" + base64(ct).
//   Not authenticated: the hash only catches corruption.
// aes-gcm: AES-256-GCM with a fresh 96-bit nonce and the session, topic and message id
//   bound as associated data, data = "fp.v1.aes-256-gcm." + b64url(nonce) + "." +
//   b64url(ct || tag). A message copied to another session, topic or id fails.
//
// In both, hash = lowercase hex SHA-256 of the UTF-8 bytes of data, checked first.

const crypto = require('crypto');

const KEY_BYTES = 32;
const IV_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const GCM_PREFIX = 'fp.v1.aes-256-gcm.';
const AAD_LABEL = Buffer.from('fastport/e2e/aes-256-gcm/v1', 'utf8');
const CIPHERS = ['aes-gcm', 'legacy-cbc', 'none'];

/** Raised for a message that fails its integrity check or cannot be decrypted. */
class CryptoError extends Error {
  constructor(code, message) {
    super(`${message} [${code}]`);
    this.name = 'CryptoError';
    this.code = code;
  }
}

/** A new random key: 32 bytes as standard base64, the form fastport clients exchange. */
function generateKey() {
  return crypto.randomBytes(KEY_BYTES).toString('base64');
}

/** Check and decode a base64 key strictly: a key that decodes "almost" right would
 *  silently make every message unreadable. */
function decodeKey(key) {
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(key.trim()) || key.trim().length % 4) {
    throw new CryptoError('invalid_key', 'The key must be standard base64 text');
  }
  const raw = Buffer.from(key.trim(), 'base64');
  if (raw.length !== KEY_BYTES) {
    throw new CryptoError('invalid_key', `The key must decode to ${KEY_BYTES} bytes, not ${raw.length}`);
  }
  return raw;
}

function dataHash(data) {
  return crypto.createHash('sha256').update(data, 'utf8').digest('hex');
}

function checkHash(data, received) {
  if (!received) throw new CryptoError('hash_mismatch', 'The message has no hash');
  const expected = Buffer.from(dataHash(data), 'utf8');
  const got = Buffer.from(String(received).toLowerCase(), 'utf8');
  if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) {
    throw new CryptoError('hash_mismatch', 'The hash does not match the data');
  }
}

/** Length-prefixed session, topic and message id after a label, so that no two
 *  bindings share an encoding (the same bytes as Binding.associated_data in Python). */
function associatedData(binding) {
  const parts = [AAD_LABEL];
  for (const value of [binding.session, binding.topic, binding.messageId]) {
    const raw = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(raw.length);
    parts.push(length, raw);
  }
  return Buffer.concat(parts);
}

function b64url(raw) {
  return raw.toString('base64url');
}

function unb64url(text) {
  if (!text || !/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) {
    throw new CryptoError('malformed', 'aes-gcm data is not valid base64url');
  }
  return Buffer.from(text, 'base64url');
}

/** aes-gcm data for `plaintext` (a Buffer) bound to `binding`. `nonce` is for test
 *  vectors only: reusing a nonce under one key breaks GCM completely. */
function gcmEncrypt(key, plaintext, binding, nonce = crypto.randomBytes(NONCE_BYTES)) {
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData(binding));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return GCM_PREFIX + b64url(nonce) + '.' + b64url(ct);
}

function gcmDecrypt(key, data, binding) {
  if (!data.startsWith('fp.')) throw new CryptoError('unsupported_format', 'Not aes-gcm data (legacy or unknown format)');
  if (!data.startsWith(GCM_PREFIX)) throw new CryptoError('unsupported_format', 'Unknown fastport data version or algorithm');
  const parts = data.slice(GCM_PREFIX.length).split('.');
  if (parts.length !== 2) throw new CryptoError('malformed', 'aes-gcm data must be nonce.ciphertext');
  const nonce = unb64url(parts[0]);
  const sealed = unb64url(parts[1]);
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) {
    throw new CryptoError('malformed', 'aes-gcm nonce or tag has the wrong length');
  }
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(associatedData(binding));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CryptoError(
      'authentication_failed',
      'Authentication failed (wrong key, altered data, or a message moved to another session, topic or id)',
    );
  }
}

/** legacy-cbc data for `plaintext`. `iv` is for test vectors only. */
function legacyEncrypt(key, plaintext, iv = crypto.randomBytes(IV_BYTES)) {
  const cipher = crypto.createCipheriv('aes-256-cbc', key, iv);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return iv.toString('base64') + ':' + ct.toString('base64');
}

function legacyDecrypt(key, data) {
  if (data.startsWith('fp.')) {
    throw new CryptoError('unsupported_format', 'The message is aes-gcm data; this client reads legacy-cbc');
  }
  const parts = data.split(':');
  if (parts.length !== 2) {
    throw new CryptoError('unsupported_format', 'Not legacy data (expected base64(iv):base64(ciphertext))');
  }
  const strict = /^[A-Za-z0-9+/]*={0,2}$/;
  if (!strict.test(parts[0]) || !strict.test(parts[1]) || parts[0].length % 4 || parts[1].length % 4) {
    throw new CryptoError('malformed', 'Legacy data is not valid base64');
  }
  const iv = Buffer.from(parts[0], 'base64');
  const ct = Buffer.from(parts[1], 'base64');
  if (iv.length !== IV_BYTES) throw new CryptoError('malformed', `The IV must be ${IV_BYTES} bytes, not ${iv.length}`);
  if (!ct.length || ct.length % 16) {
    throw new CryptoError('malformed', 'The ciphertext length is not a positive multiple of 16');
  }
  const decipher = crypto.createDecipheriv('aes-256-cbc', key, iv);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    throw new CryptoError('decrypt_failed', 'Bad padding after decryption (wrong key or altered data)');
  }
}

/** Whether `data` is in one of the two sealed formats; anything else was published
 *  in plain text (by `fastport pub` without a key, or another plain client). */
function looksSealed(data) {
  return data.startsWith('fp.') || /^[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/.test(data);
}

/**
 * Seals outgoing payloads and opens incoming ones. `cipher` is 'aes-gcm' (default),
 * 'legacy-cbc', or 'none' (plain text: `key` must then be null).
 */
function makeCipher(cipher, key) {
  if (!CIPHERS.includes(cipher)) {
    throw new CryptoError('invalid_cipher', `Unknown cipher ${JSON.stringify(cipher)}; use one of ${CIPHERS.join(', ')}`);
  }
  if (cipher === 'none') {
    if (key != null) throw new CryptoError('invalid_cipher', "cipher 'none' sends plain text: pass no key");
    return null;
  }
  if (key == null) throw new CryptoError('invalid_key', `cipher '${cipher}' needs a key (or use cipher 'none')`);
  const raw = decodeKey(key);
  const gcm = cipher === 'aes-gcm';
  return {
    name: cipher,
    /** [data, hash] for a message about to be published. */
    seal(plaintext, binding) {
      const data = gcm ? gcmEncrypt(raw, plaintext, binding) : legacyEncrypt(raw, plaintext);
      return [data, dataHash(data)];
    },
    /** The plaintext, after checking the hash; throws CryptoError with the reason. */
    open(data, hash, binding) {
      if (!looksSealed(data)) throw new CryptoError('not_encrypted', 'The message was published in plain text');
      checkHash(data, hash);
      return gcm ? gcmDecrypt(raw, data, binding) : legacyDecrypt(raw, data);
    },
  };
}

module.exports = {
  CryptoError,
  generateKey,
  decodeKey,
  dataHash,
  associatedData,
  gcmEncrypt,
  gcmDecrypt,
  legacyEncrypt,
  legacyDecrypt,
  looksSealed,
  makeCipher,
};
