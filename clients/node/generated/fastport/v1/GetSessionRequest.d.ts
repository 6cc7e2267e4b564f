// Original file: proto/fastport/v1/admin.proto


/**
 * Names the session to describe.
 */
export interface GetSessionRequest {
  /**
   * The session's name.
   */
  'name'?: (string);
}

/**
 * Names the session to describe.
 */
export interface GetSessionRequest__Output {
  /**
   * The session's name.
   */
  'name': (string);
}
