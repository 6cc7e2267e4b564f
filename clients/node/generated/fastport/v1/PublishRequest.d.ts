// Original file: proto/fastport/v1/broker.proto

import type { Publish as _fastport_v1_Publish, Publish__Output as _fastport_v1_Publish__Output } from '../../fastport/v1/Publish';

/**
 * The request of the unary Publish call.
 */
export interface PublishRequest {
  /**
   * The session's name.
   */
  'session'?: (string);
  /**
   * The session's password.
   */
  'password'?: (string);
  /**
   * The message.
   */
  'publish'?: (_fastport_v1_Publish | null);
}

/**
 * The request of the unary Publish call.
 */
export interface PublishRequest__Output {
  /**
   * The session's name.
   */
  'session': (string);
  /**
   * The session's password.
   */
  'password': (string);
  /**
   * The message.
   */
  'publish': (_fastport_v1_Publish__Output | null);
}
