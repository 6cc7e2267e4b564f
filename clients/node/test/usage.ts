// A typed use of the package (the README example, and more): `tsc -p test/tsconfig.json`
// fails when index.d.ts and this disagree. Never run, only type-checked.
import { FastPort, BrokerError, createSession, generateKey, Message, PublishReceipt, version } from '..';

async function example(): Promise<void> {
  const key = generateKey();
  const { secretKey } = await createSession('127.0.0.1:50051', 'token', { name: 'demo', password: 'pw' });
  const fp = new FastPort({ url: 'grpc://127.0.0.1:50051', session: 'demo', password: 'pw', key, autoAck: false });
  fp.on('ack', (ack) => console.log(ack.messageId, ack.remaining));
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
    if (err instanceof BrokerError) console.log(err.code);
  }
  await fp.close();
}

void example;
