// Original file: proto/fastport/v1/admin.proto

import type { Limits as _fastport_v1_Limits, Limits__Output as _fastport_v1_Limits__Output } from '../../fastport/v1/Limits';
import type { Long } from '@grpc/proto-loader';

/**
 * A new session's name, password and settings.
 */
export interface CreateSessionRequest {
  /**
   * Unique among the server's sessions; at most 256 printable characters.
   */
  'name'?: (string);
  /**
   * What clients init with.
   */
  'password'?: (string);
  /**
   * Re-send period of unacknowledged deliveries; 0 = 5000 ms.
   */
  'retry_interval_ms'?: (number);
  /**
   * Attempts after which an unacknowledged delivery is dropped; 0 = 100.
   */
  'max_retry_limit'?: (number);
  /**
   * Age after which an undelivered message is dropped; 0 = never.
   */
  'message_expiry_ms'?: (number | string | Long);
  /**
   * The session is dropped this long after creation; 0 = never.
   */
  'session_expiry_ms'?: (number | string | Long);
  /**
   * The session's limits.
   */
  'limits'?: (_fastport_v1_Limits | null);
  /**
   * Settled message ids remembered for de-duplication, at most; past it the oldest
   * are forgotten first. 0 = 1000000 (~120 MB with 32-character ids).
   */
  'max_remembered_ids'?: (number | string | Long);
  /**
   * A topic of this session (no wildcards) where every given-up delivery is published,
   * with the dead-letter attributes described on Message.attributes; empty = off
   * (given-up deliveries are only reported to their publisher).
   */
  'dead_letter_topic'?: (string);
}

/**
 * A new session's name, password and settings.
 */
export interface CreateSessionRequest__Output {
  /**
   * Unique among the server's sessions; at most 256 printable characters.
   */
  'name': (string);
  /**
   * What clients init with.
   */
  'password': (string);
  /**
   * Re-send period of unacknowledged deliveries; 0 = 5000 ms.
   */
  'retry_interval_ms': (number);
  /**
   * Attempts after which an unacknowledged delivery is dropped; 0 = 100.
   */
  'max_retry_limit': (number);
  /**
   * Age after which an undelivered message is dropped; 0 = never.
   */
  'message_expiry_ms': (number);
  /**
   * The session is dropped this long after creation; 0 = never.
   */
  'session_expiry_ms': (number);
  /**
   * The session's limits.
   */
  'limits': (_fastport_v1_Limits__Output | null);
  /**
   * Settled message ids remembered for de-duplication, at most; past it the oldest
   * are forgotten first. 0 = 1000000 (~120 MB with 32-character ids).
   */
  'max_remembered_ids': (number);
  /**
   * A topic of this session (no wildcards) where every given-up delivery is published,
   * with the dead-letter attributes described on Message.attributes; empty = off
   * (given-up deliveries are only reported to their publisher).
   */
  'dead_letter_topic': (string);
}
