"""Live events: the one place code hands events to the channel layer.

Events are addressed to bunnies, not rooms: every socket of a bunny joins the group
`user.<id>`. Publishing happens after commit, so a rolled-back write is never seen live,
and a dead channel layer never fails the write that caused the event: whatever must not
be lost is stored in PostgreSQL first and caught up on reconnect.

All the events of one write go to the layer together (`deliver`): one hop from a sync
thread to the event loop, and the group sends of that hop run concurrently (or in one
Redis round trip with a layer that offers `group_send_many`), never one after another.
"""

import asyncio
import contextvars
import hashlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import connection, transaction
from django.utils import timezone

from bunnybook import rows
from chat.models import UserEvent, UserEventCounter

logger = logging.getLogger(__name__)

Delivery = tuple[str, dict]  # (group, event)
T = TypeVar("T")


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_key: str) -> str:
    """The group of the sockets one page session opened, so that logging that session out
    closes them and no others (hashed: a group name is never a usable session key)."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


async def adeliver(deliveries: list[Delivery], layer=None) -> None:
    """Send each (group, event) on the channel layer, all at once. A failure is logged,
    never raised: the layer being down must not break the write that caused the events."""
    layer = layer or get_channel_layer()
    if layer is None or not deliveries:
        return
    send_many = getattr(layer, "group_send_many", None)
    try:
        if send_many is not None:
            await send_many(deliveries)
            return
        results = await asyncio.gather(
            *(layer.group_send(group, event) for group, event in deliveries),
            return_exceptions=True,
        )
    except Exception:  # noqa: BLE001 - see the docstring
        results = [ConnectionError()]
    failed = sum(isinstance(result, BaseException) for result in results)
    if failed:
        kinds = sorted({str(event.get("type")) for _, event in deliveries})
        logger.warning("%s live event(s) %s not delivered", failed, ", ".join(kinds))


# Set by `deliver_after` around sync work that an event loop awaits: deliveries are then
# collected and sent by that loop when the work returns, instead of each blocking the
# worker thread for a hop to the loop and back.
_collected: contextvars.ContextVar[list[Delivery] | None] = contextvars.ContextVar(
    "collected_deliveries", default=None
)


def deliver(deliveries: list[Delivery]) -> None:
    """`adeliver` from sync code (a view, a service's on_commit)."""
    collected = _collected.get()
    if collected is not None:
        collected.extend(deliveries)
        return
    layer = get_channel_layer()
    if not deliveries or layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # Its queues belong to the server's loop (the embedded default: one daphne, whose
        # sync views run in threads that async_to_sync hops back from).
        async_to_sync(adeliver)(deliveries, layer)
        return
    asyncio.run_coroutine_threadsafe(adeliver(deliveries, layer), _publishing_loop()).result()


_publishing_lock = threading.Lock()
_publishing_loops: dict[int, asyncio.AbstractEventLoop] = {}


def _publishing_loop() -> asyncio.AbstractEventLoop:
    """This process's loop for publishing from sync code, on a thread of its own, so its
    connection to the layer is kept. async_to_sync outside a server (a gunicorn worker, a
    command) ran a new loop on a new thread, with a new Redis connection, for every write:
    ~3 ms of a chat message's ~5 ms there (bench_writes). Kept per process id: a forked
    worker does not inherit the thread."""
    pid = os.getpid()
    with _publishing_lock:
        loop = _publishing_loops.get(pid)
        if loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-events", daemon=True).start()
            _publishing_loops[pid] = loop
        return loop


async def deliver_after(
    work: Callable[[], Awaitable[T]], collected: list[Delivery] | None = None
) -> T:
    """Await `work` (sync code run in a thread, e.g. through database_sync_to_async), then
    send what it delivered on this loop, even if it raised after a commit. `collected`, if
    given, receives the deliveries too."""
    collected = [] if collected is None else collected
    token = _collected.set(collected)
    try:
        return await work()
    finally:
        _collected.reset(token)
        await adeliver(collected)


def publish(user_ids: Iterable[int], event: dict) -> None:
    """Send one event to every socket of each bunny in `user_ids`."""
    deliver([(user_group(user_id), event) for user_id in sorted(set(user_ids))])


def publish_to_session(session_key: str, event: dict) -> None:
    deliver([(session_group(session_key), event)])


def publish_on_commit(user_ids: Iterable[int], event: dict) -> None:
    recipients = list(user_ids)
    transaction.on_commit(lambda: publish(recipients, event))


def _next_seqs(user_ids: list[int]) -> dict[int, int]:
    """Hand out each bunny's next sequence number, in one statement. The counter rows stay
    locked until the transaction ends (taken in id order, so two writes never deadlock on
    them), so a bunny's events commit in sequence order."""
    table = connection.ops.quote_name(UserEventCounter._meta.db_table)
    counters = ", ".join(["(%s, 1)"] * len(user_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, last_seq) VALUES {counters} "  # noqa: S608 - our table name and placeholders
            f"ON CONFLICT (user_id) DO UPDATE SET last_seq = {table}.last_seq + 1 "
            "RETURNING user_id, last_seq",
            user_ids,
        )
        return dict(cursor.fetchall())


def _store_events(entries: list[tuple[int, int, dict]]) -> None:
    """INSERT the (user_id, seq, payload) rows in one statement (bulk_create spent more CPU
    preparing it than the database took to run it)."""
    table = connection.ops.quote_name(UserEvent._meta.db_table)
    payload = UserEvent._meta.get_field("payload")
    created_at = UserEvent._meta.get_field("created_at")
    now = created_at.get_db_prep_save(timezone.now(), connection)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(entries))
    params = [
        value
        for user_id, seq, event in entries
        for value in (user_id, seq, payload.get_db_prep_save(event, connection), now)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, seq, payload, created_at) VALUES {values}",  # noqa: S608 - our table name and placeholders
            params,
        )


def _record_events(events: Mapping[int, dict]) -> dict[int, int]:
    """Give each bunny's event her next seq and store it; returns the seqs. On PostgreSQL
    in one statement (one round trip, not two: this runs for every chat message)."""
    user_ids = sorted(events)
    if connection.vendor != "postgresql":
        seqs = _next_seqs(user_ids)
        _store_events([(user_id, seqs[user_id], events[user_id]) for user_id in user_ids])
        return seqs
    counters = connection.ops.quote_name(UserEventCounter._meta.db_table)
    table = connection.ops.quote_name(UserEvent._meta.db_table)
    payload = UserEvent._meta.get_field("payload")
    now = UserEvent._meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    counter_rows = ", ".join(["(%s, 1)"] * len(user_ids))
    payload_rows = ", ".join(["(%s::bigint, %s::jsonb)"] * len(user_ids))
    params = [*user_ids, now]
    for user_id in user_ids:
        params += [user_id, payload.get_db_prep_save(events[user_id], connection)]
    with rows.cursor() as cursor:
        cursor.execute(
            # Counter rows locked in id order, as in _next_seqs.
            f"WITH seqs AS (INSERT INTO {counters} (user_id, last_seq) VALUES {counter_rows} "  # noqa: S608 - our table names and placeholders
            f"ON CONFLICT (user_id) DO UPDATE SET last_seq = {counters}.last_seq + 1 "
            "RETURNING user_id, last_seq) "
            f"INSERT INTO {table} (user_id, seq, payload, created_at) "
            "SELECT seqs.user_id, seqs.last_seq, payloads.payload, %s "
            f"FROM seqs JOIN (VALUES {payload_rows}) AS payloads (user_id, payload) "
            "ON payloads.user_id = seqs.user_id RETURNING user_id, seq",
            params,
        )
        return dict(cursor.fetchall())


def record_each_and_publish_on_commit(events: Mapping[int, dict]) -> dict[int, int]:
    """Store each bunny's event ({user_id: event}) durably with her next `seq`, then publish
    them all after commit. Must run inside the transaction of the write that caused them.
    Returns the seqs."""
    user_ids = sorted(events)
    if not user_ids:
        return {}
    seqs = _record_events(events)
    deliveries = [
        (user_group(user_id), {**events[user_id], "seq": seqs[user_id]}) for user_id in user_ids
    ]
    transaction.on_commit(lambda: deliver(deliveries))
    return seqs


def record_and_publish_on_commit(user_ids: Iterable[int], event: dict) -> dict[int, int]:
    """The same event for each bunny in `user_ids` (see record_each_and_publish_on_commit)."""
    return record_each_and_publish_on_commit(dict.fromkeys(user_ids, event))


class BatchingPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis' pub/sub layer, plus `group_send_many`: many group sends pipelined in
    one Redis round trip. The stock `group_send` publishes one message per round trip under
    a lock shared with subscribing, so a fan-out to 500 friends queued 500 round trips."""

    async def group_send_many(self, deliveries: list[Delivery]) -> None:
        layer = self._get_layer()
        by_shard: dict[object, list[tuple[str, bytes]]] = {}
        for group, event in deliveries:
            channel = layer._get_group_channel_name(group)
            shard = layer._get_shard(channel)
            by_shard.setdefault(shard, []).append((channel, self.serialize(event)))
        for shard, messages in by_shard.items():
            shard._ensure_redis()
            async with shard._redis.pipeline(transaction=False) as pipe:
                for channel, data in messages:
                    pipe.publish(channel, data)
                await pipe.execute()
