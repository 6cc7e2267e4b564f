// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One message to publish.
 */
export interface Publish {
  /**
   * Echoed by the PublishResult.
   */
  'request_id'?: (number | string | Long);
  /**
   * Where to publish: a topic without wildcards.
   */
  'topic'?: (string);
  /**
   * Opaque to the broker (normally end-to-end ciphertext).
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * Integrity hash chosen by the client (the legacy format: SHA-256 hex of the data);
   * empty: none.
   */
  'hash'?: (string);
  /**
   * Publisher's timestamp, ms since the Unix epoch; kept on re-sends. When 0 the
   * server fills in the time it received the publish.
   */
  'timestamp_ms'?: (number | string | Long);
  /**
   * Optional: made by the server when empty. Publishing an id the session has already
   * seen does not deliver it again; the result of the first publish is returned.
   */
  'message_id'?: (string);
  /**
   * The payload is a JSON text (a legacy client published a non-string `data` value).
   */
  'json'?: (boolean);
  /**
   * Application headers, relayed unchanged to gRPC subscribers (not encrypted). Keys
   * are non-empty; keys and values count towards the payload size limit. Keys that
   * start with `fastport-` are the broker's (see Message.attributes): a publish with
   * one is refused with `invalid_field`. The legacy JSON protocol has no place for
   * them: JSON subscribers get the message without.
   */
  'attributes'?: ({[key: string]: string});
}

/**
 * One message to publish.
 */
export interface Publish__Output {
  /**
   * Echoed by the PublishResult.
   */
  'request_id': (number);
  /**
   * Where to publish: a topic without wildcards.
   */
  'topic': (string);
  /**
   * Opaque to the broker (normally end-to-end ciphertext).
   */
  'payload': (Buffer);
  /**
   * Integrity hash chosen by the client (the legacy format: SHA-256 hex of the data);
   * empty: none.
   */
  'hash': (string);
  /**
   * Publisher's timestamp, ms since the Unix epoch; kept on re-sends. When 0 the
   * server fills in the time it received the publish.
   */
  'timestamp_ms': (number);
  /**
   * Optional: made by the server when empty. Publishing an id the session has already
   * seen does not deliver it again; the result of the first publish is returned.
   */
  'message_id': (string);
  /**
   * The payload is a JSON text (a legacy client published a non-string `data` value).
   */
  'json': (boolean);
  /**
   * Application headers, relayed unchanged to gRPC subscribers (not encrypted). Keys
   * are non-empty; keys and values count towards the payload size limit. Keys that
   * start with `fastport-` are the broker's (see Message.attributes): a publish with
   * one is refused with `invalid_field`. The legacy JSON protocol has no place for
   * them: JSON subscribers get the message without.
   */
  'attributes': ({[key: string]: string});
}
