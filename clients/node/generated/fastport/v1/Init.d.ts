// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Authenticates the stream into a session. A failed init leaves the stream open so
 * the client may retry; a second init into another session first removes every
 * subscription of the old one.
 */
export interface Init {
  /**
   * Echoed by the InitResult.
   */
  'request_id'?: (number | string | Long);
  /**
   * The session's name.
   */
  'session'?: (string);
  /**
   * The session's password.
   */
  'password'?: (string);
  /**
   * Optional: names a subscriber that outlives this stream (see Subscribe.persistent).
   */
  'client_id'?: (string);
}

/**
 * Authenticates the stream into a session. A failed init leaves the stream open so
 * the client may retry; a second init into another session first removes every
 * subscription of the old one.
 */
export interface Init__Output {
  /**
   * Echoed by the InitResult.
   */
  'request_id': (number);
  /**
   * The session's name.
   */
  'session': (string);
  /**
   * The session's password.
   */
  'password': (string);
  /**
   * Optional: names a subscriber that outlives this stream (see Subscribe.persistent).
   */
  'client_id': (string);
}
