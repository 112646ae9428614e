"""Every chat write, plus the ephemeral relays (typing, presence) that write nothing.

A message is stored in PostgreSQL, with a durable per-bunny event (bunnybook.events), before
anyone hears of it; live delivery happens after commit. Typing and presence are never
stored: they go straight to the channel layer, to the bunnies who may see them.
"""

import functools
import json
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone

from accounts.api import ProfileSerializer
from accounts.models import User
from bunnybook import ratelimit, rows
from bunnybook.errors import Conflict
from bunnybook.events import (
    deliver,
    publish,
    publish_on_commit,
    publish_to_session,
    record_and_publish_on_commit,
    record_each_and_publish_on_commit,
    user_group,
)
from chat import presence, selectors
from chat.models import (
    MESSAGE_MAX_LENGTH,
    Conversation,
    ConversationKind,
    Message,
    Participant,
    UserEvent,
)
from chat.serializers import MessageSerializer
from social.models import Block, Friendship
from social.selectors import friendship_states

# Too many messages or typing frames (nothing stored or relayed): the shared limiter's.
RateLimited = ratelimit.RateLimited


def _plain(data) -> dict:
    """Serializer output as plain JSON types, fit for the event log and the channel layer."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _clean_body(body) -> str:
    body = (body if isinstance(body, str) else "").strip()
    if not body:
        raise ValidationError({"body": ["Write something first."]})
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationError({"body": [f"Keep it to {MESSAGE_MAX_LENGTH} characters."]})
    return body


def _clean_client_id(client_id) -> uuid.UUID:
    try:
        return client_id if isinstance(client_id, uuid.UUID) else uuid.UUID(str(client_id))
    except ValueError as exc:
        raise ValidationError({"client_id": ["Must be a UUID made by the client."]}) from exc


# --- Conversations ----------------------------------------------------------------------


@transaction.atomic
def start_conversation(*, user: User, with_user: User) -> tuple[Conversation, bool]:
    """The 1-to-1 conversation of two friends, made on first use. Returns it and whether it
    was created. Only friends may start one; a blocked or inactive bunny does not exist."""
    if with_user.pk == user.pk:
        raise ValidationError({"with": ["You cannot chat with yourself."]})
    if not with_user.is_active or Block.objects.between(user.pk, with_user.pk).exists():
        raise Http404
    if not Friendship.objects.between(user.pk, with_user.pk).exists():
        raise PermissionDenied("You can only chat with friends.")
    key = Conversation.pair_key_for(user.pk, with_user.pk)
    existing = Conversation.objects.filter(pair_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the transaction usable
            conversation = Conversation.objects.create(kind=ConversationKind.DIRECT, pair_key=key)
            Participant.objects.bulk_create(
                [
                    Participant(conversation=conversation, user=user),
                    Participant(conversation=conversation, user=with_user),
                ]
            )
    except IntegrityError:
        return Conversation.objects.get(pair_key=key), False
    return conversation, True


# --- Messages ---------------------------------------------------------------------------


def message_event(message: Message, *, recipient_id: int, states: dict, online: dict) -> dict:
    """The `chat.message` event as one participant receives it."""
    context = {"friendship_states": states, "online": online}
    if recipient_id == message.sender_id:
        context["friendship_states"] = {message.sender_id: "self"}
    return {
        "type": "chat.message",
        "conversation_id": message.conversation_id,
        "message": _plain(MessageSerializer(message, context=context).data),
    }


class _LiveMessageSerializer(MessageSerializer):
    """MessageSerializer for live events, one instance shared by every message (as a
    ListSerializer reuses one child): a DRF serializer spends most of its time building its
    fields, once per instance. Context-free: what depends on the reader (how the sender's
    profile reads to her: friendship, online) is filled in per recipient."""

    def get_sender(self, message) -> dict:
        return _shared_serializer(ProfileSerializer).to_representation(message.sender)


@functools.cache
def _shared_serializer(serializer_class):
    return serializer_class()


def _events_for_participants(
    message: Message, users: list[User], *, sender_online: bool | None = None
) -> dict:
    """Each participant's `chat.message` event: the message as the API shows it, with the
    sender's profile as that participant sees it."""
    sender = message.sender
    if sender_online is None:
        sender_online = sender.pk in presence.online_ids([sender.pk])
    online = sender_online and not sender.appear_offline
    payload = _plain(_shared_serializer(_LiveMessageSerializer).to_representation(message))
    states = {sender.pk: "self"}
    if message.conversation.kind != ConversationKind.DIRECT:
        # Strangers may share a group: ask how each sees the sender.
        for user in users:
            if user.pk != sender.pk:
                states[user.pk] = friendship_states(user, [sender.pk])[sender.pk]
    events = {}
    for user in users:
        state = states.get(user.pk, "friends")
        profile = {
            **payload["sender"],
            "friendship": state,
            "online": online if state in ("self", "friends") else None,
        }
        events[user.pk] = {
            "type": "chat.message",
            "conversation_id": message.conversation_id,
            "message": {**payload, "sender": profile},
        }
    return events


def _first_copy(sender: User, client_id: uuid.UUID, conversation_id: int) -> Message | None:
    first = (
        Message.objects.select_related("sender").filter(sender=sender, client_id=client_id).first()
    )
    if first is not None and first.conversation_id != conversation_id:
        raise Conflict("That client_id was already used for another message.")
    return first


# Sending is the hottest write of the site, so its statements are written out once here
# (parameterised; table names come from the models): the ORM spent ~3 ms of CPU building
# the locking query alone, more than the database took to run all of them (bench_chat).


@functools.cache
def _tables() -> dict[str, str]:
    """The quoted table names of the statements written out here."""
    models = {
        "user": User,
        "participant": Participant,
        "conversation": Conversation,
        "message": Message,
        "friendship": Friendship,
    }
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


# Whether the participant `u` is the sender's friend (a pair is stored lower id first).
_IS_SENDERS_FRIEND = """EXISTS (
    SELECT 1 FROM {friendship} f
    WHERE f.user_a_id = CASE WHEN u.id < %(sender)s THEN u.id ELSE %(sender)s END
      AND f.user_b_id = CASE WHEN u.id < %(sender)s THEN %(sender)s ELSE u.id END
)"""


@functools.cache
def _send_sql() -> dict[str, str]:
    quoted = {
        **_tables(),
        "user_columns": rows.columns(User, "u"),
        "is_friend": _IS_SENDERS_FRIEND.format(**_tables()),
    }
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    return {
        # The participants as users, with the conversation's kind, whether each is the
        # sender's friend, and where a message of hers with this client_id went, if she
        # sent one. Locks the conversation row.
        "participants": """
            SELECT {user_columns}, c.kind AS conversation_kind, {is_friend} AS is_friend,
                (SELECT m.conversation_id FROM {message} m
                 WHERE m.sender_id = %(sender)s AND m.client_id = %(client_id)s
                 LIMIT 1) AS prior_conversation_id
            FROM {participant} p
            JOIN {user} u ON u.id = p.user_id
            JOIN {conversation} c ON c.id = p.conversation_id
            WHERE p.conversation_id = %(conversation)s
            ORDER BY u.id
        """.format(**quoted)  # noqa: S608 - table names from the models
        + lock,
        "insert": """
            INSERT INTO {message} (conversation_id, sender_id, body, client_id, created_at)
            VALUES (%(conversation)s, %(sender)s, %(body)s, %(client_id)s, %(created_at)s)
            RETURNING id
        """.format(**quoted),  # noqa: S608 - table names from the models
        "last_message": """
            UPDATE {conversation} SET last_message_id = %(message)s,
                last_activity_at = %(created_at)s
            WHERE id = %(conversation)s
        """.format(**quoted),  # noqa: S608 - table names from the models
        # PostgreSQL does both in one round trip.
        "insert_as_last": """
            WITH message AS (
                INSERT INTO {message} (conversation_id, sender_id, body, client_id, created_at)
                VALUES (%(conversation)s, %(sender)s, %(body)s, %(client_id)s, %(created_at)s)
                RETURNING id
            )
            UPDATE {conversation} SET last_message_id = message.id,
                last_activity_at = %(created_at)s
            FROM message WHERE {conversation}.id = %(conversation)s
            RETURNING message.id
        """.format(**quoted),  # noqa: S608 - table names from the models
    }


def _participant_users(sql: str, params: dict) -> list[User]:
    """The participants query's rows as users, each with the row's extra columns as
    attributes. Built from a fixed column list (bunnybook.rows): a RawQuerySet spent more
    CPU mapping columns to fields on every call than building the users."""
    width = len(rows.attnames(User))
    with rows.cursor() as cursor:
        cursor.execute(sql, params)
        extras = [column[0] for column in cursor.description[width:]]
        fetched = cursor.fetchall()
    users = []
    for row in fetched:
        user = rows.build(User, row[:width])
        for name, value in zip(extras, row[width:], strict=True):
            setattr(user, name, value)
        users.append(user)
    return users


def _db_value(model, field: str, value):
    return model._meta.get_field(field).get_db_prep_save(value, connection)


@transaction.atomic
def _store_message(
    *,
    sender: User,
    conversation_id: int,
    body: str,
    client_id: uuid.UUID,
    sender_online: bool | None,
) -> tuple[Message, bool]:
    # Locking the conversation row writes its messages one at a time: ids grow in commit
    # order, and a read cursor (an id) never skips a message that commits later.
    sql = _send_sql()
    params = {
        "sender": sender.pk,
        "conversation": conversation_id,
        "client_id": _db_value(Message, "client_id", client_id),
    }
    users = _participant_users(sql["participants"], params)
    if not users:
        _first_copy(sender, client_id, conversation_id)  # a client_id used elsewhere: Conflict
        raise Http404
    if users[0].prior_conversation_id is not None:  # a retry: the first copy, or Conflict
        return _first_copy(sender, client_id, conversation_id), False
    conversation = Conversation(pk=conversation_id, kind=users[0].conversation_kind)
    me = next((user for user in users if user.pk == sender.pk), None)
    if me is None or not me.is_active:
        raise Http404
    others = [user for user in users if user.pk != sender.pk]
    if not selectors.conversation_is_open(
        conversation, others, {user.pk for user in others if user.is_friend}
    ):
        raise PermissionDenied("This conversation is closed: you are no longer friends.")
    # Counted here, after the retry check: a resent client_id is never a new message.
    rate = (settings.CHAT_MESSAGE_RATE, settings.CHAT_RATE_WINDOW)
    ratelimit.hit("chat_message", f"u{sender.pk}", rate=rate)
    message = Message(
        conversation=conversation,
        sender=me,
        body=body,
        client_id=client_id,
        created_at=timezone.now(),
    )
    params["body"] = body
    params["created_at"] = _db_value(Message, "created_at", message.created_at)
    with rows.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql["insert_as_last"], params)
            (message.pk,) = cursor.fetchone()
        else:
            cursor.execute(sql["insert"], params)
            (message.pk,) = cursor.fetchone()
            cursor.execute(sql["last_message"], {**params, "message": message.pk})
    events = _events_for_participants(message, users, sender_online=sender_online)
    record_each_and_publish_on_commit(events)
    return message, True


def send_message(
    *, sender: User, conversation_id: int, body: str, client_id, sender_online: bool | None = None
) -> tuple[Message, bool]:
    """Store a message, then tell every participant (the sender's other tabs included).

    Returns the message and whether it is new: the same `client_id` again returns the first
    copy and stores nothing. Not a participant: Http404; conversation closed (no longer
    friends): PermissionDenied; too fast: RateLimited. `sender_online`: whether the sender is
    connected, if the caller knows (a socket does); else the presence store is asked.
    """
    body = _clean_body(body)
    client_id = _clean_client_id(client_id)
    try:
        return _store_message(
            sender=sender,
            conversation_id=conversation_id,
            body=body,
            client_id=client_id,
            sender_online=sender_online,
        )
    except IntegrityError:
        # A retry racing this one stored the client_id first (its transaction rolled back
        # whole, so nothing of this one remains): answer with that copy.
        first = _first_copy(sender, client_id, conversation_id)
        if first is None:
            raise
        return first, False


# Written out as sending is: every conversation page and read frame marks one read, and the
# ORM spent ~1.5 ms of CPU building the two reads.
@functools.cache
def _read_sql() -> dict[str, str]:
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return {
        "cursor": """
            SELECT p.last_read_message_id,
                (SELECT MAX(m.id) FROM {message} m WHERE m.conversation_id = p.conversation_id)
            FROM {participant} p
            WHERE p.conversation_id = %(conversation)s AND p.user_id = %(user)s
        """.format(**_tables())  # noqa: S608 - table names from the models
        + lock,
        "move": """
            UPDATE {participant} SET last_read_message_id = %(newest)s
            WHERE conversation_id = %(conversation)s AND user_id = %(user)s
        """.format(**_tables()),  # noqa: S608 - table names from the models
    }


@transaction.atomic
def mark_read(*, user: User, conversation_id: int, origin: str | None = None) -> int:
    """Move the bunny's read cursor to the newest message; her other sockets hear of it
    (`origin`, the channel that asked, is told nothing new). Returns her unread total."""
    sql = _read_sql()
    params = {"conversation": conversation_id, "user": user.pk}
    with rows.cursor() as cursor:
        cursor.execute(sql["cursor"], params)  # her read cursor, locked, and the newest id
        found = cursor.fetchone()
        if found is None:
            raise Http404
        last_read, newest = found
        if newest is None or newest <= last_read:
            return selectors.total_unread(user)  # nothing new: no write, no event
        cursor.execute(sql["move"], {**params, "newest": newest})
    total = selectors.total_unread(user)
    event = {
        "type": "chat.read",
        "conversation_id": conversation_id,
        "unread_count": 0,
        "last_read_message_id": newest,
        "unread_total": total,
    }
    if origin:
        event["_origin"] = origin
    record_and_publish_on_commit([user.pk], event)
    return total


# --- Typing (ephemeral: no table, no write) --------------------------------------------


# Who hears a bunny typing: one plain row a participant (typing frames come every 2 s from
# every typist, and a group's 500 participants as ORM rows were a quarter of the server's
# CPU in bench_presence). Friendship is asked only of 1-to-1 conversations.
class _TypingRow(NamedTuple):
    id: int
    username: str
    display_name: str
    is_active: bool
    appear_offline: bool
    kind: str
    is_friend: bool | None


@functools.cache
def _typing_sql() -> str:
    quoted = {**_tables(), "is_friend": _IS_SENDERS_FRIEND.format(**_tables())}
    return """
        SELECT u.id, u.username, u.display_name, u.is_active, u.appear_offline, c.kind,
            CASE WHEN c.kind = %(direct)s THEN {is_friend} END AS is_friend
        FROM {participant} p
        JOIN {user} u ON u.id = p.user_id
        JOIN {conversation} c ON c.id = p.conversation_id
        WHERE p.conversation_id = %(conversation)s
    """.format(**quoted)  # noqa: S608 - table names from the models


def relay_typing(*, user_id: int, conversation_id: int) -> bool:
    """Tell the other participants that the bunny is typing. Membership and friendship are
    checked against the database every time (one query); relays are throttled per bunny and
    conversation; nothing goes out from a bunny who appears offline. Returns whether a
    relay went out. Not a participant (or no longer active): Http404; conversation closed
    (no longer friends): PermissionDenied."""
    params = {"sender": user_id, "conversation": conversation_id, "direct": ConversationKind.DIRECT}
    with rows.cursor() as cursor:
        cursor.execute(_typing_sql(), params)
        participants = [_TypingRow(*row) for row in cursor.fetchall()]
    me = next((row for row in participants if row.id == user_id), None)
    if me is None or not me.is_active:
        raise Http404
    others = [row for row in participants if row.id != user_id]
    if not selectors.conversation_is_open(
        Conversation(pk=conversation_id, kind=me.kind),
        # A generator: a group conversation never looks at its participants.
        (User(pk=row.id, is_active=row.is_active) for row in others),
        {row.id for row in others if row.is_friend},
    ):
        raise PermissionDenied("This conversation is closed: you are no longer friends.")
    user = User(
        pk=me.id,
        username=me.username,
        display_name=me.display_name,
        appear_offline=me.appear_offline,
    )
    ratelimit.hit(
        "chat_typing", f"u{user.pk}", rate=(settings.CHAT_TYPING_RATE, settings.CHAT_RATE_WINDOW)
    )
    if user.appear_offline:
        return False
    throttle_key = f"chat:typing:{user.pk}:{conversation_id}"
    if cache.add(throttle_key, 1, settings.TYPING_THROTTLE) is False:
        return False
    publish(
        [row.id for row in others],
        {
            "type": "chat.typing",
            "conversation_id": conversation_id,
            "user": user.username,
            "user_id": user.pk,
            "display_name": user.name,
        },
    )
    return True


# --- Presence (ephemeral) --------------------------------------------------------------


# Who hears of a bunny's presence, for any number of bunnies in one statement: her friends,
# with her username (as two ORM queries it was half the server's time between her last
# socket closing and the first friend being told, in bench_presence). `{ids}` is a list of
# placeholders, one per bunny.
_PRESENCE_AUDIENCE_SQL = """
    SELECT u.id, u.username, f.friend_id
    FROM {user} u
    JOIN (
        SELECT user_a_id AS bunny_id, user_b_id AS friend_id FROM {friendship}
        WHERE user_a_id IN ({{ids}})
        UNION ALL
        SELECT user_b_id, user_a_id FROM {friendship} WHERE user_b_id IN ({{ids}})
    ) f ON f.bunny_id = u.id
    WHERE u.id IN ({{ids}})
"""


@functools.lru_cache(maxsize=32)
def _presence_audience_sql(count: int, *, visible_only: bool) -> str:
    sql = _PRESENCE_AUDIENCE_SQL.format(**_tables())
    sql = sql.format(ids=", ".join(f"%(id{n})s" for n in range(count)))
    return sql + (" AND NOT u.appear_offline" if visible_only else "")


def _tell_friends(online: dict[int, bool], *, visible_only: bool) -> None:
    """Send each bunny's `presence` event (online[her id]) to her friends who are online:
    one query and one presence read for any number of bunnies, then one publish.
    `visible_only`: leave out the bunnies who appear offline."""
    ids = sorted(online)
    if not ids:
        return
    with rows.cursor() as cursor:
        cursor.execute(
            _presence_audience_sql(len(ids), visible_only=visible_only),
            {f"id{n}": user_id for n, user_id in enumerate(ids)},
        )
        audience = sorted(cursor.fetchall())  # (bunny id, username, friend id)
    listening = presence.online_ids({friend_id for _, _, friend_id in audience})
    deliver(
        [
            (
                user_group(friend_id),
                {
                    "type": "presence",
                    "user": username,
                    "user_id": user_id,
                    "online": online[user_id],
                },
            )
            for user_id, username, friend_id in audience
            if friend_id in listening
        ]
    )


def announce_presence_changes(*, online: Iterable[int] = (), offline: Iterable[int] = ()) -> None:
    """Bunnies whose first socket opened (`online`) or whose last one closed or lapsed
    (`offline`): tell their friends who are online. A bunny who appears offline stays
    silent."""
    _tell_friends(dict.fromkeys(online, True) | dict.fromkeys(offline, False), visible_only=True)


def appear_offline_changed(*, user: User) -> None:
    """Called by accounts.services.update_profile inside its transaction: friends see the
    bunny go offline (or come back) at once, if she is connected."""

    def tell_friends():
        if presence.online_ids([user.pk]):
            _tell_friends({user.pk: not user.appear_offline}, visible_only=False)

    transaction.on_commit(tell_friends)


# --- Sockets ----------------------------------------------------------------------------


def close_live_sockets(*, user_id: int) -> None:
    """Close every open socket of a bunny (banned, logged out everywhere) at once."""
    publish_on_commit([user_id], {"type": "live.close"})


def close_session_sockets(*, session_key: str) -> None:
    """Close the sockets one page session opened (it logged out); her other devices stay."""
    transaction.on_commit(lambda: publish_to_session(session_key, {"type": "live.close"}))


def prune_live_events(*, older_than_days: int | None = None) -> int:
    """Forget durable events older than the retention; a client that far behind resyncs."""
    days = settings.LIVE_EVENT_RETENTION_DAYS if older_than_days is None else older_than_days
    deleted, _ = UserEvent.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=days)
    ).delete()
    return deleted
