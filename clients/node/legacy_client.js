#!/usr/bin/env node
// A plain Node.js client of the legacy JSON protocol, written the way deployed Node
// clients are: the built-in WebSocket (Node 22, or Node 20 with --experimental-websocket)
// and the built-in `crypto` through legacy_crypto.js. No npm packages.
//
//   node legacy_client.js publish <wsUrl> <session> <password> <keyB64> <topic> <text>...
//       publishes each text, waits for every publish_response; prints {"messageIds": [...]}
//   node legacy_client.js receive <wsUrl> <session> <password> <keyB64> <topic> <count>
//       subscribes, prints "ready" once subscribed, then decrypts, ACKs and prints
//       {"messageId","topic","text"} for each message until <count> have arrived
'use strict';

const crypto = require('crypto');
const { encrypt, decrypt } = require('./legacy_crypto');

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function connect(url, session, password, onFrame) {
  if (typeof WebSocket === 'undefined') fail('no WebSocket: use Node 22, or Node 20 with --experimental-websocket');
  const ws = new WebSocket(url);
  const send = (frame) => ws.send(JSON.stringify(frame));
  ws.addEventListener('open', () => send({ type: 'init', sessionName: session, password }));
  ws.addEventListener('message', (event) => {
    if (typeof event.data !== 'string') return;
    const frame = JSON.parse(event.data);
    if (frame.type === 'init_response' && !frame.success) fail(`init refused: ${frame.error}`);
    if (frame.error && !frame.type) fail(`server error: ${frame.error}`);
    onFrame(frame, send, ws);
  });
  ws.addEventListener('error', () => fail(`cannot talk to ${url}`));
  return ws;
}

function publish(url, session, password, key, topic, texts) {
  const waiting = new Set();
  const ids = [];
  connect(url, session, password, (frame, send, ws) => {
    if (frame.type === 'init_response') {
      for (const text of texts) {
        const { data, hash } = encrypt(key, text);
        const messageId = crypto.randomUUID();
        waiting.add(messageId);
        ids.push(messageId);
        send({ type: 'publish', topic, data, hash, timestamp: Date.now(), messageId });
      }
    } else if (frame.type === 'publish_response') {
      if (!frame.success) fail(`publish refused: ${frame.error}`);
      waiting.delete(frame.messageId);
      if (waiting.size === 0) {
        process.stdout.write(JSON.stringify({ messageIds: ids }) + '\n');
        ws.close();
      }
    }
  });
}

function receive(url, session, password, key, topic, count) {
  let got = 0;
  connect(url, session, password, (frame, send, ws) => {
    if (frame.type === 'init_response') {
      send({ type: 'subscribe', topic });
    } else if (frame.type === 'subscribe_response') {
      if (!frame.success) fail(`subscribe refused: ${frame.error}`);
      process.stdout.write('ready\n');
    } else if (frame.type === 'message') {
      const text = decrypt(key, frame.data, frame.hash);
      send({ type: 'ack', topic: frame.topic, messageId: frame.messageId });
      process.stdout.write(JSON.stringify({ messageId: frame.messageId, topic: frame.topic, text }) + '\n');
      if (++got >= count) ws.close();
    }
  });
}

const [command, url, session, password, key, topic, ...rest] = process.argv.slice(2);
if (command === 'publish' && rest.length > 0) {
  publish(url, session, password, key, topic, rest);
} else if (command === 'receive' && rest.length === 1) {
  receive(url, session, password, key, topic, Number(rest[0]));
} else {
  process.stderr.write('usage: legacy_client.js publish <wsUrl> <session> <password> <keyB64> <topic> <text>...\n' +
                       '       legacy_client.js receive <wsUrl> <session> <password> <keyB64> <topic> <count>\n');
  process.exit(64);
}
