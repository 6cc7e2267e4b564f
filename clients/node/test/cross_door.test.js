'use strict';
// Node.js ⇄ Python ⇄ legacy JSON, through one broker: the Node client on the gRPC
// door, the Python client on either door (clients/node/test/peer.py), and the plain
// legacy client (clients/node/legacy_client.js: Node's built-in WebSocket and crypto,
// as deployed clients are written) on the JSON WebSocket door.

const { test } = require('node:test');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { assert, WS, GRPC, newSession, connected, deferred, python, pythonReceiver } = require('./helpers');

const LEGACY_CLIENT = path.join(__dirname, '..', 'legacy_client.js');

test('Node (gRPC, aes-gcm) ⇄ Python (gRPC, aes-gcm), attributes included', async (t) => {
  const session = await newSession();
  const node = await connected(t, session);
  const fromPython = deferred();
  await node.subscribe('py/#', fromPython.resolve);
  const { messages: received } = await pythonReceiver(`grpc://${GRPC()}`, session, 'aes-gcm', 'node/#', 1);
  await node.publish('node/a', 'from Node ✓', { attributes: { trace: 'n1' } });
  assert.deepEqual(await received, [{ topic: 'node/a', text: 'from Node ✓', attributes: { trace: 'n1' } }]);
  await python(['publish', `grpc://${GRPC()}`, session.name, 'pw', session.key, 'aes-gcm', 'py/b', 'from Python ✓', '{"trace":"p1"}']).done;
  const message = await fromPython.promise;
  assert.deepEqual([message.topic, message.text, message.attributes], ['py/b', 'from Python ✓', { trace: 'p1' }]);
});

test('Node (gRPC, legacy-cbc) ⇄ Python on the legacy JSON door (legacy-cbc)', async (t) => {
  const session = await newSession();
  const node = await connected(t, session, { cipher: 'legacy-cbc' });
  const fromPython = deferred();
  await node.subscribe('py', fromPython.resolve);
  const { messages: received } = await pythonReceiver(WS(), session, 'legacy-cbc', 'node', 1);
  // Attributes have no place in the legacy frames: the JSON subscriber gets the message without.
  await node.publish('node', 'grüße', { attributes: { dropped: 'on the JSON door' } });
  assert.deepEqual(await received, [{ topic: 'node', text: 'grüße', attributes: {} }]);
  await python(['publish', WS(), session.name, 'pw', session.key, 'legacy-cbc', 'py', 'über JSON']).done;
  const message = await fromPython.promise;
  assert.deepEqual([message.text, message.attributes], ['über JSON', {}]);
});

test('a plain legacy JSON client\'s message reaches the Node client', async (t) => {
  const session = await newSession();
  const node = await connected(t, session, { cipher: 'legacy-cbc' });
  const arrived = deferred();
  await node.subscribe('legacy/+', arrived.resolve);
  const publisher = spawn(
    process.execPath,
    ['--experimental-websocket', LEGACY_CLIENT, 'publish', WS(), session.name, 'pw', session.key, 'legacy/1', 'from a deployed client'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  publisher.stdout.on('data', (chunk) => { out += chunk; });
  const code = await new Promise((resolve) => publisher.on('close', resolve));
  assert.equal(code, 0);
  const message = await arrived.promise;
  assert.equal(message.text, 'from a deployed client');
  assert.deepEqual(JSON.parse(out).messageIds, [message.messageId]);
});
