// Original file: proto/fastport/v1/broker.proto

import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from '../../fastport/v1/Error';
import type { Long } from '@grpc/proto-loader';

/**
 * Answer to a Publish: sent once the message is stored.
 */
export interface PublishResult {
  /**
   * The Publish's request_id.
   */
  'request_id'?: (number | string | Long);
  /**
   * The message's id (made by the server when the publish had none).
   */
  'message_id'?: (string);
  /**
   * Subscribers the message was sent to (the publishing stream itself excluded).
   */
  'delivered_to'?: (number);
  /**
   * This id had been published before; nothing was delivered again.
   */
  'duplicate'?: (boolean);
  /**
   * Set when the publish failed.
   */
  'error'?: (_fastport_v1_Error | null);
}

/**
 * Answer to a Publish: sent once the message is stored.
 */
export interface PublishResult__Output {
  /**
   * The Publish's request_id.
   */
  'request_id': (number);
  /**
   * The message's id (made by the server when the publish had none).
   */
  'message_id': (string);
  /**
   * Subscribers the message was sent to (the publishing stream itself excluded).
   */
  'delivered_to': (number);
  /**
   * This id had been published before; nothing was delivered again.
   */
  'duplicate': (boolean);
  /**
   * Set when the publish failed.
   */
  'error': (_fastport_v1_Error__Output | null);
}
