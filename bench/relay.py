"""The floor for bench_chat and bench_presence: a bare websocket relay (the `websockets`
package) over Redis pub/sub doing the same fan-out as the chat (to the sender's and the
recipient's sockets), or as a presence or typing event (a `fanout` frame: the event to every
bunny in `to`, published in one pipelined round trip), with no database, no auth and no
rendering. Run: python bench/relay.py PORT REDIS_URL
"""

import asyncio
import json
import sys
from collections import defaultdict

import redis.asyncio as aioredis
import websockets


async def main(port: int, redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    sockets: dict[str, set] = defaultdict(set)

    # One pattern subscription up front: no subscribe racing the reader.
    await pubsub.psubscribe("relay.user.*")

    async def forward():
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None:
                continue
            channel = message["channel"].decode()
            for socket in list(sockets.get(channel, ())):
                try:
                    await socket.send(message["data"].decode())
                except websockets.ConnectionClosed:
                    sockets[channel].discard(socket)

    async def handle(socket):
        auth = json.loads(await socket.recv())
        channel = f"relay.user.{auth['user']}"
        sockets[channel].add(socket)
        await socket.send(json.dumps({"type": "ready"}))
        try:
            async for raw in socket:
                frame = json.loads(raw)
                if frame.get("type") == "chat.send":
                    event = json.dumps({"type": "chat.message", "message": frame})
                    for user in (auth["user"], frame["to"]):
                        await client.publish(f"relay.user.{user}", event)
                elif frame.get("type") == "fanout":
                    event = json.dumps(frame["event"])
                    async with client.pipeline(transaction=False) as pipe:
                        for user in frame["to"]:
                            pipe.publish(f"relay.user.{user}", event)
                        await pipe.execute()
        finally:
            sockets[channel].discard(socket)

    forwarder = asyncio.create_task(forward())
    async with websockets.serve(handle, "127.0.0.1", port, max_queue=None):
        await asyncio.Future()
    forwarder.cancel()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
