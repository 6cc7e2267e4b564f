// Original file: proto/fastport/v1/broker.proto


/**
 * A subscriber ACKed a message this stream published.
 */
export interface AckReceived {
  /**
   * The message's id.
   */
  'message_id'?: (string);
  /**
   * The message's topic.
   */
  'topic'?: (string);
  /**
   * Deliveries of that message still unsettled.
   */
  'remaining'?: (number);
}

/**
 * A subscriber ACKed a message this stream published.
 */
export interface AckReceived__Output {
  /**
   * The message's id.
   */
  'message_id': (string);
  /**
   * The message's topic.
   */
  'topic': (string);
  /**
   * Deliveries of that message still unsettled.
   */
  'remaining': (number);
}
