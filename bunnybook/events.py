"""Live events: the one place sync code hands events to the channel layer.

Events are addressed to bunnies, not rooms: every socket of a bunny joins the group
`user.<id>`. Publishing happens after commit, so a rolled-back write is never seen live,
and a dead channel layer never fails the write that caused the event: whatever must not
be lost is stored in PostgreSQL first and caught up on reconnect.
"""

import hashlib
import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from chat.models import UserEvent, UserEventCounter

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(user_ids: Iterable[int], event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id in sorted(set(user_ids)):
        try:
            async_to_sync(layer.group_send)(user_group(user_id), event)
        except Exception:  # noqa: BLE001 - the layer being down must not break the request
            logger.warning("live event %s to user %s not delivered", event.get("type"), user_id)


def session_group(session_key: str) -> str:
    """The group of the sockets one page session opened, so that logging that session out
    closes them and no others (hashed: a group name is never a usable session key)."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def publish_to_session(session_key: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(session_key), event)
    except Exception:  # noqa: BLE001 - as in publish
        logger.warning("live event %s to a session not delivered", event.get("type"))


def publish_on_commit(user_ids: Iterable[int], event: dict) -> None:
    recipients = list(user_ids)
    transaction.on_commit(lambda: publish(recipients, event))


def _next_seq(user_id: int) -> int:
    """Hand out the bunny's next sequence number. The counter row stays locked until the
    transaction ends, so a bunny's events commit in sequence order."""
    table = connection.ops.quote_name(UserEventCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, last_seq) VALUES (%s, 1) "  # noqa: S608 - our table name
            f"ON CONFLICT (user_id) DO UPDATE SET last_seq = {table}.last_seq + 1 "
            "RETURNING last_seq",
            [user_id],
        )
        return cursor.fetchone()[0]


def record_and_publish_on_commit(user_ids: Iterable[int], event: dict) -> dict[int, int]:
    """Store `event` durably for each bunny with its next `seq`, then publish it after
    commit. Must run inside the transaction of the write that caused it. Returns the seqs."""
    seqs = {}
    for user_id in sorted(set(user_ids)):
        seq = _next_seq(user_id)
        UserEvent.objects.create(user_id=user_id, seq=seq, payload=event)
        seqs[user_id] = seq
        stamped = {**event, "seq": seq}
        transaction.on_commit(lambda user_id=user_id, stamped=stamped: publish([user_id], stamped))
    return seqs
