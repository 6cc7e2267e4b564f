// Original file: proto/fastport/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Per-session limits; 0 means "the server's default" (for max_payload_bytes, the
 * server-wide maximum; for the others, unlimited).
 */
export interface Limits {
  /**
   * Largest payload a publish may carry (attributes included).
   */
  'max_payload_bytes'?: (number | string | Long);
  /**
   * Streams and sockets connected to the session at once.
   */
  'max_connections'?: (number);
  /**
   * Subscriptions across the session.
   */
  'max_subscriptions'?: (number);
  /**
   * Messages with unsettled deliveries.
   */
  'max_pending_messages'?: (number);
}

/**
 * Per-session limits; 0 means "the server's default" (for max_payload_bytes, the
 * server-wide maximum; for the others, unlimited).
 */
export interface Limits__Output {
  /**
   * Largest payload a publish may carry (attributes included).
   */
  'max_payload_bytes': (number);
  /**
   * Streams and sockets connected to the session at once.
   */
  'max_connections': (number);
  /**
   * Subscriptions across the session.
   */
  'max_subscriptions': (number);
  /**
   * Messages with unsettled deliveries.
   */
  'max_pending_messages': (number);
}
