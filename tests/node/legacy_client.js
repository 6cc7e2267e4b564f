#!/usr/bin/env node
// A legacy JSON client written the way the deployed Node.js clients are: the `ws`
// package, Node's built-in `crypto`, plain JSON frames. It drives one whole exchange
// against a running fastport and exits 0 only if every step matched the protocol.
//
//   node legacy_client.js <http base url> <admin user> <admin password> [variant]
//
// Steps: REST createSession (HTTP Basic) -> two sockets init -> one subscribes ->
// the other publishes an AES-256-CBC message -> the subscriber receives it, checks
// the hash, decrypts, ACKs -> the publisher gets publish_response and ack_received.
// Prints a JSON summary on stdout; on failure prints the reason on stderr, exit 1.
//
// Variants, as real clients differ:
//   plain        (default) no subprotocol, Date.now() timestamps
//   subprotocol  sockets opened as `new WebSocket(url, ['json', 'chat'])`: ws refuses
//                the connection unless the server selects one of them
//   fractional   timestamps from performance.timeOrigin + performance.now(), which
//                have a fraction; the server truncates them to whole ms
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');
// The legacy format (AES-256-CBC, base64(iv):base64(ct), SHA-256 hex), as the Node
// scripts in clients/node implement it with Node's built-in crypto.
const { encrypt, decrypt } = require('../../clients/node/legacy_crypto');

const [baseUrl, adminUser, adminPass, variant = 'plain'] = process.argv.slice(2);
if (!baseUrl || !adminUser || !adminPass || !['plain', 'subprotocol', 'fractional'].includes(variant)) {
  console.error('usage: legacy_client.js <http base url> <admin user> <admin password> [plain|subprotocol|fractional]');
  process.exit(64);
}
const SUBPROTOCOLS = variant === 'subprotocol' ? ['json', 'chat'] : undefined;
const wsUrl = baseUrl.replace(/^http/, 'ws');

function fail(message) {
  console.error(`legacy client: ${message}`);
  process.exit(1);
}

setTimeout(() => fail('timed out'), 20000).unref();

async function createSession(sessionName, password) {
  const auth = 'Basic ' + Buffer.from(`${adminUser}:${adminPass}`).toString('base64');
  const res = await fetch(`${baseUrl}/api/createSession`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: auth },
    body: JSON.stringify({ sessionName, password, retryInterval: 5000, maxRetryLimit: 10 }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.success !== true) fail(`createSession: ${res.status} ${JSON.stringify(body)}`);
  if (!/^[0-9a-f]{64}$/.test(body.secretKey)) fail(`createSession: bad secretKey ${body.secretKey}`);
  return body;
}

// A socket whose frames can be awaited one at a time, as the deployed clients' message
// handlers see them.
function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl + path, SUBPROTOCOLS);
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const frame = { raw: data.toString(), isBinary };
      const waiter = waiters.shift();
      if (waiter) waiter(frame);
      else queue.push(frame);
    });
    ws.next = () => new Promise((res) => {
      const frame = queue.shift();
      if (frame) res(frame);
      else waiters.push(res);
    });
    ws.sendJson = (obj) => ws.send(JSON.stringify(obj));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function expect(ws, expectedRaw, what) {
  const frame = await ws.next();
  if (frame.isBinary) fail(`${what}: got a binary frame`);
  if (expectedRaw !== undefined && frame.raw !== expectedRaw) fail(`${what}: got ${frame.raw}, want ${expectedRaw}`);
  return JSON.parse(frame.raw);
}

async function main() {
  const sessionName = `node-${crypto.randomUUID()}`;
  const password = 'node-password';
  await createSession(sessionName, password);

  const subscriber = await open('/');
  const publisher = await open('/ws');
  const protocol = publisher.protocol; // the selected subprotocol, '' when none was asked for
  if (protocol !== (SUBPROTOCOLS ? SUBPROTOCOLS[0] : '')) fail(`subprotocol: got '${protocol}'`);
  for (const ws of [subscriber, publisher]) {
    ws.sendJson({ type: 'init', sessionName, password, userId: 'node-user' });
    await expect(ws, JSON.stringify({ type: 'init_response', success: true, sessionName }), 'init');
  }
  subscriber.sendJson({ type: 'subscribe', topic: 'sensors/+' });
  await expect(subscriber, JSON.stringify({ type: 'subscribe_response', success: true, topic: 'sensors/+' }), 'subscribe');

  const key = crypto.randomBytes(32).toString('base64');
  const plaintext = JSON.stringify({ value: 21.5, unit: '°C', note: 'héllo 👋' });
  const { data, hash } = encrypt(key, plaintext);
  const messageId = crypto.randomUUID();
  let timestamp = Date.now();
  if (variant === 'fractional') {
    timestamp = performance.timeOrigin + performance.now();
    if (Number.isInteger(timestamp)) timestamp += 0.5; // a whole number by chance: not what this variant tests
  }
  publisher.sendJson({ type: 'publish', topic: 'sensors/t1', data, hash, timestamp, messageId });
  await expect(
    publisher,
    JSON.stringify({ type: 'publish_response', success: true, messageId, deliveredTo: 1 }),
    'publish_response',
  );

  const message = await expect(
    subscriber,
    JSON.stringify({ type: 'message', topic: 'sensors/t1', data, hash, timestamp: Math.trunc(timestamp), messageId }),
    'message',
  );
  let decrypted;
  try {
    decrypted = decrypt(key, message.data, message.hash); // checks the hash first
  } catch (err) {
    fail(err.message);
  }
  if (decrypted !== plaintext) fail(`decrypted ${decrypted}, want ${plaintext}`);
  subscriber.sendJson({ type: 'ack', topic: message.topic, messageId: message.messageId });

  const ack = await expect(publisher, undefined, 'ack_received');
  if (ack.type !== 'ack_received' || ack.messageId !== messageId || ack.topic !== 'sensors/t1' || ack.remaining !== 0) {
    fail(`ack_received: got ${JSON.stringify(ack)}`);
  }

  for (const ws of [subscriber, publisher]) ws.close(1000);
  process.stdout.write(
    JSON.stringify({ ok: true, variant, sessionName, messageId, protocol, timestamp, received: message.timestamp, decrypted, ack }) + '\n',
  );
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
