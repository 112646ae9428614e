"""Publishing live events from sync code (views under gunicorn, services, commands)."""

import asyncio
import uuid

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from bunnybook.events import deliver, user_group


def test_sync_code_publishes_every_event_on_one_kept_connection():
    layer = get_channel_layer()
    group = user_group(10_000_000 + uuid.uuid4().int % 1_000_000)
    sends = 20
    stats = redis.Redis.from_url(settings.REDIS_URL)

    def connections_received() -> int:
        return stats.info("stats")["total_connections_received"]

    def publish_from_sync_code() -> int:
        deliver([(group, {"type": "probe", "n": -1})])  # opens the connection if none yet
        before = connections_received()
        for n in range(sends):
            deliver([(group, {"type": "probe", "n": n})])
        return connections_received() - before

    async def listen_while_sync_code_publishes():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            opened = await asyncio.to_thread(publish_from_sync_code)
            received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(sends + 1)]
        finally:
            await layer.group_discard(group, channel)
        return opened, [event["n"] for event in received]

    opened, received = async_to_sync(listen_while_sync_code_publishes)()
    assert received == [-1, *range(sends)]
    assert opened == 0  # async_to_sync opened one for every delivery
