// Original file: proto/fastport/v1/broker.proto

import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from '../../fastport/v1/Error';
import type { Long } from '@grpc/proto-loader';

/**
 * Answer to an Unsubscribe.
 */
export interface UnsubscribeResult {
  /**
   * The Unsubscribe's request_id.
   */
  'request_id'?: (number | string | Long);
  /**
   * The topic or pattern.
   */
  'topic'?: (string);
  /**
   * Set when the unsubscribe failed.
   */
  'error'?: (_fastport_v1_Error | null);
}

/**
 * Answer to an Unsubscribe.
 */
export interface UnsubscribeResult__Output {
  /**
   * The Unsubscribe's request_id.
   */
  'request_id': (number);
  /**
   * The topic or pattern.
   */
  'topic': (string);
  /**
   * Set when the unsubscribe failed.
   */
  'error': (_fastport_v1_Error__Output | null);
}
