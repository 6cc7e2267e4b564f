// Original file: proto/fastport/v1/broker.proto

import type { InitResult as _fastport_v1_InitResult, InitResult__Output as _fastport_v1_InitResult__Output } from '../../fastport/v1/InitResult';
import type { SubscribeResult as _fastport_v1_SubscribeResult, SubscribeResult__Output as _fastport_v1_SubscribeResult__Output } from '../../fastport/v1/SubscribeResult';
import type { UnsubscribeResult as _fastport_v1_UnsubscribeResult, UnsubscribeResult__Output as _fastport_v1_UnsubscribeResult__Output } from '../../fastport/v1/UnsubscribeResult';
import type { PublishResult as _fastport_v1_PublishResult, PublishResult__Output as _fastport_v1_PublishResult__Output } from '../../fastport/v1/PublishResult';
import type { Message as _fastport_v1_Message, Message__Output as _fastport_v1_Message__Output } from '../../fastport/v1/Message';
import type { AckReceived as _fastport_v1_AckReceived, AckReceived__Output as _fastport_v1_AckReceived__Output } from '../../fastport/v1/AckReceived';
import type { DeliveryFailed as _fastport_v1_DeliveryFailed, DeliveryFailed__Output as _fastport_v1_DeliveryFailed__Output } from '../../fastport/v1/DeliveryFailed';
import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from '../../fastport/v1/Error';
import type { Closing as _fastport_v1_Closing, Closing__Output as _fastport_v1_Closing__Output } from '../../fastport/v1/Closing';
import type { AckResult as _fastport_v1_AckResult, AckResult__Output as _fastport_v1_AckResult__Output } from '../../fastport/v1/AckResult';

/**
 * One batch of everything the server has for the stream.
 */
export interface ServerFrame {
  /**
   * Answer to an Init.
   */
  'init_result'?: (_fastport_v1_InitResult | null);
  /**
   * Answers to Subscribes, in request order.
   */
  'subscribe_results'?: (_fastport_v1_SubscribeResult)[];
  /**
   * Answers to Unsubscribes, in request order.
   */
  'unsubscribe_results'?: (_fastport_v1_UnsubscribeResult)[];
  /**
   * Answers to Publishes (they may come in a later frame than other replies).
   */
  'publish_results'?: (_fastport_v1_PublishResult)[];
  /**
   * Messages delivered to this stream's subscriptions; each must be ACKed.
   */
  'messages'?: (_fastport_v1_Message)[];
  /**
   * ACKs of messages this stream published.
   */
  'acks_received'?: (_fastport_v1_AckReceived)[];
  /**
   * Deliveries of messages this stream published that were given up.
   */
  'delivery_failures'?: (_fastport_v1_DeliveryFailed)[];
  /**
   * Errors not tied to one result (e.g. an item sent before init).
   */
  'errors'?: (_fastport_v1_Error)[];
  /**
   * Sent once, last, when the server ends the stream (session dropped, shutdown).
   */
  'closing'?: (_fastport_v1_Closing | null);
  /**
   * Answers to Acks and Nacks that carried a request_id.
   */
  'ack_results'?: (_fastport_v1_AckResult)[];
}

/**
 * One batch of everything the server has for the stream.
 */
export interface ServerFrame__Output {
  /**
   * Answer to an Init.
   */
  'init_result': (_fastport_v1_InitResult__Output | null);
  /**
   * Answers to Subscribes, in request order.
   */
  'subscribe_results': (_fastport_v1_SubscribeResult__Output)[];
  /**
   * Answers to Unsubscribes, in request order.
   */
  'unsubscribe_results': (_fastport_v1_UnsubscribeResult__Output)[];
  /**
   * Answers to Publishes (they may come in a later frame than other replies).
   */
  'publish_results': (_fastport_v1_PublishResult__Output)[];
  /**
   * Messages delivered to this stream's subscriptions; each must be ACKed.
   */
  'messages': (_fastport_v1_Message__Output)[];
  /**
   * ACKs of messages this stream published.
   */
  'acks_received': (_fastport_v1_AckReceived__Output)[];
  /**
   * Deliveries of messages this stream published that were given up.
   */
  'delivery_failures': (_fastport_v1_DeliveryFailed__Output)[];
  /**
   * Errors not tied to one result (e.g. an item sent before init).
   */
  'errors': (_fastport_v1_Error__Output)[];
  /**
   * Sent once, last, when the server ends the stream (session dropped, shutdown).
   */
  'closing': (_fastport_v1_Closing__Output | null);
  /**
   * Answers to Acks and Nacks that carried a request_id.
   */
  'ack_results': (_fastport_v1_AckResult__Output)[];
}
