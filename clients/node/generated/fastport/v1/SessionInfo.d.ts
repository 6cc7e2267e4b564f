// Original file: proto/fastport/v1/admin.proto

import type { Limits as _fastport_v1_Limits, Limits__Output as _fastport_v1_Limits__Output } from '../../fastport/v1/Limits';
import type { Long } from '@grpc/proto-loader';

/**
 * What an administrator may see of a session: never its password or secret key.
 */
export interface SessionInfo {
  /**
   * The session's name.
   */
  'name'?: (string);
  /**
   * Re-send period of unacknowledged deliveries.
   */
  'retry_interval_ms'?: (number);
  /**
   * Re-sends after which an unacknowledged delivery is dropped.
   */
  'max_retry_limit'?: (number);
  /**
   * Age after which an undelivered message is dropped; 0 = never.
   */
  'message_expiry_ms'?: (number | string | Long);
  /**
   * Absolute expiry time (ms since the Unix epoch); 0 = never.
   */
  'expires_at_ms'?: (number | string | Long);
  /**
   * The session's limits.
   */
  'limits'?: (_fastport_v1_Limits | null);
  /**
   * Publishes and subscribes are refused.
   */
  'suspended'?: (boolean);
  /**
   * Creation time, ms since the Unix epoch.
   */
  'created_at_ms'?: (number | string | Long);
  /**
   * Streams and sockets connected now.
   */
  'connections'?: (number);
  /**
   * Subscriptions now.
   */
  'subscriptions'?: (number);
  /**
   * Messages with unsettled deliveries now.
   */
  'pending_messages'?: (number);
  /**
   * Settled message ids remembered for de-duplication, at most (the value in force).
   */
  'max_remembered_ids'?: (number | string | Long);
  /**
   * Where given-up deliveries are published; empty = off.
   */
  'dead_letter_topic'?: (string);
}

/**
 * What an administrator may see of a session: never its password or secret key.
 */
export interface SessionInfo__Output {
  /**
   * The session's name.
   */
  'name': (string);
  /**
   * Re-send period of unacknowledged deliveries.
   */
  'retry_interval_ms': (number);
  /**
   * Re-sends after which an unacknowledged delivery is dropped.
   */
  'max_retry_limit': (number);
  /**
   * Age after which an undelivered message is dropped; 0 = never.
   */
  'message_expiry_ms': (number);
  /**
   * Absolute expiry time (ms since the Unix epoch); 0 = never.
   */
  'expires_at_ms': (number);
  /**
   * The session's limits.
   */
  'limits': (_fastport_v1_Limits__Output | null);
  /**
   * Publishes and subscribes are refused.
   */
  'suspended': (boolean);
  /**
   * Creation time, ms since the Unix epoch.
   */
  'created_at_ms': (number);
  /**
   * Streams and sockets connected now.
   */
  'connections': (number);
  /**
   * Subscriptions now.
   */
  'subscriptions': (number);
  /**
   * Messages with unsettled deliveries now.
   */
  'pending_messages': (number);
  /**
   * Settled message ids remembered for de-duplication, at most (the value in force).
   */
  'max_remembered_ids': (number);
  /**
   * Where given-up deliveries are published; empty = off.
   */
  'dead_letter_topic': (string);
}
