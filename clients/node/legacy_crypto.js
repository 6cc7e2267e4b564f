#!/usr/bin/env node
// The legacy end-to-end format (legacy-json.md §6) written the way the deployed Node.js
// client writes it, with nothing but Node's built-in `crypto`. It exists so the Python
// client's tests can prove that both sides read each other's messages.
//
//   node legacy_crypto.js encrypt <keyB64> <plaintext>   -> {"data": ..., "hash": ...}
//   node legacy_crypto.js decrypt <keyB64> <data> <hash> -> the plaintext, or exit 2
'use strict';

const crypto = require('crypto');

function encrypt(keyB64, plaintext) {
  const key = Buffer.from(keyB64, 'base64');
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-cbc', key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const data = iv.toString('base64') + ':' + ct.toString('base64');
  const hash = crypto.createHash('sha256').update(data, 'utf8').digest('hex');
  return { data, hash };
}

function decrypt(keyB64, data, hash) {
  const expected = crypto.createHash('sha256').update(data, 'utf8').digest('hex');
  if (expected !== hash) throw new Error('hash mismatch');
  const [ivB64, ctB64] = data.split(':');
  const decipher = crypto.createDecipheriv('aes-256-cbc', Buffer.from(keyB64, 'base64'), Buffer.from(ivB64, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(ctB64, 'base64')), decipher.final()]).toString('utf8');
}

module.exports = { encrypt, decrypt };

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  try {
    if (command === 'encrypt' && args.length === 2) {
      process.stdout.write(JSON.stringify(encrypt(args[0], args[1])));
    } else if (command === 'decrypt' && args.length === 3) {
      process.stdout.write(decrypt(args[0], args[1], args[2]));
    } else {
      process.stderr.write('usage: legacy_crypto.js encrypt <keyB64> <plaintext> | decrypt <keyB64> <data> <hash>\n');
      process.exit(64);
    }
  } catch (err) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
}
