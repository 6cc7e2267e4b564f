'use strict';
// The two end-to-end formats, byte for byte with the Python client: the legacy
// vectors of tests/data/vectors.json, and aes-gcm sealed by both with the same nonce.

const { test } = require('node:test');
const fs = require('node:fs');
const path = require('node:path');
const { assert, python } = require('./helpers');
const c = require('../crypto');

const VECTORS = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'data', 'vectors.json'), 'utf8')).vectors;

test('legacy-cbc matches the protocol vectors both ways', () => {
  const messages = VECTORS.filter((v) => v.data && v.keyB64 && v.plaintext !== undefined);
  assert.ok(messages.length >= 2);
  for (const v of messages) {
    const key = c.decodeKey(v.keyB64);
    assert.equal(c.legacyEncrypt(key, Buffer.from(v.plaintext, 'utf8'), Buffer.from(v.ivHex, 'hex')), v.data, v.name);
    assert.equal(c.dataHash(v.data), v.hash, v.name);
    const cipher = c.makeCipher('legacy-cbc', v.keyB64);
    assert.equal(cipher.open(v.data, v.hash, null).toString('utf8'), v.plaintext, v.name);
  }
});

test('aes-gcm is the Python client\'s format byte for byte', async () => {
  const key = c.generateKey();
  const nonce = Buffer.from('000102030405060708090a0b', 'hex');
  const binding = { session: 'sé', topic: 'rooms/1/temp', messageId: 'm-1' };
  const text = 'héllo 👋';
  const mine = c.gcmEncrypt(c.decodeKey(key), Buffer.from(text, 'utf8'), binding, nonce);
  const [theirs] = await python(['seal', key, binding.session, binding.topic, binding.messageId, nonce.toString('hex'), text]).done;
  assert.equal(mine, theirs);
  const cipher = c.makeCipher('aes-gcm', key);
  assert.equal(cipher.open(mine, c.dataHash(mine), binding).toString('utf8'), text);
});

test('aes-gcm refuses a message moved to another topic, id or session', () => {
  const key = c.generateKey();
  const cipher = c.makeCipher('aes-gcm', key);
  const binding = { session: 's', topic: 't', messageId: 'm' };
  const [data, hash] = cipher.seal(Buffer.from('x'), binding);
  for (const moved of [{ ...binding, topic: 'u' }, { ...binding, messageId: 'n' }, { ...binding, session: 'r' }]) {
    assert.throws(() => cipher.open(data, hash, moved), { code: 'authentication_failed' });
  }
  assert.throws(() => cipher.open(data, '0'.repeat(64), binding), { code: 'hash_mismatch' });
  assert.throws(() => cipher.open('21.5', '', binding), { code: 'not_encrypted' });
  assert.throws(() => c.makeCipher('legacy-cbc', key).open(data, hash, binding), { code: 'unsupported_format' });
});

test('keys and cipher names are checked at once', () => {
  assert.throws(() => c.makeCipher('aes-gcm', 'not base64!'), { code: 'invalid_key' });
  assert.throws(() => c.makeCipher('aes-gcm', Buffer.alloc(16).toString('base64')), { code: 'invalid_key' });
  assert.throws(() => c.makeCipher('aes-gcm', null), { code: 'invalid_key' });
  assert.throws(() => c.makeCipher('none', c.generateKey()), { code: 'invalid_cipher' });
  assert.throws(() => c.makeCipher('rot13', c.generateKey()), { code: 'invalid_cipher' });
  assert.equal(c.makeCipher('none', null), null);
});
