// Original file: proto/fastport/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A stable `code` (snake_case) for programs and a readable `message` for people.
 */
export interface Error {
  /**
   * The failed request's id (0 when the error is not tied to a request).
   */
  'request_id'?: (number | string | Long);
  /**
   * invalid_frame, invalid_field, not_initialized, session_not_found,
   * session_exists, invalid_password, invalid_credentials, session_suspended,
   * invalid_topic, payload_too_large, limit_exceeded, unknown_message, overloaded,
   * slow_consumer, storage_error, unavailable, unauthenticated, permission_denied,
   * unsupported, shutting_down, too_many_attempts, internal.
   */
  'code'?: (string);
  /**
   * For people; may change between versions.
   */
  'message'?: (string);
  /**
   * True when the same request, sent again unchanged, may succeed later without anyone
   * acting: the server's state refused it and passes by itself (overloaded,
   * slow_consumer, storage_error, unavailable, shutting_down, too_many_attempts).
   * Clients retry these with a backoff and report the others at once. A call that
   * ends with a status says the same in trailing metadata `fastport-error-temporary`
   * ("true" or "false"), beside `fastport-error-code`.
   */
  'temporary'?: (boolean);
}

/**
 * A stable `code` (snake_case) for programs and a readable `message` for people.
 */
export interface Error__Output {
  /**
   * The failed request's id (0 when the error is not tied to a request).
   */
  'request_id': (number);
  /**
   * invalid_frame, invalid_field, not_initialized, session_not_found,
   * session_exists, invalid_password, invalid_credentials, session_suspended,
   * invalid_topic, payload_too_large, limit_exceeded, unknown_message, overloaded,
   * slow_consumer, storage_error, unavailable, unauthenticated, permission_denied,
   * unsupported, shutting_down, too_many_attempts, internal.
   */
  'code': (string);
  /**
   * For people; may change between versions.
   */
  'message': (string);
  /**
   * True when the same request, sent again unchanged, may succeed later without anyone
   * acting: the server's state refused it and passes by itself (overloaded,
   * slow_consumer, storage_error, unavailable, shutting_down, too_many_attempts).
   * Clients retry these with a backoff and report the others at once. A call that
   * ends with a status says the same in trailing metadata `fastport-error-temporary`
   * ("true" or "false"), beside `fastport-error-code`.
   */
  'temporary': (boolean);
}
