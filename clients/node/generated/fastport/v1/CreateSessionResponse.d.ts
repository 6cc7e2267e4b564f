// Original file: proto/fastport/v1/admin.proto

import type { SessionInfo as _fastport_v1_SessionInfo, SessionInfo__Output as _fastport_v1_SessionInfo__Output } from '../../fastport/v1/SessionInfo';

/**
 * The created session.
 */
export interface CreateSessionResponse {
  /**
   * Its settings and state.
   */
  'session'?: (_fastport_v1_SessionInfo | null);
  /**
   * 64 hex characters; shown only here.
   */
  'secret_key'?: (string);
}

/**
 * The created session.
 */
export interface CreateSessionResponse__Output {
  /**
   * Its settings and state.
   */
  'session': (_fastport_v1_SessionInfo__Output | null);
  /**
   * 64 hex characters; shown only here.
   */
  'secret_key': (string);
}
