// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Ends a subscription made with the same topic string.
 */
export interface Unsubscribe {
  /**
   * Echoed by the UnsubscribeResult.
   */
  'request_id'?: (number | string | Long);
  /**
   * The topic or pattern as it was subscribed.
   */
  'topic'?: (string);
}

/**
 * Ends a subscription made with the same topic string.
 */
export interface Unsubscribe__Output {
  /**
   * Echoed by the UnsubscribeResult.
   */
  'request_id': (number);
  /**
   * The topic or pattern as it was subscribed.
   */
  'topic': (string);
}
