'use strict';
// The Node.js client against a real fastport server (started by
// tests/integration/test_node_package.py): publish, wildcard subscriptions, ACK
// reports, explicit ack/nack, plain text, attributes, message iterators, reconnect.

const { test } = require('node:test');
const { assert, GRPC, newSession, connected, next, deferred, Server } = require('./helpers');
const { FastPort, createSession, generateKey, version } = require('..');

test('publish reaches wildcard subscribers, and the publisher hears every ACK', async (t) => {
  const session = await newSession();
  const sub = await connected(t, session);
  const pub = await connected(t, session);
  const got = [];
  await sub.subscribe('rooms/+/temp', (m) => { got.push(m); });
  const acks = next(pub, 'ack', 3);
  const receipts = await Promise.all([1, 2, 3].map((i) => pub.publish(`rooms/r${i}/temp`, `reading ${i} °C`)));
  assert.deepEqual(receipts.map((r) => [r.deliveredTo, r.duplicate]), [[1, false], [1, false], [1, false]]);
  const acked = await acks;
  assert.deepEqual(acked.map((a) => a.remaining), [0, 0, 0]);
  assert.deepEqual(new Set(acked.map((a) => a.messageId)), new Set(receipts.map((r) => r.messageId)));
  assert.deepEqual(got.map((m) => m.text).sort(), ['reading 1 °C', 'reading 2 °C', 'reading 3 °C']);
  assert.ok(got.every((m) => m.retry === 0 && m.settled));
  assert.match(version, /^\d+\.\d+\.\d+$/);
});

test('attributes travel end to end, outside the ciphertext', async (t) => {
  const session = await newSession();
  const sub = await connected(t, session);
  const pub = await connected(t, session);
  const arrived = deferred();
  await sub.subscribe('t', arrived.resolve);
  await pub.publish('t', Buffer.from([0, 255, 1]), { attributes: { 'content-type': 'application/octet-stream', trace: 'é1' } });
  const message = await arrived.promise;
  assert.deepEqual(message.payload, Buffer.from([0, 255, 1]));
  assert.deepEqual(message.attributes, { 'content-type': 'application/octet-stream', trace: 'é1' });
});

test('without autoAck: nack has it re-sent at once, ack settles it', async (t) => {
  const session = await newSession({ retryIntervalMs: 3_600_000 });
  const sub = await connected(t, session, { autoAck: false });
  const pub = await connected(t, session);
  const seen = [];
  const settled = deferred();
  await sub.subscribe('jobs', (m) => {
    seen.push([m.text, m.retry]);
    if (m.retry === 0) m.nack();
    else {
      m.ack();
      settled.resolve();
    }
  });
  const acked = next(pub, 'ack');
  await pub.publish('jobs', 'job 1');
  await settled.promise;
  assert.deepEqual(seen, [['job 1', 0], ['job 1', 1]]); // an hour's retry interval: the NACK did it
  assert.equal((await acked).remaining, 0);
});

test('a handler that throws leaves the message unACKed and reports it', async (t) => {
  const session = await newSession({ retryIntervalMs: 3_600_000 });
  const sub = new FastPort({ url: GRPC(), session: session.name, password: 'pw', key: session.key });
  const pub = await connected(t, session);
  await sub.connect();
  const failed = next(sub, 'error');
  await sub.subscribe('t', () => { throw new Error('boom'); });
  await pub.publish('t', 'x');
  const error = await failed;
  assert.equal(error.code, 'handler_failed');
  assert.equal(error.cause.message, 'boom');
  // Still unsettled: when the subscriber leaves, the broker gives its delivery up.
  const gaveUp = next(pub, 'deliveryFailed');
  await sub.close();
  assert.deepEqual({ ...(await gaveUp), messageId: undefined }, { messageId: undefined, topic: 't', reason: 'subscriber_gone', remaining: 0, deadLettered: false });
});

test('plain text: cipher none sends as given; a client with a key reports it, never ACKs it', async (t) => {
  const session = await newSession({ retryIntervalMs: 3_600_000 });
  const keyed = new FastPort({ url: GRPC(), session: session.name, password: 'pw', key: session.key });
  await keyed.connect();
  const plain = await connected(t, { ...session, key: null }, { cipher: 'none' });
  const pub = await connected(t, { ...session, key: null }, { cipher: 'none' });
  const refused = next(keyed, 'error');
  await keyed.subscribe('sensors/#', () => assert.fail('a plain-text message was handed over'));
  const arrived = deferred();
  await plain.subscribe('sensors/#', arrived.resolve);
  const acked = next(pub, 'ack');
  await pub.publish('sensors/t1', '21.5');
  assert.equal((await arrived.promise).text, '21.5');
  assert.equal((await acked).remaining, 1); // the plain client's ACK
  assert.equal((await refused).code, 'not_encrypted');
  const gaveUp = next(pub, 'deliveryFailed'); // the keyed client's delivery was never ACKed
  await keyed.close();
  assert.equal((await gaveUp).reason, 'subscriber_gone');
  assert.throws(() => new FastPort({ url: GRPC(), session: 's', password: 'p' }), { code: 'invalid_key' });
});

test('messages(): the message handed out is ACKed when the loop breaks', async (t) => {
  const session = await newSession({ retryIntervalMs: 3_600_000 });
  const sub = await connected(t, session);
  const pub = await connected(t, session);
  const acked = next(pub, 'ack');
  const iterator = sub.messages('news');
  await iterator.subscribed; // the broker confirmed the subscription: it is live
  await pub.publish('news', 'one');
  const { value } = await iterator.next();
  assert.equal(value.text, 'one');
  await iterator.return(); // what `break` does
  assert.equal((await acked).remaining, 0);
});

test('a refused subscribe rejects with the broker\'s code', async (t) => {
  const session = await newSession();
  const fp = await connected(t, session);
  await assert.rejects(fp.subscribe('a/#/b', () => {}), { name: 'BrokerError', code: 'invalid_topic' });
  await assert.rejects(fp.publish('a/+', 'x'), { code: 'invalid_topic', temporary: false });
  const bad = new FastPort({ url: GRPC(), session: session.name, password: 'wrong', key: session.key });
  await assert.rejects(bad.connect(), { code: 'invalid_password' });
  await bad.close();
});

test('a temporary refusal (overloaded) is published again until accepted; past emitTimeout it is the cause', async (t) => {
  const session = await newSession({ maxPendingMessages: 1, retryIntervalMs: 3_600_000 });
  const sub = await connected(t, session, { autoAck: false });
  const held = [];
  const first = deferred();
  await sub.subscribe('full', (m) => {
    held.push(m);
    first.resolve();
  });
  const pub = await connected(t, session, { publishTimeout: 100 });
  await pub.publish('full', 'one'); // now the session holds its one pending message
  await first.promise;
  const impatient = await connected(t, session, { publishTimeout: 100, emitTimeout: 600 });
  const err = await impatient.publish('full', 'never').then(() => null, (e) => e);
  assert.equal(err && err.code, 'publish_timeout');
  assert.equal(err.cause.name, 'BrokerError');
  assert.deepEqual([err.cause.code, err.cause.temporary], ['overloaded', true]);
  const second = pub.publish('full', 'two'); // refused as overloaded, sent again every 100 ms
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(held.map((m) => m.text), ['one']);
  held[0].ack(); // room again: the next re-send is accepted
  assert.equal((await second).deliveredTo, 1);
});

test('retryOnFailedConnect waits for the server; a restart is survived with re-subscribe and re-send', async (t) => {
  const server = new Server(); // sqlite in a temporary directory: the session survives restarts
  t.after(() => server.remove());
  const url = await server.start();
  const session = { name: 'restart', password: 'pw', key: generateKey() };
  await createSession(url, process.env.FASTPORT_ADMIN_TOKEN, { name: session.name, password: 'pw' });
  await server.stop();
  const options = { url, session: session.name, password: 'pw', key: session.key, backoff: { initial: 50, maximum: 200 } };

  const impatient = new FastPort(options);
  await assert.rejects(impatient.connect(), { code: 'connect_failed' });
  await impatient.close();
  const sub = new FastPort({ ...options, retryOnFailedConnect: true });
  const pub = new FastPort(options);
  t.after(() => Promise.all([sub.close(), pub.close()]));
  const connecting = sub.connect();
  await server.start();
  await connecting;
  assert.equal(sub.state, 'connected');
  await pub.connect();

  const got = deferred();
  await sub.subscribe('t/#', (m) => got.resolve(m.text));
  const lost = next(sub, 'state');
  await server.stop();
  assert.equal(await lost, 'reconnecting');
  const back = next(sub, 'state');
  const sent = pub.publish('elsewhere', 'while down'); // sent again once reconnected
  await server.start();
  assert.equal((await sent).deliveredTo, 0);
  assert.equal(await back, 'connected');
  assert.equal((await pub.publish('t/1', 'after the restart')).deliveredTo, 1); // subscribed again
  assert.equal(await got.promise, 'after the restart');
});
