// Original file: proto/fastport/v1/admin.proto


/**
 * Nothing: the session is gone.
 */
export interface DropSessionResponse {
}

/**
 * Nothing: the session is gone.
 */
export interface DropSessionResponse__Output {
}
