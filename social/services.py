"""Every social write: friend requests, friendships, blocks, posts, comments and likes.

Each function is one transaction. Live events go out after commit via publish_on_commit;
other apps hear of friendship changes through the calls in `_friendship_changed`.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from bunnybook.errors import Conflict
from bunnybook.events import record_and_publish_on_commit
from notifications import services as notifications
from social.models import (
    Block,
    Comment,
    CommentLike,
    FriendRequest,
    Friendship,
    Post,
    PostLike,
    Visibility,
)

POST_MAX_LENGTH = 5000
COMMENT_MAX_LENGTH = 2000


class AlreadyFriends(Conflict):
    pass


class RequestPending(Conflict):
    pass


def _lock_pair(first: User, second: User) -> None:
    """Serialise every friendship change of one pair: lock both rows, lower id first."""
    list(User.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("pk"))


def _friendship_changed(first: User, second: User, state_for_first: str, state_for_second: str):
    """The seam where other parts of the site hear that a pair's relation changed."""
    # Imported here so this seam stays the only place that knows about the graph layer.
    from social.graph.suggestions import forget_suggestions_on_commit
    from social.graph.sync import record_friendship_change

    if state_for_first in ("friends", "none"):
        # Outbox row in this transaction, pushed to Neo4j after commit. "none" also follows
        # a declined or cancelled request; the unlink is then a harmless no-op.
        record_friendship_change(first.pk, second.pk, friends=state_for_first == "friends")
    forget_suggestions_on_commit([first.pk, second.pk])
    record_and_publish_on_commit(
        [first.pk], {"type": "friendship", "user": second.username, "friendship": state_for_first}
    )
    record_and_publish_on_commit(
        [second.pk], {"type": "friendship", "user": first.username, "friendship": state_for_second}
    )


def _clean_body(body: str, *, max_length: int) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write something first."]})
    if len(body) > max_length:
        raise ValidationError({"body": [f"Keep it to {max_length} characters."]})
    return body


# --- Friendships ------------------------------------------------------------------------


@transaction.atomic
def send_friend_request(*, sender: User, to: User) -> FriendRequest | Friendship:
    """Ask `to` to be friends. If `to` had already asked, the two become friends at once."""
    if sender.pk == to.pk:
        raise ValidationError({"to": ["You cannot befriend yourself."]})
    _lock_pair(sender, to)
    if Block.objects.between(sender.pk, to.pk).exists():
        raise Http404
    if Friendship.objects.between(sender.pk, to.pk).exists():
        raise AlreadyFriends("You are already friends.")
    pending = FriendRequest.objects.between(sender.pk, to.pk).first()
    if pending is not None and pending.from_user_id == sender.pk:
        raise RequestPending("Your request is already waiting for an answer.")
    if pending is not None:
        return _make_friends(friend_request=pending)
    friend_request = FriendRequest.objects.create(from_user=sender, to_user=to)
    _friendship_changed(sender, to, "request_sent", "request_received")
    notifications.notify_friend_request_received(friend_request=friend_request)
    return friend_request


def _make_friends(*, friend_request: FriendRequest) -> Friendship:
    sender, addressee = friend_request.from_user, friend_request.to_user
    notifications.withdraw_friend_request(friend_request=friend_request)
    friend_request.delete()
    user_a, user_b = Friendship.ordered(sender.pk, addressee.pk)
    friendship = Friendship.objects.create(user_a_id=user_a, user_b_id=user_b)
    _friendship_changed(sender, addressee, "friends", "friends")
    notifications.notify_friend_request_accepted(friend_request=friend_request)
    return friendship


def _locked_request(friend_request: FriendRequest) -> FriendRequest:
    _lock_pair(friend_request.from_user, friend_request.to_user)
    current = FriendRequest.objects.filter(pk=friend_request.pk).first()
    if current is None:
        raise Http404  # answered or cancelled meanwhile
    return current


@transaction.atomic
def accept_friend_request(*, friend_request: FriendRequest, by: User) -> Friendship:
    if friend_request.to_user_id != by.pk:
        raise PermissionDenied("Only the bunny who was asked can accept.")
    return _make_friends(friend_request=_locked_request(friend_request))


@transaction.atomic
def decline_friend_request(*, friend_request: FriendRequest, by: User) -> None:
    if friend_request.to_user_id != by.pk:
        raise PermissionDenied("Only the bunny who was asked can decline.")
    current = _locked_request(friend_request)
    notifications.withdraw_friend_request(friend_request=current)
    current.delete()
    _friendship_changed(current.from_user, current.to_user, "none", "none")


@transaction.atomic
def cancel_friend_request(*, friend_request: FriendRequest, by: User) -> None:
    if friend_request.from_user_id != by.pk:
        raise PermissionDenied("Only the bunny who asked can cancel.")
    current = _locked_request(friend_request)
    notifications.withdraw_friend_request(friend_request=current)
    current.delete()
    _friendship_changed(current.from_user, current.to_user, "none", "none")


@transaction.atomic
def unfriend(*, user: User, friend: User) -> None:
    """End a friendship, silently: the other bunny gets no notification."""
    _lock_pair(user, friend)
    deleted, _ = Friendship.objects.between(user.pk, friend.pk).delete()
    if not deleted:
        raise Http404
    _friendship_changed(user, friend, "none", "none")


@transaction.atomic
def block_bunny(*, blocker: User, blocked: User) -> Block:
    """Block: ends the friendship and any pending request both ways, silently."""
    if blocker.pk == blocked.pk:
        raise ValidationError({"username": ["You cannot block yourself."]})
    _lock_pair(blocker, blocked)
    block, created = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    if created:
        was_friends, _ = Friendship.objects.between(blocker.pk, blocked.pk).delete()
        had_request, _ = FriendRequest.objects.between(blocker.pk, blocked.pk).delete()
        if was_friends or had_request:
            _friendship_changed(blocker, blocked, "none", "none")
    return block


@transaction.atomic
def unblock_bunny(*, blocker: User, blocked: User) -> None:
    Block.objects.filter(blocker=blocker, blocked=blocked).delete()


# --- Posts ------------------------------------------------------------------------------


@transaction.atomic
def create_post(
    *, author: User, body: str, wall: User | None = None, visibility: str = Visibility.FRIENDS
) -> Post:
    """Post on your own wall, or on a friend's."""
    wall = wall or author
    body = _clean_body(body, max_length=POST_MAX_LENGTH)
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": ["Choose friends or public."]})
    if wall.pk != author.pk:
        if Block.objects.between(author.pk, wall.pk).exists():
            raise Http404
        if not Friendship.objects.between(author.pk, wall.pk).exists():
            raise PermissionDenied("You can only post on your friends' walls.")
    post = Post.objects.create(author=author, wall=wall, body=body, visibility=visibility)
    if wall.pk != author.pk:
        notifications.notify_wall_post(post=post)
    return post


@transaction.atomic
def edit_post(*, post: Post, by: User, body: str, visibility: str | None = None) -> Post:
    if not post.editable_by(by):
        raise PermissionDenied("Only the author can edit a post.")
    post.body = _clean_body(body, max_length=POST_MAX_LENGTH)
    if visibility is not None:
        if visibility not in Visibility.values:
            raise ValidationError({"visibility": ["Choose friends or public."]})
        post.visibility = visibility
    post.edited_at = timezone.now()
    post.save(update_fields=["body", "visibility", "edited_at"])
    return post


@transaction.atomic
def delete_post(*, post: Post, by: User) -> None:
    if not post.deletable_by(by):
        raise PermissionDenied("Only the author or the wall's owner can delete a post.")
    post.delete()


# --- Comments ---------------------------------------------------------------------------


@transaction.atomic
def add_comment(*, post: Post, author: User, body: str) -> Comment:
    """Comment on a post the author may see (the caller fetched it with a selector)."""
    body = _clean_body(body, max_length=COMMENT_MAX_LENGTH)
    comment = Comment.objects.create(post=post, author=author, body=body)
    Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") + 1)
    notifications.notify_comment(comment=comment)
    return comment


@transaction.atomic
def edit_comment(*, comment: Comment, by: User, body: str) -> Comment:
    if not comment.editable_by(by):
        raise PermissionDenied("Only its author can edit a comment.")
    comment.body = _clean_body(body, max_length=COMMENT_MAX_LENGTH)
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    return comment


@transaction.atomic
def delete_comment(*, comment: Comment, by: User) -> None:
    post = comment.post
    if not comment.deletable_by(by, post=post):
        raise PermissionDenied(
            "Only the comment's author, the post's author or the wall owner can."
        )
    notifications.withdraw_comment(comment=comment)
    comment.delete()
    Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") - 1)


# --- Likes ------------------------------------------------------------------------------


def _add_like(like_model, counted_model, *, target_field: str, target, user: User) -> bool:
    """Insert the like if new and bump the counter; idempotent under races."""
    try:
        with transaction.atomic():
            like_model.objects.create(**{target_field: target, "user": user})
    except IntegrityError:
        return False
    counted_model.objects.filter(pk=target.pk).update(like_count=F("like_count") + 1)
    return True


def _remove_like(like_model, counted_model, *, target_field: str, target, user: User) -> bool:
    deleted, _ = like_model.objects.filter(**{target_field: target, "user": user}).delete()
    if deleted:
        counted_model.objects.filter(pk=target.pk).update(like_count=F("like_count") - 1)
    return bool(deleted)


@transaction.atomic
def like_post(*, post: Post, user: User) -> bool:
    added = _add_like(PostLike, Post, target_field="post", target=post, user=user)
    if added:
        notifications.notify_post_liked(post=post, by=user)
    return added


@transaction.atomic
def unlike_post(*, post: Post, user: User) -> bool:
    removed = _remove_like(PostLike, Post, target_field="post", target=post, user=user)
    if removed:
        notifications.withdraw_post_like(post=post, by=user)
    return removed


@transaction.atomic
def like_comment(*, comment: Comment, user: User) -> bool:
    added = _add_like(CommentLike, Comment, target_field="comment", target=comment, user=user)
    if added:
        notifications.notify_comment_liked(comment=comment, by=user)
    return added


@transaction.atomic
def unlike_comment(*, comment: Comment, user: User) -> bool:
    removed = _remove_like(CommentLike, Comment, target_field="comment", target=comment, user=user)
    if removed:
        notifications.withdraw_comment_like(comment=comment, by=user)
    return removed
