// Original file: proto/fastport/v1/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateSessionRequest as _fastport_v1_CreateSessionRequest, CreateSessionRequest__Output as _fastport_v1_CreateSessionRequest__Output } from '../../fastport/v1/CreateSessionRequest';
import type { CreateSessionResponse as _fastport_v1_CreateSessionResponse, CreateSessionResponse__Output as _fastport_v1_CreateSessionResponse__Output } from '../../fastport/v1/CreateSessionResponse';
import type { DropSessionResponse as _fastport_v1_DropSessionResponse, DropSessionResponse__Output as _fastport_v1_DropSessionResponse__Output } from '../../fastport/v1/DropSessionResponse';
import type { GetSessionRequest as _fastport_v1_GetSessionRequest, GetSessionRequest__Output as _fastport_v1_GetSessionRequest__Output } from '../../fastport/v1/GetSessionRequest';
import type { ListSessionsRequest as _fastport_v1_ListSessionsRequest, ListSessionsRequest__Output as _fastport_v1_ListSessionsRequest__Output } from '../../fastport/v1/ListSessionsRequest';
import type { ListSessionsResponse as _fastport_v1_ListSessionsResponse, ListSessionsResponse__Output as _fastport_v1_ListSessionsResponse__Output } from '../../fastport/v1/ListSessionsResponse';
import type { SessionCredentials as _fastport_v1_SessionCredentials, SessionCredentials__Output as _fastport_v1_SessionCredentials__Output } from '../../fastport/v1/SessionCredentials';
import type { SessionInfo as _fastport_v1_SessionInfo, SessionInfo__Output as _fastport_v1_SessionInfo__Output } from '../../fastport/v1/SessionInfo';

/**
 * Session administration. Its name and its messages' names predate the buf naming
 * rules and stay as they are: they are in deployed clients' method paths and code.
 */
export interface AdminClient extends grpc.Client {
  /**
   * Creates a session. The secret key is returned here and never again.
   */
  CreateSession(argument: _fastport_v1_CreateSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  CreateSession(argument: _fastport_v1_CreateSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  CreateSession(argument: _fastport_v1_CreateSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  CreateSession(argument: _fastport_v1_CreateSessionRequest, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Creates a session. The secret key is returned here and never again.
   */
  createSession(argument: _fastport_v1_CreateSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  createSession(argument: _fastport_v1_CreateSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  createSession(argument: _fastport_v1_CreateSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  createSession(argument: _fastport_v1_CreateSessionRequest, callback: grpc.requestCallback<_fastport_v1_CreateSessionResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Drops a session: its connections are closed with a reason, its data deleted.
   */
  DropSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  DropSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  DropSession(argument: _fastport_v1_SessionCredentials, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  DropSession(argument: _fastport_v1_SessionCredentials, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Drops a session: its connections are closed with a reason, its data deleted.
   */
  dropSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  dropSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  dropSession(argument: _fastport_v1_SessionCredentials, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  dropSession(argument: _fastport_v1_SessionCredentials, callback: grpc.requestCallback<_fastport_v1_DropSessionResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Describes one session.
   */
  GetSession(argument: _fastport_v1_GetSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  GetSession(argument: _fastport_v1_GetSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  GetSession(argument: _fastport_v1_GetSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  GetSession(argument: _fastport_v1_GetSessionRequest, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Describes one session.
   */
  getSession(argument: _fastport_v1_GetSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  getSession(argument: _fastport_v1_GetSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  getSession(argument: _fastport_v1_GetSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  getSession(argument: _fastport_v1_GetSessionRequest, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Describes every session.
   */
  ListSessions(argument: _fastport_v1_ListSessionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  ListSessions(argument: _fastport_v1_ListSessionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  ListSessions(argument: _fastport_v1_ListSessionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  ListSessions(argument: _fastport_v1_ListSessionsRequest, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Describes every session.
   */
  listSessions(argument: _fastport_v1_ListSessionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _fastport_v1_ListSessionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _fastport_v1_ListSessionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _fastport_v1_ListSessionsRequest, callback: grpc.requestCallback<_fastport_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Resumes a suspended session.
   */
  ResumeSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  ResumeSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  ResumeSession(argument: _fastport_v1_SessionCredentials, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  ResumeSession(argument: _fastport_v1_SessionCredentials, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Resumes a suspended session.
   */
  resumeSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  resumeSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  resumeSession(argument: _fastport_v1_SessionCredentials, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  resumeSession(argument: _fastport_v1_SessionCredentials, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Suspends a session: publishes and subscribes are refused until it is resumed.
   */
  SuspendSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  SuspendSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  SuspendSession(argument: _fastport_v1_SessionCredentials, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  SuspendSession(argument: _fastport_v1_SessionCredentials, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Suspends a session: publishes and subscribes are refused until it is resumed.
   */
  suspendSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  suspendSession(argument: _fastport_v1_SessionCredentials, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  suspendSession(argument: _fastport_v1_SessionCredentials, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  suspendSession(argument: _fastport_v1_SessionCredentials, callback: grpc.requestCallback<_fastport_v1_SessionInfo__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Session administration. Its name and its messages' names predate the buf naming
 * rules and stay as they are: they are in deployed clients' method paths and code.
 */
export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Creates a session. The secret key is returned here and never again.
   */
  CreateSession: grpc.handleUnaryCall<_fastport_v1_CreateSessionRequest__Output, _fastport_v1_CreateSessionResponse>;
  
  /**
   * Drops a session: its connections are closed with a reason, its data deleted.
   */
  DropSession: grpc.handleUnaryCall<_fastport_v1_SessionCredentials__Output, _fastport_v1_DropSessionResponse>;
  
  /**
   * Describes one session.
   */
  GetSession: grpc.handleUnaryCall<_fastport_v1_GetSessionRequest__Output, _fastport_v1_SessionInfo>;
  
  /**
   * Describes every session.
   */
  ListSessions: grpc.handleUnaryCall<_fastport_v1_ListSessionsRequest__Output, _fastport_v1_ListSessionsResponse>;
  
  /**
   * Resumes a suspended session.
   */
  ResumeSession: grpc.handleUnaryCall<_fastport_v1_SessionCredentials__Output, _fastport_v1_SessionInfo>;
  
  /**
   * Suspends a session: publishes and subscribes are refused until it is resumed.
   */
  SuspendSession: grpc.handleUnaryCall<_fastport_v1_SessionCredentials__Output, _fastport_v1_SessionInfo>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  CreateSession: MethodDefinition<_fastport_v1_CreateSessionRequest, _fastport_v1_CreateSessionResponse, _fastport_v1_CreateSessionRequest__Output, _fastport_v1_CreateSessionResponse__Output>
  DropSession: MethodDefinition<_fastport_v1_SessionCredentials, _fastport_v1_DropSessionResponse, _fastport_v1_SessionCredentials__Output, _fastport_v1_DropSessionResponse__Output>
  GetSession: MethodDefinition<_fastport_v1_GetSessionRequest, _fastport_v1_SessionInfo, _fastport_v1_GetSessionRequest__Output, _fastport_v1_SessionInfo__Output>
  ListSessions: MethodDefinition<_fastport_v1_ListSessionsRequest, _fastport_v1_ListSessionsResponse, _fastport_v1_ListSessionsRequest__Output, _fastport_v1_ListSessionsResponse__Output>
  ResumeSession: MethodDefinition<_fastport_v1_SessionCredentials, _fastport_v1_SessionInfo, _fastport_v1_SessionCredentials__Output, _fastport_v1_SessionInfo__Output>
  SuspendSession: MethodDefinition<_fastport_v1_SessionCredentials, _fastport_v1_SessionInfo, _fastport_v1_SessionCredentials__Output, _fastport_v1_SessionInfo__Output>
}
