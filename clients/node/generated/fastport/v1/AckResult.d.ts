// Original file: proto/fastport/v1/broker.proto

import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from '../../fastport/v1/Error';
import type { Long } from '@grpc/proto-loader';

/**
 * Answer to an Ack or a Nack that carried a request_id.
 */
export interface AckResult {
  /**
   * The Ack's or Nack's request_id.
   */
  'request_id'?: (number | string | Long);
  /**
   * The message id it named.
   */
  'message_id'?: (string);
  /**
   * Set when it failed: `unknown_message` when this stream has no unsettled delivery
   * of that id (already ACKed, given up, or never delivered here).
   */
  'error'?: (_fastport_v1_Error | null);
}

/**
 * Answer to an Ack or a Nack that carried a request_id.
 */
export interface AckResult__Output {
  /**
   * The Ack's or Nack's request_id.
   */
  'request_id': (number);
  /**
   * The message id it named.
   */
  'message_id': (string);
  /**
   * Set when it failed: `unknown_message` when this stream has no unsettled delivery
   * of that id (already ACKed, given up, or never delivered here).
   */
  'error': (_fastport_v1_Error__Output | null);
}
