from fastport_proto.v1 import broker_pb2 as pb

from ..conftest import create_session


async def test_publish_reaches_subscriber(app, admin, broker_stub):
    await create_session(admin, "s1")
    sub = broker_stub.Connect()
    await sub.write(pb.ClientFrame(init=pb.Init(request_id=1, session="s1", password="pw"),
                                   subscribe=[pb.Subscribe(request_id=2, topic="a/#")]))
    frame = await sub.read()
    assert frame.init_result.request_id == 1 and not frame.init_result.HasField("error")
    while not frame.subscribe_results:
        frame = await sub.read()
    result = await broker_stub.Publish(pb.PublishRequest(session="s1", password="pw", publish=pb.Publish(topic="a/b", payload=b"x")))
    assert result.delivered_to == 1
    frame = await sub.read()
    assert frame.messages[0].payload == b"x"
    sub.cancel()
