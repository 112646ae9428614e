"""Notifications: one row per (recipient, type, group key), the bunnies who acted on it,
and the types each bunny muted."""

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from social.models import Block, Comment, FriendRequest, Post

User = settings.AUTH_USER_MODEL


class NotificationType(models.TextChoices):
    FRIEND_REQUEST_RECEIVED = "friend_request_received", "Someone sends you a friend request"
    FRIEND_REQUEST_ACCEPTED = "friend_request_accepted", "Someone accepts your friend request"
    WALL_POST = "wall_post", "Someone posts on your wall"
    POST_COMMENTED = "post_commented", "Someone comments on your post or a post on your wall"
    THREAD_COMMENTED = "thread_commented", "Someone else comments on a post you commented on"
    POST_LIKED = "post_liked", "Someone likes your post"
    COMMENT_LIKED = "comment_liked", "Someone likes your comment"


# Likes and comments on one target collapse into one notification naming its latest actors.
GROUPED_TYPES = frozenset(
    {
        NotificationType.POST_COMMENTED,
        NotificationType.THREAD_COMMENTED,
        NotificationType.POST_LIKED,
        NotificationType.COMMENT_LIKED,
    }
)


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, viewer) -> "NotificationQuerySet":
        """The viewer's own notifications whose target the viewer may still see, each
        annotated with `actor_count`: its actors less anyone blocked either way or gone.
        A notification left with no such actor is not shown at all."""
        blocked = Block.objects.ids_blocked_with(viewer.pk)
        actors = NotificationActor.objects.filter(
            notification=OuterRef("pk"), actor__is_active=True
        ).exclude(actor_id__in=blocked)
        actor_count = (
            actors.order_by().values("notification").annotate(n=Count("pk")).values("n")[:1]
        )
        return (
            self.filter(recipient_id=viewer.pk)
            .filter(Q(post__isnull=True) | Q(post__in=Post.objects.visible_to(viewer).values("pk")))
            .filter(Exists(actors))
            .annotate(
                actor_count=Coalesce(Subquery(actor_count, output_field=IntegerField()), Value(0))
            )
        )

    def unread(self) -> "NotificationQuerySet":
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """What happened to a bunny. Grouped types keep one row per target (`group_key`), bumped
    to the top and marked unread when another bunny joins; ungrouped types key on the actor
    as well, so they never merge across bunnies.

    The target is a foreign key with CASCADE, so a deleted post, comment or answered friend
    request takes its notifications with it."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    type = models.CharField(max_length=32, choices=NotificationType.choices)
    group_key = models.CharField(max_length=64)
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    friend_request = models.ForeignKey(
        FriendRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The time of the latest activity: a new actor moves the notification to the top.
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "type", "group_key"], name="notification_group_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]

    def __str__(self):
        return f"{self.type} → {self.recipient_id} ({self.group_key})"

    @property
    def read(self) -> bool:
        return self.read_at is not None


class NotificationActor(models.Model):
    """A bunny who contributed to a notification, with the time of their latest action."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="actor_links"
    )
    actor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    acted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "actor"], name="notification_actor_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["notification", "-acted_at", "-id"], name="notification_actor_latest"
            )
        ]

    def __str__(self):
        return f"{self.actor_id} in {self.notification_id}"


class MutedNotificationType(models.Model):
    """A type of notification a bunny chose not to get: none of it is created for them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=32, choices=NotificationType.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "type"], name="muted_notification_type_unique")
        ]

    def __str__(self):
        return f"{self.user_id} mutes {self.type}"
