// Types of fastport-client (index.js). Checked against a typed usage example by
// `tsc -p test/tsconfig.json` (test/types.test.js, run by `make test`).
// The public API is camelCase; every value it passes on from a protocol message takes
// its type from the declarations generated from the contract (generated/, `npm run
// generate`): a field it relies on that is renamed or removed in the .proto files fails
// tsc, and a field whose type changes changes the API's type with it.
import { EventEmitter } from 'events';
import type { AckReceived__Output } from './generated/fastport/v1/AckReceived';
import type { CreateSessionRequest } from './generated/fastport/v1/CreateSessionRequest';
import type { CreateSessionResponse__Output } from './generated/fastport/v1/CreateSessionResponse';
import type { DeliveryFailed__Output } from './generated/fastport/v1/DeliveryFailed';
import type { Error__Output } from './generated/fastport/v1/Error';
import type { Limits } from './generated/fastport/v1/Limits';
import type { Message__Output } from './generated/fastport/v1/Message';
import type { PublishResult__Output } from './generated/fastport/v1/PublishResult';
import type { Publish } from './generated/fastport/v1/Publish';
import type { SessionInfo__Output } from './generated/fastport/v1/SessionInfo';

/** The loader's view of the contract (fastport.v1 messages and services), for raw gRPC use. */
export type { ProtoGrpcType as BrokerProtocol } from './generated/broker';
export type { ProtoGrpcType as AdminProtocol } from './generated/admin';

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
  attributes?: Publish['attributes'];
}

/** The broker's PublishResult. */
export interface PublishReceipt {
  messageId: PublishResult__Output['message_id'];
  /** Subscribers the broker sent it to. */
  deliveredTo: PublishResult__Output['delivered_to'];
  /** The id had been published before (a re-send that crossed the result). */
  duplicate: PublishResult__Output['duplicate'];
}

/** The broker's AckReceived: a subscriber ACKed a message this client published. */
export interface AckReceived {
  messageId: AckReceived__Output['message_id'];
  topic: AckReceived__Output['topic'];
  /** Deliveries of that message still unsettled. */
  remaining: AckReceived__Output['remaining'];
}

/** The broker's DeliveryFailed: it gave up delivering a message this client published. */
export interface DeliveryFailed {
  messageId: DeliveryFailed__Output['message_id'];
  topic: DeliveryFailed__Output['topic'];
  /** retry_limit, expired, subscriber_gone or session_dropped */
  reason: DeliveryFailed__Output['reason'];
  remaining: DeliveryFailed__Output['remaining'];
  /** the message went to the session's dead-letter topic for this delivery */
  deadLettered: DeliveryFailed__Output['dead_lettered'];
}

export class FastPortError extends Error {
  constructor(code: string, message: string);
  /** Stable, snake_case: programs switch on it. */
  readonly code: string;
}

/** The broker refused a request; `code` is its Error's code. */
export class BrokerError extends FastPortError {
  readonly code: Error__Output['code'];
  /** The broker's word: the same request, sent again unchanged, may succeed later
   *  (overloaded, storage_error, shutting_down ...). publish() retries these itself. */
  readonly temporary: Error__Output['temporary'];
}

export class CryptoError extends Error {
  constructor(code: string, message: string);
  /** hash_mismatch, malformed, unsupported_format, authentication_failed, decrypt_failed, not_encrypted, invalid_key, invalid_cipher */
  readonly code: string;
  topic?: string;
  messageId?: string;
}

/** A delivered Message, decrypted and checked. */
export class Message {
  readonly topic: Message__Output['topic'];
  readonly messageId: Message__Output['message_id'];
  /** The plaintext. */
  readonly payload: Buffer;
  /** The payload as UTF-8 text. */
  readonly text: string;
  readonly timestampMs: Message__Output['timestamp_ms'];
  /** 0 on the first delivery; the broker's re-send counter otherwise. */
  readonly retry: Message__Output['retry'];
  readonly attributes: Message__Output['attributes'];
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

/** The Admin service's CreateSessionRequest (what this client sends of it). */
export interface SessionOptions {
  name: NonNullable<CreateSessionRequest['name']>;
  password: NonNullable<CreateSessionRequest['password']>;
  retryIntervalMs?: CreateSessionRequest['retry_interval_ms'];
  maxRetryLimit?: CreateSessionRequest['max_retry_limit'];
  maxPendingMessages?: Limits['max_pending_messages'];
  maxInFlight?: Limits['max_in_flight'];
  rootCerts?: Buffer;
}

export interface CreatedSession {
  name: SessionInfo__Output['name'];
  /** The session's end-to-end key (base64). */
  secretKey: CreateSessionResponse__Output['secret_key'];
}

/** Create a session through the Admin service; the secret key is shown only here. */
export function createSession(url: string, adminToken: string, options: SessionOptions): Promise<CreatedSession>;
/** A new random 32-byte key, as standard base64. */
export function generateKey(): string;
/** MQTT matching as the broker does it. */
export function topicMatches(pattern: string, topic: string): boolean;
/** This package's version. */
export const version: string;
