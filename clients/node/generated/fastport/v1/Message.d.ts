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
   * As published (empty for messages published on the legacy JSON protocol), plus the
   * broker's own, whose keys start with `fastport-` (reserved: publishers cannot set
   * them). A message on a session's dead-letter topic (CreateSessionRequest.
   * dead_letter_topic) is a given-up delivery published again: its payload, hash,
   * timestamp, json flag and attributes are the original's, its message_id is derived
   * from the original id and the subscriber (the same on every attempt, so it is
   * dead-lettered once), and these attributes say what happened:
   * fastport-dl-topic        the topic it was published to
   * fastport-dl-message-id   its original message id
   * fastport-dl-reason       retry_limit, expired or subscriber_gone
   * fastport-dl-attempts     sends to that subscriber before it was given up (decimal)
   * fastport-dl-subscriber   the subscriber's client id; empty for a subscriber
   * without one
   * fastport-dl-time-ms      when it was given up, ms since the Unix epoch (decimal)
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
   * As published (empty for messages published on the legacy JSON protocol), plus the
   * broker's own, whose keys start with `fastport-` (reserved: publishers cannot set
   * them). A message on a session's dead-letter topic (CreateSessionRequest.
   * dead_letter_topic) is a given-up delivery published again: its payload, hash,
   * timestamp, json flag and attributes are the original's, its message_id is derived
   * from the original id and the subscriber (the same on every attempt, so it is
   * dead-lettered once), and these attributes say what happened:
   * fastport-dl-topic        the topic it was published to
   * fastport-dl-message-id   its original message id
   * fastport-dl-reason       retry_limit, expired or subscriber_gone
   * fastport-dl-attempts     sends to that subscriber before it was given up (decimal)
   * fastport-dl-subscriber   the subscriber's client id; empty for a subscriber
   * without one
   * fastport-dl-time-ms      when it was given up, ms since the Unix epoch (decimal)
   */
  'attributes': ({[key: string]: string});
}
