// Original file: proto/fastport/v1/admin.proto

import type { SessionInfo as _fastport_v1_SessionInfo, SessionInfo__Output as _fastport_v1_SessionInfo__Output } from '../../fastport/v1/SessionInfo';

/**
 * Every session.
 */
export interface ListSessionsResponse {
  /**
   * In no particular order.
   */
  'sessions'?: (_fastport_v1_SessionInfo)[];
}

/**
 * Every session.
 */
export interface ListSessionsResponse__Output {
  /**
   * In no particular order.
   */
  'sessions': (_fastport_v1_SessionInfo__Output)[];
}
