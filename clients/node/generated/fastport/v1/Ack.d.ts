// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Settles this subscriber's delivery of one message.
 */
export interface Ack {
  /**
   * The delivered message's id.
   */
  'message_id'?: (string);
  /**
   * The delivered message's topic (informative; the id alone identifies it).
   */
  'topic'?: (string);
  /**
   * Optional: when not 0, the server answers with an AckResult echoing it (an ACK
   * for a message this stream has no unsettled delivery of then gets an error).
   * When 0 there is no reply, as before.
   */
  'request_id'?: (number | string | Long);
}

/**
 * Settles this subscriber's delivery of one message.
 */
export interface Ack__Output {
  /**
   * The delivered message's id.
   */
  'message_id': (string);
  /**
   * The delivered message's topic (informative; the id alone identifies it).
   */
  'topic': (string);
  /**
   * Optional: when not 0, the server answers with an AckResult echoing it (an ACK
   * for a message this stream has no unsettled delivery of then gets an error).
   * When 0 there is no reply, as before.
   */
  'request_id': (number);
}
