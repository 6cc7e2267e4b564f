// Original file: proto/fastport/v1/broker.proto

import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from '../../fastport/v1/Error';
import type { Long } from '@grpc/proto-loader';

/**
 * Answer to an Init.
 */
export interface InitResult {
  /**
   * The Init's request_id.
   */
  'request_id'?: (number | string | Long);
  /**
   * The session the stream is now in.
   */
  'session'?: (string);
  /**
   * Set when the init failed.
   */
  'error'?: (_fastport_v1_Error | null);
}

/**
 * Answer to an Init.
 */
export interface InitResult__Output {
  /**
   * The Init's request_id.
   */
  'request_id': (number);
  /**
   * The session the stream is now in.
   */
  'session': (string);
  /**
   * Set when the init failed.
   */
  'error': (_fastport_v1_Error__Output | null);
}
