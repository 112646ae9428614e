"""Chat reads shared by pages, the API and the consumers. `get_conversation_for` fetches and
authorises at once: a conversation the viewer is not in is a 404, as if it did not exist."""

import functools
import itertools
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.db.models import (
    BigIntegerField,
    IntegerField,
    Prefetch,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.http import Http404

from accounts.models import User
from bunnybook import rows
from bunnybook.pagination import Page, decode_cursor, page_of
from chat import presence
from chat.models import Conversation, ConversationKind, Message, Participant, UserEventCounter
from social.models import BLOCKED_IDS_SQL, Friendship, read_ids
from social.selectors import friends_of, friendship_states

# --- Presence ---------------------------------------------------------------------------


def presence_for(viewer: User, users: Iterable[User], states: dict[int, str]) -> dict[int, bool]:
    """Online state of the viewer's friends and of herself (`states` from friendship_states);
    strangers are left out, so the API shows them as null. A bunny who appears offline is
    offline to everyone, herself included."""
    visible = [
        user
        for user in users
        if user is not None and (user.pk == viewer.pk or states.get(user.pk) == "friends")
    ]
    online = presence.online_ids(user.pk for user in visible if not user.appear_offline)
    return {user.pk: user.pk in online for user in visible}


def friends_presence(user: User) -> dict[int, bool]:
    """Online state of each of the bunny's friends, by id."""
    friends = list(
        User.objects.filter(pk__in=Friendship.objects.friend_ids(user.pk)).only(
            "pk", "appear_offline"
        )
    )
    return presence_for(user, friends, dict.fromkeys((f.pk for f in friends), "friends"))


def profile_context(viewer: User, users: Iterable[User], request=None) -> dict:
    """What accounts.api.ProfileSerializer needs to describe `users` to the viewer."""
    users = [user for user in users if user is not None]
    states = friendship_states(viewer, [user.pk for user in users])
    return {
        "request": request,
        "friendship_states": states,
        "online": presence_for(viewer, users, states),
    }


# --- Conversations ----------------------------------------------------------------------


# The conversation list's rules and per-viewer state, written out and joined to the ORM
# query as raw pieces: built from subquery expressions they cost 7-9 ms of CPU a page, more
# than everything else the chat list did. The state pieces name the outer table, so
# conversations_for() must stay an outer query (never a subquery of another). Only these
# constants reach RawSQL (hence the noqa: S611); every value is a parameter.
_LISTED_IDS_SQL = f"""
SELECT p.conversation_id
FROM chat_participant p JOIN chat_conversation c ON c.id = p.conversation_id
WHERE p.user_id = %s AND NOT (c.kind = %s AND EXISTS (
    SELECT 1 FROM chat_participant other
    WHERE other.conversation_id = p.conversation_id AND other.user_id IN ({BLOCKED_IDS_SQL})
))
"""  # noqa: S608 - joined from constants; values are parameters
_READ_CURSOR_SQL = """
SELECT last_read_message_id FROM chat_participant
WHERE conversation_id = chat_conversation.id AND user_id = %s
"""
_UNREAD_COUNT_SQL = """
SELECT COUNT(*)
FROM chat_message m JOIN chat_participant p ON p.conversation_id = m.conversation_id
WHERE m.conversation_id = chat_conversation.id AND p.user_id = %s
    AND m.id > p.last_read_message_id AND m.sender_id <> %s
"""


def conversations_for(viewer: User) -> QuerySet[Conversation]:
    """The viewer's conversations with what a list shows: participants, the last message,
    her read cursor (`read_cursor`) and unread count (`unread_count`). Sort or paginate on
    `last_activity_at`. A 1-to-1 with a bunny blocked either way is hidden, as the other
    bunny is everywhere else."""
    me = viewer.pk
    listed = RawSQL(_LISTED_IDS_SQL, [me, ConversationKind.DIRECT.value, me, me])  # noqa: S611
    return (
        Conversation.objects.filter(pk__in=listed)
        .annotate(
            read_cursor=RawSQL(_READ_CURSOR_SQL, [me], output_field=BigIntegerField()),  # noqa: S611
            unread_count=RawSQL(_UNREAD_COUNT_SQL, [me, me], output_field=IntegerField()),  # noqa: S611
        )
        .select_related("last_message", "last_message__sender")
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=Participant.objects.select_related("user").order_by("user_id"),
            )
        )
    )


# A page of conversations_for(), written out with the same pieces: the chat list and every
# /api/conversations/ call read one, and the ORM spent ~5 ms of CPU compiling it (the
# joined last message and sender, the two state annotations, the keyset). Their
# participants follow in a second statement (_attach_participants).
_PAGE_SQL = """
SELECT {conversation}, {message}, {sender}, ({read_cursor}), ({unread_count})
FROM chat_conversation
LEFT JOIN chat_message m ON m.id = chat_conversation.last_message_id
LEFT JOIN accounts_user s ON s.id = m.sender_id
WHERE chat_conversation.id IN ({listed}) {after}
ORDER BY chat_conversation.last_activity_at DESC, chat_conversation.id DESC
LIMIT %s
"""
_AFTER_CURSOR = """AND (chat_conversation.last_activity_at < %s
    OR (chat_conversation.last_activity_at = %s AND chat_conversation.id < %s))"""
_THIS_ONE = "AND chat_conversation.id = %s"


@functools.cache
def _page_sql(after: str) -> str:
    return _PAGE_SQL.format(
        conversation=rows.columns(Conversation, "chat_conversation"),
        message=rows.columns(Message, "m"),
        sender=rows.columns(User, "s"),
        read_cursor=_READ_CURSOR_SQL,
        unread_count=_UNREAD_COUNT_SQL,
        listed=_LISTED_IDS_SQL,
        after=after,
    )


_PARTICIPANTS_SQL = """
SELECT {participant}, {user}
FROM chat_participant p JOIN accounts_user u ON u.id = p.user_id
WHERE p.conversation_id IN ({ids})
ORDER BY p.conversation_id, p.user_id
"""


def _listed(viewer: User, after: str, after_params: list, limit: int) -> list[Conversation]:
    """At most `limit` of conversations_for(viewer) meeting `after` (one of the conditions
    above), most recent activity first, with their participants."""
    me = viewer.pk
    params = [me, me, me]  # the read cursor's, the unread count's
    params += [me, ConversationKind.DIRECT.value, me, me]  # the listed ids
    with rows.cursor() as db:
        db.execute(_page_sql(after), [*params, *after_params, limit])
        fetched = db.fetchall()
    models = (Conversation, Message, User)
    ends = list(itertools.accumulate(len(rows.attnames(model)) for model in models))
    conversations = []
    for row in fetched:
        conversation = rows.build(Conversation, row[: ends[0]])
        message = None
        if row[ends[0]] is not None:  # the last message's id: a new conversation has none
            message = rows.build(Message, row[ends[0] : ends[1]])
            sender = rows.build(User, row[ends[1] : ends[2]])
            Message.sender.field.set_cached_value(message, sender)
        Conversation.last_message.field.set_cached_value(conversation, message)
        conversation.read_cursor, conversation.unread_count = row[ends[2] :]
        conversations.append(conversation)
    _attach_participants(conversations)
    return conversations


def _attach_participants(conversations: list[Conversation]) -> None:
    """Each conversation's participants with their bunnies, in user id order, read in one
    written-out statement and handed over as prefetch_related would: the ORM spent ~1.7 ms
    of CPU building its prefetch, against ~0.25 ms for everything else of one conversation."""
    if not conversations:
        return
    ids = [conversation.pk for conversation in conversations]
    sql = _PARTICIPANTS_SQL.format(
        participant=rows.columns(Participant, "p"),
        user=rows.columns(User, "u"),
        ids=", ".join(["%s"] * len(ids)),
    )
    with rows.cursor() as db:
        db.execute(sql, ids)
        fetched = db.fetchall()
    by_conversation: dict[int, list[Participant]] = {pk: [] for pk in ids}
    bunnies = {}
    for row in fetched:
        participant, user = rows.split(row, (Participant, User))
        participant = rows.build(Participant, participant)
        Participant.user.field.set_cached_value(participant, rows.build_shared(User, user, bunnies))
        by_conversation[participant.conversation_id].append(participant)
    for conversation in conversations:
        rows.prefetched(conversation, "participants", by_conversation[conversation.pk])


def conversation_page(viewer: User, *, cursor: str | None = None, size: int | None = None) -> Page:
    """A page of conversations_for(viewer), most recent activity first."""
    size = size or settings.CHAT_PAGE_SIZE
    after, after_params = "", []
    if cursor:
        at, pk = decode_cursor(cursor, Conversation._meta.get_field("last_activity_at"))
        after, after_params = _AFTER_CURSOR, [at, at, pk]
    conversations = _listed(viewer, after, after_params, size + 1)
    return page_of(conversations, size=size, order_field="last_activity_at")


def get_conversation_for(viewer: User, conversation_id: int) -> Conversation:
    """One of conversations_for(viewer), written out as the list is (every conversation
    page and API call reads one: the ORM spent ~3.5 ms of CPU building it); else Http404."""
    if not 0 < conversation_id < 2**63:
        raise Http404
    found = _listed(viewer, _THIS_ONE, [conversation_id], 1)
    if not found:
        raise Http404
    return found[0]


def others_in(conversation: Conversation, viewer: User) -> list[User]:
    """The other participants (prefetched with the conversation)."""
    return [p.user for p in conversation.participants.all() if p.user_id != viewer.pk]


def open_conversation_ids(
    viewer: User, conversations: Iterable[Conversation], friend_ids: set[int] | None = None
) -> set[int]:
    """The conversations the viewer may still write in: a 1-to-1 stays open while the two
    are friends (a block ends the friendship) and the other bunny is active. `friend_ids`:
    the viewer's friends among the participants, when the caller has read them already."""
    conversations = list(conversations)
    if friend_ids is None:
        friend_ids = read_ids(Friendship.objects.friend_ids(viewer.pk))
    return {
        conversation.pk
        for conversation in conversations
        if conversation_is_open(conversation, others_in(conversation, viewer), friend_ids)
    }


def conversation_is_open(
    conversation: Conversation, others: Iterable[User], friend_ids: set[int]
) -> bool:
    """The rule behind open_conversation_ids, for callers that already know which of the
    other participants (`others`) are the viewer's friends."""
    return conversation.kind == ConversationKind.GROUP or all(
        other.pk in friend_ids and other.is_active for other in others
    )


def direct_conversation_between(first: User, second: User) -> Conversation | None:
    key = Conversation.pair_key_for(first.pk, second.pk)
    return conversations_for(first).filter(pair_key=key).first()


# The navigation shows these on every page. Written out: the ORM took 1.2 and 0.7 ms of
# CPU to build what the database answers in a tenth of that.
_TOTAL_UNREAD_SQL = """
SELECT COUNT(*)
FROM chat_participant p
JOIN chat_message m ON m.conversation_id = p.conversation_id AND m.id > p.last_read_message_id
WHERE p.user_id = %(user_id)s AND m.sender_id <> %(user_id)s
"""
_CURRENT_SEQ_SQL = "SELECT last_seq FROM chat_usereventcounter WHERE user_id = %(user_id)s"
_LATEST_SEQS_SQL = (
    "SELECT user_id, last_seq FROM chat_usereventcounter WHERE user_id = ANY(%(user_ids)s)"
)


def total_unread(viewer: User) -> int:
    """Messages from others after the viewer's read cursor, over all her conversations."""
    with rows.cursor() as cursor:
        cursor.execute(_TOTAL_UNREAD_SQL, {"user_id": viewer.pk})
        return cursor.fetchone()[0]


# --- Messages ---------------------------------------------------------------------------


# Written out: every conversation page and history call reads a page of messages, and the
# ORM spent ~1.5 ms of CPU building it.
_MESSAGES_SQL = """
SELECT {message}, {sender}
FROM chat_message m JOIN accounts_user s ON s.id = m.sender_id
WHERE m.conversation_id = %(conversation)s {before}
ORDER BY m.id DESC
LIMIT %(limit)s
"""


@functools.cache
def _messages_sql(*, before: bool) -> str:
    return _MESSAGES_SQL.format(
        message=rows.columns(Message, "m"),
        sender=rows.columns(User, "s"),
        before="AND m.id < %(before)s" if before else "",
    )


def message_page(conversation: Conversation, *, before: str | None = None) -> Page:
    """Newest first, `settings.CHAT_PAGE_SIZE` a page; `next_cursor` goes further back."""
    size = settings.CHAT_PAGE_SIZE
    params = {"conversation": conversation.pk, "limit": size + 1}
    if before:
        _, params["before"] = decode_cursor(before, Message._meta.get_field("id"))
    with rows.cursor() as db:
        db.execute(_messages_sql(before=bool(before)), params)
        fetched = db.fetchall()
    messages, bunnies = [], {}
    for row in fetched:
        message, sender = rows.split(row, (Message, User))
        message = rows.build(Message, message)
        Message.sender.field.set_cached_value(message, rows.build_shared(User, sender, bunnies))
        messages.append(message)
    return page_of(messages, size=size, order_field="id")


def get_message_for(viewer: User, message_id: int) -> Message | None:
    return (
        Message.objects.select_related("sender")
        .filter(pk=message_id, conversation__participants__user=viewer)
        .first()
    )


# --- Live event log ---------------------------------------------------------------------


def current_seq(user_id: int) -> int:
    """The last `seq` handed out to the bunny's durable events (0 before the first)."""
    with rows.cursor() as cursor:
        cursor.execute(_CURRENT_SEQ_SQL, {"user_id": user_id})
        row = cursor.fetchone()
    return row[0] if row else 0


def latest_seqs(user_ids: list[int]) -> dict[int, int]:
    """Each bunny's last `seq` ({user_id: seq}; none yet: absent). Every server asks this for
    all its bunnies on each heartbeat: on PostgreSQL one prepared statement over an array
    (1.4 ms for 1,000 bunnies), where the ORM spent 13 ms building an IN list of 1,000."""
    if connection.vendor != "postgresql":
        counters = UserEventCounter.objects.filter(user_id__in=user_ids)
        return dict(counters.values_list("user_id", "last_seq"))
    with rows.cursor() as cursor:
        cursor.execute(_LATEST_SEQS_SQL, {"user_ids": list(user_ids)})
        return dict(cursor.fetchall())


# --- Pages ------------------------------------------------------------------------------


def decorate(viewer: User, conversations: Iterable[Conversation]) -> list[Conversation]:
    """Give each conversation what its row and header show for the viewer: `others`,
    `online` (is any other participant online) and `is_open`, batch-loaded."""
    conversations = list(conversations)
    everyone = {other.pk: other for c in conversations for other in others_in(c, viewer)}
    states = dict.fromkeys(everyone, "friends")  # shown beside conversations, not strangers
    friend_ids = read_ids(Friendship.objects.friend_ids(viewer.pk))
    states = {pk: state for pk, state in states.items() if pk in friend_ids}
    online = presence_for(viewer, everyone.values(), states)
    open_ids = open_conversation_ids(viewer, conversations, friend_ids)
    for conversation in conversations:
        conversation.others = others_in(conversation, viewer)
        conversation.online = any(online.get(other.pk) for other in conversation.others)
        conversation.is_open = conversation.pk in open_ids
    return conversations


def friends_to_chat_with(viewer: User, *, exclude: Iterable[int] = (), limit: int = 50):
    """Friends to start a conversation with, on the chat page."""
    friends = friends_of(viewer, viewer=viewer).exclude(pk__in=list(exclude))
    friends = list(friends.order_by("display_name", "username")[:limit])
    online = presence_for(viewer, friends, dict.fromkeys((f.pk for f in friends), "friends"))
    for friend in friends:
        friend.online = online.get(friend.pk, False)
    return friends
