// A typed use of the package (the README example, and more): `tsc -p test/tsconfig.json`
// fails when index.d.ts and this disagree. Never run, only type-checked.
import * as grpc from '@grpc/grpc-js';
import { FastPort, BrokerError, createSession, generateKey, Message, PublishReceipt, version } from '..';
import type { BrokerProtocol, CreatedSession, DeliveryFailed } from '..';

async function example(): Promise<void> {
  const key = generateKey();
  const created: CreatedSession = await createSession('127.0.0.1:50051', 'token', { name: 'demo', password: 'pw' });
  const fp = new FastPort({ url: 'grpc://127.0.0.1:50051', session: 'demo', password: 'pw', key, autoAck: false });
  const { secretKey } = created;
  fp.on('ack', (ack) => console.log(ack.messageId, ack.remaining));
  fp.on('deliveryFailed', (failure: DeliveryFailed) => console.log(failure.reason, failure.remaining, failure.deadLettered));
  fp.on('error', (err) => console.error(err.code));
  fp.on('state', (state, err) => console.log(state, err?.code));
  await fp.connect();
  await fp.subscribe('sensors/+', async (m: Message) => {
    if (m.retry > 3) m.nack();
    else m.ack();
    console.log(m.topic, m.text, m.payload.length, m.attributes['trace']);
  });
  const receipt: PublishReceipt = await fp.publish('sensors/t1', '21.5', { attributes: { trace: 't' } });
  console.log(receipt.deliveredTo, receipt.duplicate, secretKey, version);
  const stream = fp.messages('news/#');
  await stream.subscribed;
  for await (const m of stream) {
    console.log(m.text);
    break;
  }
  const plain = new FastPort({ session: 'demo', password: 'pw', cipher: 'none' });
  await plain.publish('t', Buffer.from([1, 2]));
  try {
    await fp.subscribe('a/#/b', () => undefined);
  } catch (err) {
    if (err instanceof BrokerError) console.log(err.code, err.temporary ? 'may succeed later' : 'refused for good');
  }
  await fp.close();
}

// The generated declarations type a raw stream on the loaded contract.
function raw(loaded: grpc.GrpcObject): void {
  const v1 = (loaded as unknown as BrokerProtocol).fastport.v1;
  const stub = new v1.Broker('127.0.0.1:50051', grpc.credentials.createInsecure());
  const call = stub.Connect();
  call.on('data', (frame) => {
    for (const m of frame.messages) console.log(m.topic, m.message_id, m.timestamp_ms + 1, m.attributes['trace']);
  });
  call.write({ init: { request_id: 1, session: 'demo', password: 'pw' }, subscribe: [{ request_id: 2, topic: 'a/#' }] });
}

void example;
void raw;
