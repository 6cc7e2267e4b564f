// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Topics are `/`-separated. Subscriptions may use MQTT wildcards: `+` matches one
 * level, `#` (last level only) the rest.
 */
export interface Subscribe {
  /**
   * Echoed by the SubscribeResult.
   */
  'request_id'?: (number | string | Long);
  /**
   * A topic or a pattern with wildcards.
   */
  'topic'?: (string);
  /**
   * With a client_id on Init: the subscription, and the messages published for it
   * while no stream is connected, are kept until the client comes back.
   */
  'persistent'?: (boolean);
}

/**
 * Topics are `/`-separated. Subscriptions may use MQTT wildcards: `+` matches one
 * level, `#` (last level only) the rest.
 */
export interface Subscribe__Output {
  /**
   * Echoed by the SubscribeResult.
   */
  'request_id': (number);
  /**
   * A topic or a pattern with wildcards.
   */
  'topic': (string);
  /**
   * With a client_id on Init: the subscription, and the messages published for it
   * while no stream is connected, are kept until the client comes back.
   */
  'persistent': (boolean);
}
