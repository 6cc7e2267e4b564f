import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _fastport_v1_Ack, Ack__Output as _fastport_v1_Ack__Output } from './fastport/v1/Ack';
import type { AckReceived as _fastport_v1_AckReceived, AckReceived__Output as _fastport_v1_AckReceived__Output } from './fastport/v1/AckReceived';
import type { AckResult as _fastport_v1_AckResult, AckResult__Output as _fastport_v1_AckResult__Output } from './fastport/v1/AckResult';
import type { BrokerClient as _fastport_v1_BrokerClient, BrokerDefinition as _fastport_v1_BrokerDefinition } from './fastport/v1/Broker';
import type { ClientFrame as _fastport_v1_ClientFrame, ClientFrame__Output as _fastport_v1_ClientFrame__Output } from './fastport/v1/ClientFrame';
import type { Closing as _fastport_v1_Closing, Closing__Output as _fastport_v1_Closing__Output } from './fastport/v1/Closing';
import type { DeliveryFailed as _fastport_v1_DeliveryFailed, DeliveryFailed__Output as _fastport_v1_DeliveryFailed__Output } from './fastport/v1/DeliveryFailed';
import type { Error as _fastport_v1_Error, Error__Output as _fastport_v1_Error__Output } from './fastport/v1/Error';
import type { Init as _fastport_v1_Init, Init__Output as _fastport_v1_Init__Output } from './fastport/v1/Init';
import type { InitResult as _fastport_v1_InitResult, InitResult__Output as _fastport_v1_InitResult__Output } from './fastport/v1/InitResult';
import type { Message as _fastport_v1_Message, Message__Output as _fastport_v1_Message__Output } from './fastport/v1/Message';
import type { Nack as _fastport_v1_Nack, Nack__Output as _fastport_v1_Nack__Output } from './fastport/v1/Nack';
import type { Publish as _fastport_v1_Publish, Publish__Output as _fastport_v1_Publish__Output } from './fastport/v1/Publish';
import type { PublishRequest as _fastport_v1_PublishRequest, PublishRequest__Output as _fastport_v1_PublishRequest__Output } from './fastport/v1/PublishRequest';
import type { PublishResult as _fastport_v1_PublishResult, PublishResult__Output as _fastport_v1_PublishResult__Output } from './fastport/v1/PublishResult';
import type { ServerFrame as _fastport_v1_ServerFrame, ServerFrame__Output as _fastport_v1_ServerFrame__Output } from './fastport/v1/ServerFrame';
import type { Subscribe as _fastport_v1_Subscribe, Subscribe__Output as _fastport_v1_Subscribe__Output } from './fastport/v1/Subscribe';
import type { SubscribeResult as _fastport_v1_SubscribeResult, SubscribeResult__Output as _fastport_v1_SubscribeResult__Output } from './fastport/v1/SubscribeResult';
import type { Unsubscribe as _fastport_v1_Unsubscribe, Unsubscribe__Output as _fastport_v1_Unsubscribe__Output } from './fastport/v1/Unsubscribe';
import type { UnsubscribeResult as _fastport_v1_UnsubscribeResult, UnsubscribeResult__Output as _fastport_v1_UnsubscribeResult__Output } from './fastport/v1/UnsubscribeResult';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  fastport: {
    v1: {
      Ack: MessageTypeDefinition<_fastport_v1_Ack, _fastport_v1_Ack__Output>
      AckReceived: MessageTypeDefinition<_fastport_v1_AckReceived, _fastport_v1_AckReceived__Output>
      AckResult: MessageTypeDefinition<_fastport_v1_AckResult, _fastport_v1_AckResult__Output>
      /**
       * The pub/sub service. Its name (and its messages' names) predate the buf naming
       * rules and stay as they are: they are in every deployed client's method paths.
       */
      Broker: SubtypeConstructor<typeof grpc.Client, _fastport_v1_BrokerClient> & { service: _fastport_v1_BrokerDefinition }
      ClientFrame: MessageTypeDefinition<_fastport_v1_ClientFrame, _fastport_v1_ClientFrame__Output>
      Closing: MessageTypeDefinition<_fastport_v1_Closing, _fastport_v1_Closing__Output>
      DeliveryFailed: MessageTypeDefinition<_fastport_v1_DeliveryFailed, _fastport_v1_DeliveryFailed__Output>
      Error: MessageTypeDefinition<_fastport_v1_Error, _fastport_v1_Error__Output>
      Init: MessageTypeDefinition<_fastport_v1_Init, _fastport_v1_Init__Output>
      InitResult: MessageTypeDefinition<_fastport_v1_InitResult, _fastport_v1_InitResult__Output>
      Message: MessageTypeDefinition<_fastport_v1_Message, _fastport_v1_Message__Output>
      Nack: MessageTypeDefinition<_fastport_v1_Nack, _fastport_v1_Nack__Output>
      Publish: MessageTypeDefinition<_fastport_v1_Publish, _fastport_v1_Publish__Output>
      PublishRequest: MessageTypeDefinition<_fastport_v1_PublishRequest, _fastport_v1_PublishRequest__Output>
      PublishResult: MessageTypeDefinition<_fastport_v1_PublishResult, _fastport_v1_PublishResult__Output>
      ServerFrame: MessageTypeDefinition<_fastport_v1_ServerFrame, _fastport_v1_ServerFrame__Output>
      Subscribe: MessageTypeDefinition<_fastport_v1_Subscribe, _fastport_v1_Subscribe__Output>
      SubscribeResult: MessageTypeDefinition<_fastport_v1_SubscribeResult, _fastport_v1_SubscribeResult__Output>
      Unsubscribe: MessageTypeDefinition<_fastport_v1_Unsubscribe, _fastport_v1_Unsubscribe__Output>
      UnsubscribeResult: MessageTypeDefinition<_fastport_v1_UnsubscribeResult, _fastport_v1_UnsubscribeResult__Output>
    }
  }
}

