// Original file: proto/fastport/v1/broker.proto

import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from '../../fastport/v1/Error';
import type { Long } from '@grpc/proto-loader';

/**
 * Answer to a Subscribe.
 */
export interface SubscribeResult {
  /**
   * The Subscribe's request_id.
   */
  'request_id'?: (number | string | Long);
  /**
   * The topic or pattern.
   */
  'topic'?: (string);
  /**
   * Set when the subscribe failed.
   */
  'error'?: (_fastport_v1_Error | null);
}

/**
 * Answer to a Subscribe.
 */
export interface SubscribeResult__Output {
  /**
   * The Subscribe's request_id.
   */
  'request_id': (number);
  /**
   * The topic or pattern.
   */
  'topic': (string);
  /**
   * Set when the subscribe failed.
   */
  'error': (_fastport_v1_Error__Output | null);
}
