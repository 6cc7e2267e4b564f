// Types of fastport-client (index.js). Checked against a typed usage example by
// `tsc -p test/tsconfig.json` (test/types.test.js, run by `make test`).
import { EventEmitter } from 'events';

export type CipherName = 'aes-gcm' | 'legacy-cbc' | 'none';
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface Backoff {
  /** ms before the first reconnect attempt (default 500) */
  initial?: number;
  /** ms cap (default 30000) */
  maximum?: number;
  /** growth per attempt (default 2) */
  multiplier?: number;
  /** each delay shortened by a random part of up to this much of it (default 0.5) */
  jitter?: number;
}

export interface FastPortOptions {
  /** `grpc://host:port`, `grpcs://host:port` (TLS) or `host:port`; default 127.0.0.1:50051 */
  url?: string;
  session: string;
  password: string;
  /** The session's base64 end-to-end key; null or absent only with cipher 'none'. */
  key?: string | null;
  /** Default 'aes-gcm'; 'legacy-cbc' for the deployed clients' format; 'none' for plain text. */
  cipher?: CipherName;
  /** Names a persistent subscriber: its subscriptions and messages wait while it is away. */
  clientId?: string;
  /** ACK each message once its handlers have returned (default true). */
  autoAck?: boolean;
  /** connect() keeps trying, with the backoff, while the server cannot be reached. */
  retryOnFailedConnect?: boolean;
  /** ms without a publish result before the same message is sent again (default 5000) */
  publishTimeout?: number;
  /** ms after which publish() gives up with `publish_timeout` (default 300000) */
  emitTimeout?: number;
  /** ms a request (init, subscribe) may wait for its answer (default 10000) */
  requestTimeout?: number;
  backoff?: Backoff;
  /** PEM root certificates for grpcs:// */
  rootCerts?: Buffer;
  /** Message ids remembered as handled, for de-duplication (default 100000) */
  dedupSize?: number;
}

export interface PublishOptions {
  /** Relayed unchanged to gRPC subscribers (not encrypted; dropped on the legacy JSON door). */
  attributes?: Record<string, string>;
}

export interface PublishReceipt {
  messageId: string;
  /** Subscribers the broker sent it to. */
  deliveredTo: number;
  /** The id had been published before (a re-send that crossed the result). */
  duplicate: boolean;
}

export interface AckReceived {
  messageId: string;
  topic: string;
  /** Deliveries of that message still unsettled. */
  remaining: number;
}

export interface DeliveryFailed {
  messageId: string;
  topic: string;
  /** retry_limit, expired, subscriber_gone or session_dropped */
  reason: string;
  remaining: number;
}

export class FastPortError extends Error {
  constructor(code: string, message: string);
  /** Stable, snake_case: programs switch on it. */
  readonly code: string;
}

export class BrokerError extends FastPortError {}

export class CryptoError extends Error {
  constructor(code: string, message: string);
  /** hash_mismatch, malformed, unsupported_format, authentication_failed, decrypt_failed, not_encrypted, invalid_key, invalid_cipher */
  readonly code: string;
  topic?: string;
  messageId?: string;
}

export class Message {
  readonly topic: string;
  readonly messageId: string;
  /** The plaintext. */
  readonly payload: Buffer;
  /** The payload as UTF-8 text. */
  readonly text: string;
  readonly timestampMs: number;
  /** 0 on the first delivery; the broker's re-send counter otherwise. */
  readonly retry: number;
  readonly attributes: Record<string, string>;
  /** ack() or nack() was called (by the application or by autoAck). */
  readonly settled: boolean;
  /** Settle: the broker stops re-sending it and tells the publisher. */
  ack(): void;
  /** Refuse for now: the broker re-sends it at once (it counts as a re-send). */
  nack(): void;
}

export type Handler = (message: Message) => unknown | Promise<unknown>;

export interface MessageIterator extends AsyncGenerator<Message, void, undefined> {
  /** Resolves when the broker has confirmed the subscription; rejects with a BrokerError if refused. */
  readonly subscribed: Promise<void>;
}

export class FastPort extends EventEmitter {
  constructor(options: FastPortOptions);
  readonly session: string;
  readonly state: ConnectionState;
  connect(): Promise<void>;
  close(): Promise<void>;
  publish(topic: string, message: string | Buffer, options?: PublishOptions): Promise<PublishReceipt>;
  subscribe(topic: string, handler: Handler): Promise<void>;
  unsubscribe(topic: string, handler?: Handler): Promise<void>;
  messages(topic: string): MessageIterator;

  on(event: 'ack', listener: (ack: AckReceived) => void): this;
  on(event: 'deliveryFailed', listener: (failure: DeliveryFailed) => void): this;
  on(event: 'error', listener: (error: FastPortError | CryptoError) => void): this;
  on(event: 'state', listener: (state: ConnectionState, error: FastPortError | null) => void): this;
}

export interface SessionOptions {
  name: string;
  password: string;
  retryIntervalMs?: number;
  maxRetryLimit?: number;
  rootCerts?: Buffer;
}

/** Create a session through the Admin service; the secret key is shown only here. */
export function createSession(url: string, adminToken: string, options: SessionOptions): Promise<{ name: string; secretKey: string }>;
/** A new random 32-byte key, as standard base64. */
export function generateKey(): string;
/** MQTT matching as the broker does it. */
export function topicMatches(pattern: string, topic: string): boolean;
/** This package's version. */
export const version: string;
