"""Every notification write. Other apps' services call the `notify_*` and `withdraw_*`
functions inside their own transaction, so a notification exists exactly when the action
that caused it does; live events go out after commit.

Live events, each stored per recipient with its `seq` (bunnybook.events):
- `{"type": "notification", "notification": {...as in the API}, "unread_count": n}`
- `{"type": "notification.removed", "id": id, "unread_count": n}` when a group empties
- `{"type": "notification.read", "id": id or None (all), "unread_count": n}`
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from bunnybook.events import record_and_publish_on_commit
from notifications import selectors
from notifications.models import (
    GROUPED_TYPES,
    MutedNotificationType,
    Notification,
    NotificationActor,
    NotificationType,
)
from notifications.serializers import serialize_notifications
from social.models import Block, Comment, FriendRequest, Post
from social.selectors import may_see_post

_LOCK_ATTEMPTS = 5


# --- Keys and recipients ----------------------------------------------------------------


def _group_key(kind: str, *, actor: User, target) -> str:
    """Grouped types share one row per target; the others are one row per target and actor,
    so they never merge two bunnies."""
    key = f"{target._meta.model_name}:{target.pk}"
    if kind in GROUPED_TYPES or target == actor:
        return key
    return f"{key}:by:{actor.pk}"


def _recipients(kind: str, *, actor: User, user_ids: Iterable[int], post: Post | None):
    """Who of `user_ids` gets this: never the actor, nobody blocked with the actor either
    way, nobody who muted the type, and for a post only those who may see it."""
    ids = {user_id for user_id in user_ids if user_id and user_id != actor.pk}
    if not ids:
        return []
    blocked = Block.objects.filter(
        Q(blocker_id=actor.pk, blocked_id__in=ids) | Q(blocked_id=actor.pk, blocker_id__in=ids)
    ).values_list("blocker_id", "blocked_id")
    ids -= {user_id for pair in blocked for user_id in pair}
    muted = MutedNotificationType.objects.filter(user_id__in=ids, type=kind)
    ids -= set(muted.values_list("user_id", flat=True))
    recipients = list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))
    if post is not None:
        recipients = [user for user in recipients if may_see_post(user, post.pk)]
    return recipients


def _lock_group(**key) -> tuple[Notification, bool]:
    """The notification row for `key`, locked until the transaction ends, created if
    missing. Races are settled by the unique constraint on the key: the loser of a
    concurrent create retries and locks the winner's row."""
    defaults = key.pop("defaults")
    for _ in range(_LOCK_ATTEMPTS):
        notification = Notification.objects.select_for_update().filter(**key).first()
        if notification is not None:
            return notification, False
        try:
            with transaction.atomic():
                return Notification.objects.create(**key, **defaults), True
        except IntegrityError:
            continue
    raise RuntimeError(f"could not lock notification group {key}")  # pragma: no cover


# --- Live events ------------------------------------------------------------------------


def _publish_notification(recipient: User, notification_id: int) -> None:
    try:
        notification = selectors.get_notification_for(recipient, notification_id)
    except Http404:
        return  # not visible to the recipient (e.g. every actor is blocked): nothing to say
    event = {
        "type": "notification",
        "notification": serialize_notifications(recipient, [notification])[0],
        "unread_count": selectors.unread_count_for(recipient),
    }
    record_and_publish_on_commit([recipient.pk], event)


def _publish_count(recipient: User, kind: str, **fields) -> None:
    event = {"type": kind, **fields, "unread_count": selectors.unread_count_for(recipient)}
    record_and_publish_on_commit([recipient.pk], event)


# --- The core ---------------------------------------------------------------------------


@transaction.atomic
def notify(
    *,
    kind: str,
    actor: User,
    recipient_ids: Iterable[int],
    post: Post | None = None,
    comment: Comment | None = None,
    friend_request: FriendRequest | None = None,
) -> list[Notification]:
    """Tell each of `recipient_ids` that `actor` did `kind`. A grouped kind adds the actor
    to the target's existing notification (moved to the top, unread again); returns the
    notifications written."""
    if kind not in NotificationType.values:
        raise ValidationError({"type": [f"Unknown notification type {kind!r}."]})
    target = comment or post or friend_request or actor
    key = _group_key(kind, actor=actor, target=target)
    written = []
    for recipient in _recipients(kind, actor=actor, user_ids=recipient_ids, post=post):
        now = timezone.now()
        notification, created = _lock_group(
            recipient=recipient,
            type=kind,
            group_key=key,
            defaults={
                "post": post,
                "comment": comment,
                "friend_request": friend_request,
                "created_at": now,
            },
        )
        NotificationActor.objects.update_or_create(
            notification=notification, actor=actor, defaults={"acted_at": now}
        )
        if not created:
            notification.created_at, notification.read_at = now, None
            notification.save(update_fields=["created_at", "read_at"])
        _publish_notification(recipient, notification.pk)
        written.append(notification)
    return written


@transaction.atomic
def withdraw(*, kind: str, actor: User, target, recipient_ids: Iterable[int] | None = None):
    """Take `actor` out of the notifications of `kind` about `target` (an un-like, a deleted
    comment). A group left with nobody disappears; the rest fall back to their latest
    remaining actor's time."""
    # Lock only the notification rows: the joined recipient is read, never locked.
    groups = Notification.objects.select_for_update(of=("self",)).filter(
        type=kind, group_key=_group_key(kind, actor=actor, target=target)
    )
    if recipient_ids is not None:
        groups = groups.filter(recipient_id__in=list(recipient_ids))
    for notification in groups.select_related("recipient").order_by("pk"):
        removed, _ = NotificationActor.objects.filter(
            notification=notification, actor=actor
        ).delete()
        if not removed:
            continue
        latest = notification.actor_links.order_by("-acted_at", "-id").first()
        if latest is None:
            notification_id = notification.pk
            notification.delete()
            _publish_count(notification.recipient, "notification.removed", id=notification_id)
        else:
            notification.created_at = latest.acted_at
            notification.save(update_fields=["created_at"])


# --- What the social services call ------------------------------------------------------


def notify_friend_request_received(*, friend_request: FriendRequest) -> list[Notification]:
    return notify(
        kind=NotificationType.FRIEND_REQUEST_RECEIVED,
        actor=friend_request.from_user,
        recipient_ids=[friend_request.to_user_id],
        friend_request=friend_request,
    )


@transaction.atomic
def withdraw_friend_request(*, friend_request: FriendRequest) -> None:
    """Before a request is accepted, declined or cancelled: its notification goes (the
    foreign key would take it anyway; this also updates the addressee's badge live)."""
    for notification in Notification.objects.select_for_update().filter(
        friend_request=friend_request
    ):
        notification_id = notification.pk
        notification.delete()
        _publish_count(friend_request.to_user, "notification.removed", id=notification_id)


def notify_friend_request_accepted(*, friend_request: FriendRequest) -> list[Notification]:
    """The bunny who asked hears that the other said yes."""
    return notify(
        kind=NotificationType.FRIEND_REQUEST_ACCEPTED,
        actor=friend_request.to_user,
        recipient_ids=[friend_request.from_user_id],
    )


def notify_wall_post(*, post: Post) -> list[Notification]:
    return notify(
        kind=NotificationType.WALL_POST, actor=post.author, recipient_ids=[post.wall_id], post=post
    )


def _commenter_ids(post: Post, *, excluding: Comment) -> set[int]:
    others = Comment.objects.filter(post_id=post.pk).exclude(pk=excluding.pk)
    return set(others.values_list("author_id", flat=True).distinct())


@transaction.atomic
def notify_comment(*, comment: Comment) -> list[Notification]:
    """The post's author and wall owner hear of it (post_commented); everyone else who
    commented on the post too (thread_commented)."""
    post, actor = comment.post, comment.author
    owners = {post.author_id, post.wall_id}
    thread = _commenter_ids(post, excluding=comment) - owners
    return [
        *notify(kind=NotificationType.POST_COMMENTED, actor=actor, recipient_ids=owners, post=post),
        *notify(
            kind=NotificationType.THREAD_COMMENTED, actor=actor, recipient_ids=thread, post=post
        ),
    ]


@transaction.atomic
def withdraw_comment(*, comment: Comment) -> None:
    """Before a comment is deleted: if it was its author's last on the post, the author
    leaves that post's comment notifications."""
    post = comment.post
    still_there = (
        Comment.objects.filter(post_id=post.pk, author_id=comment.author_id)
        .exclude(pk=comment.pk)
        .exists()
    )
    if still_there:
        return
    for kind in (NotificationType.POST_COMMENTED, NotificationType.THREAD_COMMENTED):
        withdraw(kind=kind, actor=comment.author, target=post)


def notify_post_liked(*, post: Post, by: User) -> list[Notification]:
    return notify(
        kind=NotificationType.POST_LIKED, actor=by, recipient_ids=[post.author_id], post=post
    )


def withdraw_post_like(*, post: Post, by: User) -> None:
    withdraw(kind=NotificationType.POST_LIKED, actor=by, target=post)


def notify_comment_liked(*, comment: Comment, by: User) -> list[Notification]:
    return notify(
        kind=NotificationType.COMMENT_LIKED,
        actor=by,
        recipient_ids=[comment.author_id],
        post=comment.post,
        comment=comment,
    )


def withdraw_comment_like(*, comment: Comment, by: User) -> None:
    withdraw(kind=NotificationType.COMMENT_LIKED, actor=by, target=comment)


# --- Read state and preferences ---------------------------------------------------------


@transaction.atomic
def mark_read(*, notification: Notification, by: User) -> bool:
    """Mark one of `by`'s notifications read; False if it already was."""
    if notification.recipient_id != by.pk:
        raise Http404
    marked = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if marked:
        _publish_count(by, "notification.read", id=notification.pk)
    return bool(marked)


@transaction.atomic
def mark_all_read(*, user: User) -> int:
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if marked:
        _publish_count(user, "notification.read", id=None)
    return marked


@transaction.atomic
def set_muted_types(*, user: User, muted: Iterable[str]) -> set[str]:
    """Replace the types `user` does not want; returns them."""
    muted = set(muted)
    unknown = muted - set(NotificationType.values)
    if unknown:
        raise ValidationError({"muted": [f"Unknown types: {', '.join(sorted(unknown))}."]})
    MutedNotificationType.objects.filter(user=user).exclude(type__in=muted).delete()
    MutedNotificationType.objects.bulk_create(
        [MutedNotificationType(user=user, type=kind) for kind in sorted(muted)],
        ignore_conflicts=True,
    )
    return muted
