"""Every chat write, plus the ephemeral relays (typing, presence) that write nothing.

A message is stored in PostgreSQL, with a durable per-bunny event (bunnybook.events), before
anyone hears of it; live delivery happens after commit. Typing and presence are never
stored: they go straight to the channel layer, to the bunnies who may see them.
"""

import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from bunnybook import ratelimit
from bunnybook.errors import Conflict
from bunnybook.events import (
    publish,
    publish_on_commit,
    publish_to_session,
    record_and_publish_on_commit,
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


def _first_copy(sender: User, client_id: uuid.UUID, conversation_id: int) -> Message | None:
    first = (
        Message.objects.select_related("sender").filter(sender=sender, client_id=client_id).first()
    )
    if first is not None and first.conversation_id != conversation_id:
        raise Conflict("That client_id was already used for another message.")
    return first


@transaction.atomic
def send_message(
    *, sender: User, conversation_id: int, body: str, client_id
) -> tuple[Message, bool]:
    """Store a message, then tell every participant (the sender's other tabs included).

    Returns the message and whether it is new: the same `client_id` again returns the first
    copy and stores nothing. Not a participant: Http404; conversation closed (no longer
    friends): PermissionDenied; too fast: RateLimited.
    """
    body = _clean_body(body)
    client_id = _clean_client_id(client_id)
    first = _first_copy(sender, client_id, conversation_id)
    if first is not None:
        return first, False
    # Messages of one conversation are written one at a time, so ids grow in commit order
    # and a read cursor (an id) never skips a message that commits later.
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .of(sender.pk)
        .filter(pk=conversation_id)
        .prefetch_related("participants__user")
        .first()
    )
    if conversation is None:
        raise Http404
    if not selectors.is_open_for(sender, conversation):
        raise PermissionDenied("This conversation is closed: you are no longer friends.")
    first = _first_copy(sender, client_id, conversation_id)  # a racing retry got here first
    if first is not None:
        return first, False
    # Counted here, after the retry check: a resent client_id is never a new message.
    rate = (settings.CHAT_MESSAGE_RATE, settings.CHAT_RATE_WINDOW)
    ratelimit.hit("chat_message", f"u{sender.pk}", rate=rate)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation, sender=sender, body=body, client_id=client_id
            )
    except IntegrityError:
        return Message.objects.select_related("sender").get(
            sender=sender, client_id=client_id
        ), False
    conversation.last_message = message
    conversation.last_activity_at = message.created_at
    conversation.save(update_fields=["last_message", "last_activity_at"])

    participants = selectors.participant_ids(conversation)
    visible = not sender.appear_offline
    online = {message.sender_id: visible and bool(presence.online_ids([sender.pk]))}
    direct = conversation.kind == ConversationKind.DIRECT
    for recipient_id in participants:
        if direct or recipient_id == sender.pk:
            states = {sender.pk: "friends"}
        else:
            states = friendship_states(User(pk=recipient_id), [sender.pk])
        shown = online if (recipient_id == sender.pk or states[sender.pk] == "friends") else {}
        event = message_event(message, recipient_id=recipient_id, states=states, online=shown)
        record_and_publish_on_commit([recipient_id], event)
    return message, True


@transaction.atomic
def mark_read(*, user: User, conversation_id: int, origin: str | None = None) -> int:
    """Move the bunny's read cursor to the newest message; her other sockets hear of it
    (`origin`, the channel that asked, is told nothing new). Returns her unread total."""
    participant = (
        Participant.objects.select_for_update()
        .filter(conversation_id=conversation_id, user=user)
        .first()
    )
    if participant is None:
        raise Http404
    newest = (
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    if newest is None or newest <= participant.last_read_message_id:
        return selectors.total_unread(user)  # nothing new: no write, no event
    participant.last_read_message_id = newest
    participant.save(update_fields=["last_read_message_id"])
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


def relay_typing(*, user_id: int, conversation_id: int) -> bool:
    """Tell the other participants that the bunny is typing. Membership and friendship are
    checked against the database every time; relays are throttled per bunny and
    conversation; nothing goes out from a bunny who appears offline. Returns whether a
    relay went out."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Http404
    conversation = (
        Conversation.objects.of(user.pk)
        .filter(pk=conversation_id)
        .prefetch_related("participants__user")
        .first()
    )
    if conversation is None:
        raise Http404
    if not selectors.is_open_for(user, conversation):
        raise PermissionDenied("This conversation is closed: you are no longer friends.")
    ratelimit.hit(
        "chat_typing", f"u{user.pk}", rate=(settings.CHAT_TYPING_RATE, settings.CHAT_RATE_WINDOW)
    )
    if user.appear_offline:
        return False
    throttle_key = f"chat:typing:{user.pk}:{conversation.pk}"
    if cache.add(throttle_key, 1, settings.TYPING_THROTTLE) is False:
        return False
    others = [p.user_id for p in conversation.participants.all() if p.user_id != user.pk]
    publish(
        others,
        {
            "type": "chat.typing",
            "conversation_id": conversation.pk,
            "user": user.username,
            "user_id": user.pk,
            "display_name": user.name,
        },
    )
    return True


# --- Presence (ephemeral) --------------------------------------------------------------


def _broadcast_presence(user: User, *, online: bool) -> None:
    friends = presence.online_ids(Friendship.objects.friend_ids(user.pk))
    publish(
        friends,
        {"type": "presence", "user": user.username, "user_id": user.pk, "online": online},
    )


def announce_presence(*, user_id: int, online: bool) -> None:
    """A bunny's first socket opened (online) or her last one closed or lapsed: tell her
    friends who are online. A bunny who appears offline stays silent."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.appear_offline:
        return
    _broadcast_presence(user, online=online)


def appear_offline_changed(*, user: User) -> None:
    """Called by accounts.services.update_profile inside its transaction: friends see the
    bunny go offline (or come back) at once, if she is connected."""

    def tell_friends():
        if presence.online_ids([user.pk]):
            _broadcast_presence(user, online=not user.appear_offline)

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
