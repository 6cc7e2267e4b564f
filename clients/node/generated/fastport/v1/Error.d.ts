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
   * invalid_password, session_suspended, invalid_topic, payload_too_large,
   * limit_exceeded, storage_error, unknown_message, unauthenticated,
   * permission_denied, shutting_down, internal.
   */
  'code'?: (string);
  /**
   * For people; may change between versions.
   */
  'message'?: (string);
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
   * invalid_password, session_suspended, invalid_topic, payload_too_large,
   * limit_exceeded, storage_error, unknown_message, unauthenticated,
   * permission_denied, shutting_down, internal.
   */
  'code': (string);
  /**
   * For people; may change between versions.
   */
  'message': (string);
}
