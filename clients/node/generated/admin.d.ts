import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _fastport_v1_AdminClient, AdminDefinition as _fastport_v1_AdminDefinition } from './fastport/v1/Admin';
import type { CreateSessionRequest as _fastport_v1_CreateSessionRequest, CreateSessionRequest__Output as _fastport_v1_CreateSessionRequest__Output } from './fastport/v1/CreateSessionRequest';
import type { CreateSessionResponse as _fastport_v1_CreateSessionResponse, CreateSessionResponse__Output as _fastport_v1_CreateSessionResponse__Output } from './fastport/v1/CreateSessionResponse';
import type { DropSessionResponse as _fastport_v1_DropSessionResponse, DropSessionResponse__Output as _fastport_v1_DropSessionResponse__Output } from './fastport/v1/DropSessionResponse';
import type { GetSessionRequest as _fastport_v1_GetSessionRequest, GetSessionRequest__Output as _fastport_v1_GetSessionRequest__Output } from './fastport/v1/GetSessionRequest';
import type { Limits as _fastport_v1_Limits, Limits__Output as _fastport_v1_Limits__Output } from './fastport/v1/Limits';
import type { ListSessionsRequest as _fastport_v1_ListSessionsRequest, ListSessionsRequest__Output as _fastport_v1_ListSessionsRequest__Output } from './fastport/v1/ListSessionsRequest';
import type { ListSessionsResponse as _fastport_v1_ListSessionsResponse, ListSessionsResponse__Output as _fastport_v1_ListSessionsResponse__Output } from './fastport/v1/ListSessionsResponse';
import type { SessionCredentials as _fastport_v1_SessionCredentials, SessionCredentials__Output as _fastport_v1_SessionCredentials__Output } from './fastport/v1/SessionCredentials';
import type { SessionInfo as _fastport_v1_SessionInfo, SessionInfo__Output as _fastport_v1_SessionInfo__Output } from './fastport/v1/SessionInfo';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  fastport: {
    v1: {
      /**
       * Session administration. Its name and its messages' names predate the buf naming
       * rules and stay as they are: they are in deployed clients' method paths and code.
       */
      Admin: SubtypeConstructor<typeof grpc.Client, _fastport_v1_AdminClient> & { service: _fastport_v1_AdminDefinition }
      CreateSessionRequest: MessageTypeDefinition<_fastport_v1_CreateSessionRequest, _fastport_v1_CreateSessionRequest__Output>
      CreateSessionResponse: MessageTypeDefinition<_fastport_v1_CreateSessionResponse, _fastport_v1_CreateSessionResponse__Output>
      DropSessionResponse: MessageTypeDefinition<_fastport_v1_DropSessionResponse, _fastport_v1_DropSessionResponse__Output>
      GetSessionRequest: MessageTypeDefinition<_fastport_v1_GetSessionRequest, _fastport_v1_GetSessionRequest__Output>
      Limits: MessageTypeDefinition<_fastport_v1_Limits, _fastport_v1_Limits__Output>
      ListSessionsRequest: MessageTypeDefinition<_fastport_v1_ListSessionsRequest, _fastport_v1_ListSessionsRequest__Output>
      ListSessionsResponse: MessageTypeDefinition<_fastport_v1_ListSessionsResponse, _fastport_v1_ListSessionsResponse__Output>
      SessionCredentials: MessageTypeDefinition<_fastport_v1_SessionCredentials, _fastport_v1_SessionCredentials__Output>
      SessionInfo: MessageTypeDefinition<_fastport_v1_SessionInfo, _fastport_v1_SessionInfo__Output>
    }
  }
}

