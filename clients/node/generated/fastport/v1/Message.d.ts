// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A message delivered to this stream.
 */
export interface Message {
  /**
   * The topic it was published to.
   */
  'topic'?: (string);
  /**
   * Its id, the same on every re-send; ACK with it.
   */
  'message_id'?: (string);
  /**
   * As published.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * As published; empty when it was none (a legacy publish's missing, null or empty
   * hash: the JSON door relays those as given).
   */
  'hash'?: (string);
  /**
   * As published, or the time the server received it when the publisher gave none.
   */
  'timestamp_ms'?: (number | string | Long);
  /**
   * 0 on the first delivery, then 1, 2, ... on re-sends.
   */
  'retry'?: (number);
  /**
   * The payload is a JSON text (see Publish.json).
   */
  'json'?: (boolean);
  /**
   * As published (empty for messages published on the legacy JSON protocol).
   */
  'attributes'?: ({[key: string]: string});
}

/**
 * A message delivered to this stream.
 */
export interface Message__Output {
  /**
   * The topic it was published to.
   */
  'topic': (string);
  /**
   * Its id, the same on every re-send; ACK with it.
   */
  'message_id': (string);
  /**
   * As published.
   */
  'payload': (Buffer);
  /**
   * As published; empty when it was none (a legacy publish's missing, null or empty
   * hash: the JSON door relays those as given).
   */
  'hash': (string);
  /**
   * As published, or the time the server received it when the publisher gave none.
   */
  'timestamp_ms': (number);
  /**
   * 0 on the first delivery, then 1, 2, ... on re-sends.
   */
  'retry': (number);
  /**
   * The payload is a JSON text (see Publish.json).
   */
  'json': (boolean);
  /**
   * As published (empty for messages published on the legacy JSON protocol).
   */
  'attributes': ({[key: string]: string});
}
