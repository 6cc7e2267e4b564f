// Original file: proto/fastport/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Per-session limits; 0 means the default, and GetSession shows the value in force.
 */
export interface Limits {
  /**
   * Largest payload a publish may carry (attributes included); 0 = the server-wide
   * maximum (--max-payload).
   */
  'max_payload_bytes'?: (number | string | Long);
  /**
   * Streams and sockets connected to the session at once; 0 = unlimited.
   */
  'max_connections'?: (number);
  /**
   * Subscriptions across the session; 0 = unlimited.
   */
  'max_subscriptions'?: (number);
  /**
   * Messages with unsettled deliveries the session holds; 0 = 250000. Past half of
   * this (or of max_pending_bytes) publish results wait; at it, publishes fail with
   * `overloaded`.
   */
  'max_pending_messages'?: (number);
  /**
   * Payload bytes of the unsettled messages; 0 = 134217728 (128 MiB). As above.
   */
  'max_pending_bytes'?: (number | string | Long);
  /**
   * Unacknowledged deliveries outstanding to one subscriber; 0 = 1000. The rest wait
   * in order until ACKs (or give-ups) make room.
   */
  'max_in_flight'?: (number);
}

/**
 * Per-session limits; 0 means the default, and GetSession shows the value in force.
 */
export interface Limits__Output {
  /**
   * Largest payload a publish may carry (attributes included); 0 = the server-wide
   * maximum (--max-payload).
   */
  'max_payload_bytes': (number);
  /**
   * Streams and sockets connected to the session at once; 0 = unlimited.
   */
  'max_connections': (number);
  /**
   * Subscriptions across the session; 0 = unlimited.
   */
  'max_subscriptions': (number);
  /**
   * Messages with unsettled deliveries the session holds; 0 = 250000. Past half of
   * this (or of max_pending_bytes) publish results wait; at it, publishes fail with
   * `overloaded`.
   */
  'max_pending_messages': (number);
  /**
   * Payload bytes of the unsettled messages; 0 = 134217728 (128 MiB). As above.
   */
  'max_pending_bytes': (number);
  /**
   * Unacknowledged deliveries outstanding to one subscriber; 0 = 1000. The rest wait
   * in order until ACKs (or give-ups) make room.
   */
  'max_in_flight': (number);
}
