// Original file: proto/fastport/v1/admin.proto


/**
 * Names a session. With the admin token only `name` is needed; without it,
 * `password` and `secret_key` must be the session's.
 */
export interface SessionCredentials {
  /**
   * The session's name.
   */
  'name'?: (string);
  /**
   * The session's password (without the admin token).
   */
  'password'?: (string);
  /**
   * The session's secret key (without the admin token).
   */
  'secret_key'?: (string);
}

/**
 * Names a session. With the admin token only `name` is needed; without it,
 * `password` and `secret_key` must be the session's.
 */
export interface SessionCredentials__Output {
  /**
   * The session's name.
   */
  'name': (string);
  /**
   * The session's password (without the admin token).
   */
  'password': (string);
  /**
   * The session's secret key (without the admin token).
   */
  'secret_key': (string);
}
