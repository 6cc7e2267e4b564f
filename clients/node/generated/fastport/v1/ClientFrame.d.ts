// Original file: proto/fastport/v1/broker.proto

import type { Init as _fastport_v1_Init, Init__Output as _fastport_v1_Init__Output } from '../../fastport/v1/Init';
import type { Subscribe as _fastport_v1_Subscribe, Subscribe__Output as _fastport_v1_Subscribe__Output } from '../../fastport/v1/Subscribe';
import type { Unsubscribe as _fastport_v1_Unsubscribe, Unsubscribe__Output as _fastport_v1_Unsubscribe__Output } from '../../fastport/v1/Unsubscribe';
import type { Publish as _fastport_v1_Publish, Publish__Output as _fastport_v1_Publish__Output } from '../../fastport/v1/Publish';
import type { Ack as _fastport_v1_Ack, Ack__Output as _fastport_v1_Ack__Output } from '../../fastport/v1/Ack';
import type { Nack as _fastport_v1_Nack, Nack__Output as _fastport_v1_Nack__Output } from '../../fastport/v1/Nack';

/**
 * One batch of client requests.
 */
export interface ClientFrame {
  /**
   * Authenticates the stream; must come first (in this frame or an earlier one).
   */
  'init'?: (_fastport_v1_Init | null);
  /**
   * Subscriptions to add.
   */
  'subscribe'?: (_fastport_v1_Subscribe)[];
  /**
   * Subscriptions to remove.
   */
  'unsubscribe'?: (_fastport_v1_Unsubscribe)[];
  /**
   * Messages to publish.
   */
  'publish'?: (_fastport_v1_Publish)[];
  /**
   * Deliveries to settle.
   */
  'ack'?: (_fastport_v1_Ack)[];
  /**
   * Deliveries to have re-sent now.
   */
  'nack'?: (_fastport_v1_Nack)[];
}

/**
 * One batch of client requests.
 */
export interface ClientFrame__Output {
  /**
   * Authenticates the stream; must come first (in this frame or an earlier one).
   */
  'init': (_fastport_v1_Init__Output | null);
  /**
   * Subscriptions to add.
   */
  'subscribe': (_fastport_v1_Subscribe__Output)[];
  /**
   * Subscriptions to remove.
   */
  'unsubscribe': (_fastport_v1_Unsubscribe__Output)[];
  /**
   * Messages to publish.
   */
  'publish': (_fastport_v1_Publish__Output)[];
  /**
   * Deliveries to settle.
   */
  'ack': (_fastport_v1_Ack__Output)[];
  /**
   * Deliveries to have re-sent now.
   */
  'nack': (_fastport_v1_Nack__Output)[];
}
