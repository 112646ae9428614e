"""The one JSON shape of a notification: the API answers with it, live events carry it, and
the pages render their items from it, so every surface says the same thing."""

from django.urls import reverse
from django.utils.text import Truncator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api import ProfileSerializer
from accounts.models import User
from notifications.models import Notification, NotificationType
from social.selectors import friendship_states

EXCERPT_LENGTH = 80

_VERBS = {
    NotificationType.FRIEND_REQUEST_RECEIVED: "sent you a friend request",
    NotificationType.FRIEND_REQUEST_ACCEPTED: "accepted your friend request",
    NotificationType.WALL_POST: "posted on your wall",
    NotificationType.POST_LIKED: "liked your post",
    NotificationType.COMMENT_LIKED: "liked your comment",
}


def names_phrase(names: list[str], total: int) -> str:
    """ "Ann", "Ann and Bob", "Ann, Bob and Cid", "Ann, Bob and 3 others"."""
    if total <= 0 or not names:
        return "Someone"
    if total == 1:
        return names[0]
    if total <= len(names):
        return f"{', '.join(names[:-1])} and {names[-1]}"
    shown = names[:2]
    others = total - len(shown)
    return f"{', '.join(shown)} and {others} other{'s' if others != 1 else ''}"


def notification_text(notification: Notification) -> str:
    actors = notification.latest_actors
    who = names_phrase([actor.name for actor in actors], notification.actor_count)
    kind = notification.type
    if kind == NotificationType.POST_COMMENTED:
        whose = (
            "your post"
            if notification.post.author_id == notification.recipient_id
            else ("a post on your wall")
        )
        return f"{who} commented on {whose}"
    if kind == NotificationType.THREAD_COMMENTED:
        post = notification.post
        alone = notification.actor_count == 1
        whose = "their" if alone and actors[0].pk == post.author_id else f"{post.author.name}’s"
        return f"{who} {'also ' if alone else ''}commented on {whose} post"
    return f"{who} {_VERBS[kind]}"


def notification_target(notification: Notification) -> dict:
    """What the notification is about, and where its link goes."""
    kind = notification.type
    if kind == NotificationType.FRIEND_REQUEST_RECEIVED:
        sender = notification.latest_actors[0]
        return {
            "type": "friend_request",
            "id": notification.friend_request_id,
            "username": sender.username,
            "url": sender.get_absolute_url(),
        }
    if kind == NotificationType.FRIEND_REQUEST_ACCEPTED:
        friend = notification.latest_actors[0]
        return {"type": "user", "username": friend.username, "url": friend.get_absolute_url()}
    post = notification.post
    if kind == NotificationType.COMMENT_LIKED:
        comment = notification.comment
        return {
            "type": "comment",
            "id": comment.pk,
            "post_id": post.pk,
            "excerpt": Truncator(comment.body).chars(EXCERPT_LENGTH),
            "url": f"{post.get_absolute_url()}#comment-{comment.pk}",
        }
    return {
        "type": "post",
        "id": post.pk,
        "excerpt": Truncator(post.body).chars(EXCERPT_LENGTH),
        "url": post.get_absolute_url(),
    }


class NotificationSerializer(serializers.ModelSerializer):
    """Something that happened to you. Likes and comments on one target are one
    notification naming its latest actors; `created_at` is the time of the latest."""

    # Serialises rows from notifications.selectors (annotated `actor_count`, attached
    # `latest_actors`), with `friendship_states` for the actors in the context.

    actor = serializers.SerializerMethodField(help_text="The latest bunny who acted.")
    actors = serializers.SerializerMethodField(help_text="The latest few actors, newest first.")
    actor_count = serializers.IntegerField(read_only=True)
    target = serializers.SerializerMethodField()
    read = serializers.BooleanField(read_only=True)
    text = serializers.SerializerMethodField(help_text='E.g. "Ann, Bob and 3 others liked…".')
    url = serializers.SerializerMethodField(help_text="Opens the target and marks it read.")

    class Meta:
        model = Notification
        fields = [
            "id",
            "type",
            "actor",
            "actors",
            "actor_count",
            "target",
            "created_at",
            "read",
            "text",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(ProfileSerializer)
    def get_actor(self, notification) -> dict:
        return ProfileSerializer(notification.latest_actors[0], context=self.context).data

    @extend_schema_field(ProfileSerializer(many=True))
    def get_actors(self, notification) -> list[dict]:
        return ProfileSerializer(notification.latest_actors, many=True, context=self.context).data

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_target(self, notification) -> dict:
        return notification_target(notification)

    def get_text(self, notification) -> str:
        return notification_text(notification)

    def get_url(self, notification) -> str:
        return reverse("notification-open", args=[notification.pk])


def serialize_notifications(viewer: User, notifications, *, request=None) -> list[dict]:
    """Serialise a page of the viewer's notifications, batch-loading the viewer's relation
    to every actor (so the cost does not grow with the page)."""
    notifications = list(notifications)
    actor_ids = {actor.pk for item in notifications for actor in item.latest_actors}
    context = {"friendship_states": friendship_states(viewer, actor_ids)}
    if request is not None:
        context["request"] = request
    return NotificationSerializer(notifications, many=True, context=context).data
