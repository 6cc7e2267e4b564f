'use strict';
// fastport-client for Node.js: the gRPC door (`fastport.v1.Broker/Connect`), with the
// reliability the Python client has (clients/python/fastport_client/client.py):
//
// * Publish until confirmed: `publish()` resolves with the broker's result once the
//   message is stored. Without a result within `publishTimeout` the same message (same
//   id, same ciphertext) is sent again; the broker de-duplicates by id. A refusal the
//   broker calls temporary (`overloaded`, `shutting_down` ...) is retried the same way.
// * ACK after handling: with `autoAck` (the default) a message is ACKed once every
//   handler for it has returned; a handler that throws leaves it unACKed, so the broker
//   re-sends it. Without autoAck the application calls `message.ack()` or
//   `message.nack()` (re-send now).
// * One hand-over per message id: a re-send of an id already handled is ACKed again and
//   not handed over; one still being handled is ignored.
// * Integrity first: a message that fails its hash or authentication, or arrives in
//   plain text at a client with a key, is never handed over and never ACKed; it is
//   reported as an 'error' event (a CryptoError with the reason).
// * Reconnect: a lost stream is re-opened with exponential backoff and jitter; the
//   client re-inits, re-subscribes every topic and re-sends unconfirmed publishes. It
//   stops for good when retrying cannot help (session dropped or expired, password no
//   longer valid, client id taken over).
//
// Everything queued within one event-loop turn goes out as one ClientFrame: the server
// handles a frame's items in field order (init, subscribe, unsubscribe, publish, ack,
// nack), so an item that must go before something already in the frame starts a new one.

const { EventEmitter } = require('events');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const { CryptoError, generateKey, makeCipher } = require('./crypto');
const { loadServices } = require('./protocol');

const VERSION = require('./package.json').version;
const DEFAULT_PORT = 50051;
const FINAL_CLOSINGS = new Set(['session_dropped', 'session_expired', 'replaced']);
const FINAL_REFUSALS = new Set(['session_not_found', 'invalid_password', 'invalid_field', 'unauthenticated', 'permission_denied']);
const KIND = { init: 1, subscribe: 2, unsubscribe: 3, publish: 4, ack: 5, nack: 6 };
const FRAME_BYTES = 1 << 20;
const CLOSE_FLUSH_MS = 2000;
// A messages() consumer left the loop before this message was handed over: not ACKed.
const ABANDONED = Symbol('abandoned');
const CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

/** Any error of this package: `code` is stable and snake_case, `message` for people. */
class FastPortError extends Error {
  constructor(code, message) {
    super(`${message} [${code}]`);
    this.name = 'FastPortError';
    this.code = code;
  }
}

/** The broker refused a request; `code` is the broker's error code. `temporary` is the
 *  broker's word on whether the same request, sent again unchanged, may succeed later
 *  (overloaded, storage_error, shutting_down ...): publish() retries those itself. */
class BrokerError extends FastPortError {
  constructor(code, message, temporary = false) {
    super(code, message);
    this.name = 'BrokerError';
    this.temporary = temporary;
  }
}

/** `grpc://host:port`, `grpcs://host:port` (TLS) or a bare `host:port`. */
function parseUrl(url) {
  const match = /^(?:(grpcs?):\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(String(url));
  if (!match) throw new FastPortError('invalid_url', `Use grpc://host:port, grpcs://host:port or host:port, not ${JSON.stringify(url)}`);
  return { target: `${match[2]}:${match[3] || DEFAULT_PORT}`, tls: match[1] === 'grpcs' };
}

function credentials(tls, rootCerts) {
  return tls ? grpc.credentials.createSsl(rootCerts || null) : grpc.credentials.createInsecure();
}

/** MQTT matching as the broker does it: `+` one level, a last `#` that level and below. */
function topicMatches(pattern, topic) {
  if (pattern === topic) return true;
  const p = pattern.split('/');
  const t = topic.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#' && i === p.length - 1) return true;
    if (i >= t.length || (p[i] !== '+' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

function brokerError(err) {
  return new BrokerError(err.code || 'internal', err.message || err.code || 'Request refused', Boolean(err.temporary));
}

/** A received message, decrypted and checked. Settle it with ack() or nack(). */
class Message {
  constructor(client, raw, payload) {
    this.topic = raw.topic;
    this.messageId = raw.message_id;
    /** The plaintext (a Buffer). */
    this.payload = payload;
    this.timestampMs = raw.timestamp_ms;
    /** 0 on the first delivery; the broker's re-send counter otherwise. */
    this.retry = raw.retry;
    /** The publisher's attributes (gRPC only; not encrypted). */
    this.attributes = { ...raw.attributes };
    this.settled = false;
    Object.defineProperty(this, '_client', { value: client });
  }

  get text() {
    return this.payload.toString('utf8');
  }

  /** Settle: the broker stops re-sending it and tells the publisher. */
  ack() {
    if (this.settled) return;
    this.settled = true;
    this._client._settle(this, 'ack');
  }

  /** Refuse for now: the broker re-sends it at once (it counts as a re-send). */
  nack() {
    if (this.settled) return;
    this.settled = true;
    this._client._settle(this, 'nack');
  }
}

class FastPort extends EventEmitter {
  /**
   * @param {object} options see index.d.ts (FastPortOptions)
   */
  constructor(options) {
    super();
    const o = { ...options };
    this.session = o.session;
    this._password = o.password;
    this._endpoint = parseUrl(o.url || `127.0.0.1:${DEFAULT_PORT}`);
    // Plain text only when asked for: a forgotten key must not silently mean no encryption.
    this._cipher = makeCipher(o.cipher || 'aes-gcm', o.key ?? null);
    this._clientId = o.clientId || '';
    this._autoAck = o.autoAck !== false;
    this._retryOnFailedConnect = Boolean(o.retryOnFailedConnect);
    this._publishTimeout = o.publishTimeout ?? 5000;
    this._emitTimeout = o.emitTimeout ?? 300_000;
    this._requestTimeout = o.requestTimeout ?? 10_000;
    this._backoff = { initial: 500, maximum: 30_000, multiplier: 2, jitter: 0.5, ...o.backoff };
    this._stub = new (loadServices().Broker)(
      this._endpoint.target,
      credentials(this._endpoint.tls, o.rootCerts),
      CHANNEL_OPTIONS,
    );
    this._handlers = new Map(); // topic -> [handler]
    this._unconfirmed = new Map(); // messageId -> { item, resolve, reject }
    this._seen = new Set(); // handled and settled ids (bounded, oldest first out)
    this._seenMax = o.dedupSize ?? 100_000;
    this._active = new Set(); // ids queued or being handled
    this._inbox = [];
    this._dispatching = false;
    this._call = null;
    this._connected = false;
    this._closed = null;
    this._ids = 1;
    this._requests = new Map(); // request_id -> { resolve, reject }
    this._outbox = [];
    this._lastKind = 0;
    this._frameBytes = 0;
    this._flushScheduled = false;
    this.state = 'closed';
  }

  // ------------------------------------------------------------------ lifecycle

  /** Connect, authenticate and subscribe what was registered so far. Rejects with a
   *  FastPortError `connect_failed` (unless retryOnFailedConnect) or a BrokerError. */
  async connect() {
    if (this._closed) throw this._closed;
    this._setState('connecting');
    for (let attempt = 0; ; attempt++) {
      try {
        await this._open();
        return;
      } catch (err) {
        // Only an unreachable or silent server is worth waiting for; a refusal is final.
        if (!this._retryOnFailedConnect || err instanceof BrokerError || this._closed) {
          this._setState('closed', err);
          throw err;
        }
        await this._sleep(this._delay(attempt));
      }
    }
  }

  /** Close: unconfirmed publishes reject with `closed`, message iterators end. */
  async close() {
    await this._shutdown(null);
  }

  _setState(state, error) {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state, error || null);
  }

  _delay(attempt) {
    const b = this._backoff;
    const base = Math.min(b.maximum, b.initial * b.multiplier ** Math.min(attempt, 64));
    return base * (1 - b.jitter * Math.random());
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this._sleeping = { timer, resolve };
    }).finally(() => {
      this._sleeping = null;
    });
  }

  /** Open one stream and bring it to where the application expects it to be. */
  async _open() {
    const call = this._stub.Connect();
    this._call = call;
    this._outbox = [];
    this._lastKind = 0;
    let closing = null;
    call.on('data', (frame) => {
      if (frame.closing) closing = frame.closing;
      if (call === this._call) this._dispatch(frame);
    });
    const ended = (status) => {
      if (call !== this._call) return;
      let err;
      if (closing) err = new FastPortError(closing.code || 'closed_by_server', closing.message || 'Server closed the stream');
      else if (status && status.code === grpc.status.UNAVAILABLE && !this._connected) err = new FastPortError('connect_failed', `Cannot reach ${this._endpoint.target}: ${status.details}`);
      else err = new FastPortError('connection_lost', `gRPC stream ended${status ? `: ${status.details || status.code}` : ''}`);
      this._lost(err);
    };
    call.on('error', ended);
    call.on('end', () => ended(null));
    try {
      await this._request('init', { session: this.session, password: this._password, client_id: this._clientId });
      const topics = [...this._handlers.keys()];
      const results = await Promise.allSettled(topics.map((topic) => this._subscribeRequest(topic)));
      for (const r of results) {
        if (r.status === 'rejected') {
          if (!(r.reason instanceof BrokerError)) throw r.reason;
          this._report(r.reason); // e.g. an invalid topic: the others still work
        }
      }
    } catch (err) {
      this._call = null;
      this._failRequests(err);
      call.cancel();
      throw err;
    }
    this._connected = true;
    for (const pending of this._unconfirmed.values()) this._queue('publish', pending.item);
    this._setState('connected');
  }

  /** The stream ended without our asking: fail the waiting requests, then reconnect
   *  (or stop for good). */
  _lost(err) {
    this._call = null;
    this._failRequests(err);
    if (!this._connected) return; // a connect in progress sees the failed request
    this._connected = false;
    if (FINAL_CLOSINGS.has(err.code)) {
      this._shutdown(err);
      return;
    }
    this._setState('reconnecting', err);
    this._reconnect();
  }

  async _reconnect() {
    for (let attempt = 0; !this._closed; attempt++) {
      await this._sleep(this._delay(attempt));
      if (this._closed) return;
      try {
        await this._open();
        return;
      } catch (err) {
        if (err instanceof BrokerError && FINAL_REFUSALS.has(err.code)) {
          await this._shutdown(err);
          return;
        }
        if (err instanceof BrokerError) this._report(err);
      }
    }
  }

  async _shutdown(error) {
    if (this._closed) return;
    this._closed = new FastPortError('closed', error ? `Closed by the server: ${error.message}` : 'The client is closed');
    if (error) this._report(error);
    this._connected = false;
    if (this._sleeping) {
      clearTimeout(this._sleeping.timer);
      this._sleeping.resolve();
    }
    for (const pending of this._unconfirmed.values()) pending.reject(this._closed);
    this._unconfirmed.clear();
    this._failRequests(this._closed);
    this.emit('_closed');
    const call = this._call;
    this._call = null;
    if (call) {
      this._flushNow(call); // the ACKs of messages just handled
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, CLOSE_FLUSH_MS);
        call.end(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      call.cancel();
    }
    this._stub.close();
    this._setState('closed', error);
  }

  _report(error) {
    if (this.listenerCount('error')) this.emit('error', error);
    else process.emitWarning(`fastport: ${error.message}`);
  }

  // ------------------------------------------------------------------ frames

  /** Queue one item of `kind`; everything queued in one turn goes out as one frame. */
  _queue(kind, item, size = 48) {
    const call = this._call;
    if (!call) return;
    const k = KIND[kind];
    let frame = this._outbox[this._outbox.length - 1];
    if (!frame || k < this._lastKind || (k === KIND.init && this._lastKind) || this._frameBytes + size > FRAME_BYTES) {
      frame = {};
      this._outbox.push(frame);
      this._frameBytes = 0;
    }
    this._lastKind = k;
    this._frameBytes += size;
    if (kind === 'init') frame.init = item;
    else (frame[kind] ||= []).push(item);
    if (!this._flushScheduled) {
      this._flushScheduled = true;
      setImmediate(() => {
        this._flushScheduled = false;
        if (this._call === call) this._flushNow(call);
      });
    }
  }

  _flushNow(call) {
    const frames = this._outbox;
    this._outbox = [];
    this._lastKind = 0;
    for (const frame of frames) call.write(frame);
  }

  /** Send a request that expects a reply, bounded by requestTimeout. */
  _request(kind, item) {
    if (!this._call) return Promise.reject(new FastPortError('connection_lost', 'Not connected'));
    const id = this._ids++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._requests.delete(id);
        reject(new FastPortError('timeout', `No answer from the server within ${this._requestTimeout} ms`));
        if (this._call) this._call.cancel();
      }, this._requestTimeout);
      this._requests.set(id, {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      });
      this._queue(kind, { ...item, request_id: id });
    });
  }

  _answer(result) {
    const waiter = this._requests.get(result.request_id);
    if (!waiter) return;
    this._requests.delete(result.request_id);
    if (result.error) waiter.reject(brokerError(result.error));
    else waiter.resolve();
  }

  _failRequests(err) {
    const waiting = [...this._requests.values()];
    this._requests.clear();
    for (const w of waiting) w.reject(err);
  }

  _dispatch(frame) {
    if (frame.init_result) this._answer(frame.init_result);
    for (const r of frame.subscribe_results) this._answer(r);
    for (const r of frame.unsubscribe_results) this._answer(r);
    for (const r of frame.publish_results) this._onPublishResult(r);
    for (const m of frame.messages) this._onDelivery(m);
    for (const a of frame.acks_received) this.emit('ack', { messageId: a.message_id, topic: a.topic, remaining: a.remaining });
    for (const f of frame.delivery_failures) {
      this.emit('deliveryFailed', {
        messageId: f.message_id, topic: f.topic, reason: f.reason, remaining: f.remaining, deadLettered: f.dead_lettered,
      });
    }
    for (const e of frame.errors) this._report(brokerError(e));
  }

  // ------------------------------------------------------------------ publishing

  /**
   * Encrypt and publish; resolves with { messageId, deliveredTo, duplicate } once the
   * broker has stored it. `message` is a string (UTF-8) or a Buffer.
   */
  async publish(topic, message, options = {}) {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    const plaintext = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    if (!Buffer.isBuffer(plaintext)) throw new TypeError('message must be a string or a Buffer');
    if (this._closed) throw this._closed;
    const messageId = crypto.randomUUID().replaceAll('-', '');
    let payload = plaintext;
    let hash = '';
    if (this._cipher) {
      const [data, h] = this._cipher.seal(plaintext, { session: this.session, topic, messageId });
      payload = Buffer.from(data, 'utf8');
      hash = h;
    }
    const item = { topic, payload, hash, timestamp_ms: Date.now(), message_id: messageId, attributes: { ...options.attributes } };
    const started = Date.now();
    return new Promise((resolve, reject) => {
      let timer = null;
      const done = (fn) => (value) => {
        clearTimeout(timer);
        this._unconfirmed.delete(messageId);
        fn(value);
      };
      const pending = { item, resolve: done(resolve), reject: done(reject) };
      this._unconfirmed.set(messageId, pending);
      const send = () => {
        if (Date.now() - started >= this._emitTimeout) {
          const error = new FastPortError('publish_timeout', `Message ${messageId} was not confirmed within ${this._emitTimeout} ms`);
          if (pending.refused) error.cause = pending.refused;
          pending.reject(error);
          return;
        }
        if (this._connected) this._queue('publish', item, payload.length + topic.length + 48);
        timer = setTimeout(send, this._publishTimeout);
      };
      send();
    });
  }

  _onPublishResult(r) {
    const pending = this._unconfirmed.get(r.message_id);
    if (!pending) return;
    if (!r.error) pending.resolve({ messageId: r.message_id, deliveredTo: r.delivered_to, duplicate: r.duplicate });
    else if (r.error.temporary) pending.refused = brokerError(r.error); // sent again after publishTimeout
    else pending.reject(brokerError(r.error));
  }

  // ------------------------------------------------------------------ subscribing

  /** Call `handler(message)` for every message on `topic` (wildcards allowed); resolves
   *  once the broker has confirmed the subscription (it is live), rejects with a
   *  BrokerError (invalid_topic, limit_exceeded, ...) when refused. */
  async subscribe(topic, handler) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (this._closed) throw this._closed;
    const handlers = this._handlers.get(topic) || [];
    handlers.push(handler);
    this._handlers.set(topic, handlers);
    if (handlers.length > 1 || !this._connected) return;
    try {
      await this._subscribeRequest(topic);
    } catch (err) {
      if (err instanceof BrokerError) {
        this._removeHandler(topic, handler);
        throw err;
      } // a lost connection re-subscribes every registered topic
    }
  }

  _subscribeRequest(topic) {
    return this._request('subscribe', { topic, persistent: Boolean(this._clientId) });
  }

  /** Stop calling `handler` (every handler when omitted) for `topic`. */
  async unsubscribe(topic, handler) {
    if (this._removeHandler(topic, handler) && this._connected) {
      await this._request('unsubscribe', { topic }).catch((err) => {
        if (err instanceof BrokerError) throw err;
      });
    }
  }

  _removeHandler(topic, handler) {
    const handlers = this._handlers.get(topic);
    if (!handlers) return false;
    const left = handler ? handlers.filter((h) => h !== handler) : [];
    if (left.length) {
      this._handlers.set(topic, left);
      return false;
    }
    this._handlers.delete(topic);
    return true;
  }

  /**
   * Iterate over the messages on `topic`. With autoAck, each message is ACKed when the
   * loop asks for the next one or is left (break, return, throw). The subscription is
   * made at once: the iterator's `subscribed` promise resolves when the broker has
   * confirmed it (rejects if refused). Iterate it or call its return() to end it.
   */
  messages(topic) {
    const queue = [];
    let wake = null;
    const handler = async (message) => {
      const taken = await new Promise((handled) => {
        queue.push({ message, handled });
        if (wake) wake();
      });
      if (!taken) throw ABANDONED;
    };
    const closed = () => wake && wake();
    this.on('_closed', closed);
    const subscribed = this.subscribe(topic, handler);
    const client = this;
    async function* iterate() {
      let current = null;
      try {
        await subscribed;
        while (!client._closed) {
          if (!queue.length) {
            await new Promise((resolve) => { wake = resolve; });
            wake = null;
            continue;
          }
          current = queue.shift();
          yield current.message;
          current.handled(true);
          current = null;
        }
      } finally {
        client.off('_closed', closed);
        if (current) current.handled(true); // the loop was left with it: done with it
        for (const left of queue) left.handled(false);
        if (!client._closed) await client.unsubscribe(topic, handler).catch(() => {});
      }
    }
    const iterator = iterate();
    subscribed.catch(() => {}); // reported through the iterator and `subscribed`
    iterator.subscribed = subscribed;
    return iterator;
  }

  // ------------------------------------------------------------------ receiving

  _onDelivery(raw) {
    const id = raw.message_id;
    if (this._seen.has(id)) {
      this._queue('ack', { message_id: id, topic: raw.topic }); // our ACK was lost or crossed this re-send
      return;
    }
    if (this._active.has(id)) return;
    let payload;
    try {
      if (!this._cipher) payload = raw.payload;
      else if (raw.json) throw new CryptoError('not_encrypted', 'The message data is a plain JSON value, not an encrypted string');
      else payload = this._cipher.open(raw.payload.toString('utf8'), raw.hash, { session: this.session, topic: raw.topic, messageId: id });
    } catch (err) {
      err.topic = raw.topic;
      err.messageId = id;
      this._report(err);
      return;
    }
    this._active.add(id);
    this._inbox.push(new Message(this, raw, payload));
    if (!this._dispatching) this._dispatchInbox();
  }

  /** Hand messages over one at a time, in arrival order. */
  async _dispatchInbox() {
    this._dispatching = true;
    try {
      while (this._inbox.length && !this._closed) {
        const message = this._inbox.shift();
        const handlers = [];
        for (const [pattern, hs] of this._handlers) if (topicMatches(pattern, message.topic)) handlers.push(...hs);
        if (!handlers.length) {
          this._active.delete(message.messageId); // nobody wants it here: not ACKed
          continue;
        }
        try {
          for (const h of handlers) await h(message);
          if (this._autoAck) message.ack();
        } catch (err) {
          this._active.delete(message.messageId); // handed over again when re-sent
          if (err === ABANDONED) continue;
          const error = new FastPortError('handler_failed', `A handler for ${JSON.stringify(message.topic)} threw ${err}; not ACKed`);
          error.cause = err;
          this._report(error);
        }
      }
    } finally {
      this._dispatching = false;
    }
  }

  _settle(message, kind) {
    const id = message.messageId;
    this._active.delete(id);
    if (kind === 'ack') {
      this._seen.add(id);
      if (this._seen.size > this._seenMax) this._seen.delete(this._seen.values().next().value);
    }
    // Without a stream the ACK is dropped: the broker re-sends, and the id is then ACKed
    // from the de-duplication set (a NACK needs nothing: the re-send comes anyway).
    this._queue(kind, { message_id: id, topic: message.topic });
  }
}

/** Create a session through the Admin service (the admin token is the server's). */
function createSession(url, adminToken, options) {
  const { target, tls } = parseUrl(url);
  const admin = new (loadServices().Admin)(target, credentials(tls, options.rootCerts));
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${adminToken}`);
  const request = {
    name: options.name,
    password: options.password,
    retry_interval_ms: options.retryIntervalMs || 0,
    max_retry_limit: options.maxRetryLimit || 0,
    limits: { max_pending_messages: options.maxPendingMessages || 0, max_in_flight: options.maxInFlight || 0 },
  };
  return new Promise((resolve, reject) => {
    admin.CreateSession(request, metadata, (err, reply) => {
      admin.close();
      if (err) {
        const code = err.metadata && err.metadata.get('fastport-error-code')[0];
        const temporary = Boolean(err.metadata) && err.metadata.get('fastport-error-temporary')[0] === 'true';
        reject(new BrokerError(String(code || 'internal'), err.details || err.message, temporary));
      } else {
        resolve({ name: reply.session.name, secretKey: reply.secret_key });
      }
    });
  });
}

module.exports = {
  FastPort,
  Message,
  FastPortError,
  BrokerError,
  CryptoError,
  createSession,
  generateKey,
  topicMatches,
  version: VERSION,
};
