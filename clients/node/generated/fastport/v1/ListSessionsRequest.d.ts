// Original file: proto/fastport/v1/admin.proto


/**
 * No parameters: every session is listed.
 */
export interface ListSessionsRequest {
}

/**
 * No parameters: every session is listed.
 */
export interface ListSessionsRequest__Output {
}
