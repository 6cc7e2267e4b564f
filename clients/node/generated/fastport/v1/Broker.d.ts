// Original file: proto/fastport/v1/broker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClientFrame as _fastport_v1_ClientFrame, ClientFrame__Output as _fastport_v1_ClientFrame__Output } from '../../fastport/v1/ClientFrame';
import type { PublishRequest as _fastport_v1_PublishRequest, PublishRequest__Output as _fastport_v1_PublishRequest__Output } from '../../fastport/v1/PublishRequest';
import type { PublishResult as _fastport_v1_PublishResult, PublishResult__Output as _fastport_v1_PublishResult__Output } from '../../fastport/v1/PublishResult';
import type { ServerFrame as _fastport_v1_ServerFrame, ServerFrame__Output as _fastport_v1_ServerFrame__Output } from '../../fastport/v1/ServerFrame';

/**
 * The pub/sub service. Its name (and its messages' names) predate the buf naming
 * rules and stay as they are: they are in every deployed client's method paths.
 */
export interface BrokerClient extends grpc.Client {
  /**
   * The client's stream of batched requests and the server's stream of batched
   * replies, deliveries and notifications.
   */
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_fastport_v1_ClientFrame, _fastport_v1_ServerFrame__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_fastport_v1_ClientFrame, _fastport_v1_ServerFrame__Output>;
  /**
   * The client's stream of batched requests and the server's stream of batched
   * replies, deliveries and notifications.
   */
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_fastport_v1_ClientFrame, _fastport_v1_ServerFrame__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_fastport_v1_ClientFrame, _fastport_v1_ServerFrame__Output>;
  
  /**
   * One-shot publish for simple publishers: authenticates, publishes, returns the
   * result. Acknowledgements from subscribers are not reported (use Connect for that).
   */
  Publish(argument: _fastport_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  Publish(argument: _fastport_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  Publish(argument: _fastport_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  Publish(argument: _fastport_v1_PublishRequest, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  /**
   * One-shot publish for simple publishers: authenticates, publishes, returns the
   * result. Acknowledgements from subscribers are not reported (use Connect for that).
   */
  publish(argument: _fastport_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  publish(argument: _fastport_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  publish(argument: _fastport_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  publish(argument: _fastport_v1_PublishRequest, callback: grpc.requestCallback<_fastport_v1_PublishResult__Output>): grpc.ClientUnaryCall;
  
}

/**
 * The pub/sub service. Its name (and its messages' names) predate the buf naming
 * rules and stay as they are: they are in every deployed client's method paths.
 */
export interface BrokerHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The client's stream of batched requests and the server's stream of batched
   * replies, deliveries and notifications.
   */
  Connect: grpc.handleBidiStreamingCall<_fastport_v1_ClientFrame__Output, _fastport_v1_ServerFrame>;
  
  /**
   * One-shot publish for simple publishers: authenticates, publishes, returns the
   * result. Acknowledgements from subscribers are not reported (use Connect for that).
   */
  Publish: grpc.handleUnaryCall<_fastport_v1_PublishRequest__Output, _fastport_v1_PublishResult>;
  
}

export interface BrokerDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_fastport_v1_ClientFrame, _fastport_v1_ServerFrame, _fastport_v1_ClientFrame__Output, _fastport_v1_ServerFrame__Output>
  Publish: MethodDefinition<_fastport_v1_PublishRequest, _fastport_v1_PublishResult, _fastport_v1_PublishRequest__Output, _fastport_v1_PublishResult__Output>
}
