// Original file: proto/fastport/v1/broker.proto


/**
 * A delivery of a message this stream published was given up.
 */
export interface DeliveryFailed {
  /**
   * The message's id.
   */
  'message_id'?: (string);
  /**
   * The message's topic.
   */
  'topic'?: (string);
  /**
   * retry_limit, expired, subscriber_gone or session_dropped.
   */
  'reason'?: (string);
  /**
   * Deliveries of that message still unsettled.
   */
  'remaining'?: (number);
  /**
   * The message was published to the session's dead-letter topic for this delivery
   * (see Message.attributes); false when the session has none, or the message was on
   * the dead-letter topic itself (then it is dropped, never dead-lettered again).
   */
  'dead_lettered'?: (boolean);
}

/**
 * A delivery of a message this stream published was given up.
 */
export interface DeliveryFailed__Output {
  /**
   * The message's id.
   */
  'message_id': (string);
  /**
   * The message's topic.
   */
  'topic': (string);
  /**
   * retry_limit, expired, subscriber_gone or session_dropped.
   */
  'reason': (string);
  /**
   * Deliveries of that message still unsettled.
   */
  'remaining': (number);
  /**
   * The message was published to the session's dead-letter topic for this delivery
   * (see Message.attributes); false when the session has none, or the message was on
   * the dead-letter topic itself (then it is dropped, never dead-lettered again).
   */
  'dead_lettered': (boolean);
}
