// Original file: proto/fastport/v1/broker.proto


/**
 * Why the server ends the stream.
 */
export interface Closing {
  /**
   * session_dropped, session_expired, shutting_down, replaced.
   */
  'code'?: (string);
  /**
   * For people.
   */
  'message'?: (string);
}

/**
 * Why the server ends the stream.
 */
export interface Closing__Output {
  /**
   * session_dropped, session_expired, shutting_down, replaced.
   */
  'code': (string);
  /**
   * For people.
   */
  'message': (string);
}
