// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Refuses this subscriber's delivery of one message for now: the broker re-sends it
 * at once instead of waiting for its retry interval. It counts as a re-send (the
 * `retry` counter grows and the session's retry limit applies).
 */
export interface Nack {
  /**
   * The delivered message's id.
   */
  'message_id'?: (string);
  /**
   * The delivered message's topic (informative).
   */
  'topic'?: (string);
  /**
   * Optional: when not 0, the server answers with an AckResult echoing it.
   */
  'request_id'?: (number | string | Long);
}

/**
 * Refuses this subscriber's delivery of one message for now: the broker re-sends it
 * at once instead of waiting for its retry interval. It counts as a re-send (the
 * `retry` counter grows and the session's retry limit applies).
 */
export interface Nack__Output {
  /**
   * The delivered message's id.
   */
  'message_id': (string);
  /**
   * The delivered message's topic (informative).
   */
  'topic': (string);
  /**
   * Optional: when not 0, the server answers with an AckResult echoing it.
   */
  'request_id': (number);
}
