"""Notification reads shared by pages, the API and live events. Every list goes through
`Notification.objects.visible_to(viewer)`, so nothing links to what the viewer may not see."""

import functools
from collections.abc import Iterable

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from accounts.models import User
from bunnybook import rows
from bunnybook.pagination import Page, paginate
from notifications.models import MutedNotificationType, Notification, NotificationActor
from social.models import BLOCKED_IDS_SQL, Block, Visibility, named
from social.selectors import visible_post_sql

PAGE_SIZE = 20
DROPDOWN_SIZE = 5
# "Ann, Bob and Cid" or "Ann, Bob and 3 others": at most three names per notification.
ACTORS_SHOWN = 3


def _rows(viewer: User) -> QuerySet[Notification]:
    return Notification.objects.visible_to(viewer).select_related("post", "post__author", "comment")


def attach_latest_actors(viewer: User, notifications: Iterable[Notification]) -> None:
    """Give each notification `latest_actors` (newest first, at most ACTORS_SHOWN, never
    anyone blocked with the viewer), in one query for the whole page."""
    notifications = list(notifications)
    by_id: dict[int, list[User]] = {notification.pk: [] for notification in notifications}
    if by_id:
        ranked = (
            NotificationActor.objects.filter(notification_id__in=by_id, actor__is_active=True)
            .exclude(actor_id__in=Block.objects.ids_blocked_with(viewer.pk))
            .select_related("actor")
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=F("notification_id"),
                    order_by=[F("acted_at").desc(), F("id").desc()],
                )
            )
            .filter(rank__lte=ACTORS_SHOWN)
            .order_by("notification_id", "rank")
        )
        for link in ranked:
            by_id[link.notification_id].append(link.actor)
    for notification in notifications:
        notification.latest_actors = by_id[notification.pk]


def notifications_for(
    viewer: User, *, unread_only: bool = False, cursor: str | None = None, size: int = PAGE_SIZE
) -> Page:
    """A page of the viewer's notifications, newest activity first."""
    rows = _rows(viewer)
    if unread_only:
        rows = rows.unread()
    page = paginate(rows, cursor=cursor, size=size)
    attach_latest_actors(viewer, page.items)
    return page


def latest_notifications_for(viewer: User, *, size: int = DROPDOWN_SIZE) -> list[Notification]:
    return notifications_for(viewer, size=size).items


def get_notification_for(viewer: User, notification_id: int) -> Notification:
    """The viewer's own notification, if its target is still visible; else 404."""
    notification = _rows(viewer).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    attach_latest_actors(viewer, [notification])
    return notification


# Written out: every page asks, and the ORM spent 0.7 ms of CPU building it.
_ANY_UNREAD_SQL = (
    "SELECT 1 FROM notifications_notification WHERE recipient_id = %s AND read_at IS NULL LIMIT 1"
)


def has_unread(viewer: User) -> bool:
    """Whether any notification of the viewer's is unread, visible or not: one look at the
    partial unread index, without building the visibility query (~10 ms of ORM work)."""
    with rows.cursor() as cursor:
        cursor.execute(_ANY_UNREAD_SQL, [viewer.pk])
        return cursor.fetchone() is not None


# Written out: the badge of every page asks when any notification is unread, and so does
# every live notification; the ORM spent ~4 ms of CPU building the visibility rule. The
# conditions restate Notification.objects.visible_to; test_selectors pins the two together.
@functools.cache
def _unread_count_sql() -> str:
    return f"""
        SELECT COUNT(*) FROM notifications_notification n
        LEFT JOIN social_post p ON p.id = n.post_id
        WHERE n.recipient_id = %(viewer)s AND n.read_at IS NULL
          AND (n.post_id IS NULL OR ({visible_post_sql()}))
          AND EXISTS (
              SELECT 1 FROM notifications_notificationactor na
              JOIN accounts_user u ON u.id = na.actor_id
              WHERE na.notification_id = n.id AND u.is_active
                AND na.actor_id NOT IN ({named(BLOCKED_IDS_SQL, "viewer")})
          )
    """  # noqa: S608 - joined from constants; values are parameters


def unread_count_for(viewer: User) -> int:
    """How many of the viewer's notifications are unread and shown (visible_to)."""
    with rows.cursor() as cursor:
        cursor.execute(_unread_count_sql(), {"viewer": viewer.pk, "public": Visibility.PUBLIC})
        return cursor.fetchone()[0]


def muted_types_for(user: User) -> set[str]:
    return set(MutedNotificationType.objects.filter(user=user).values_list("type", flat=True))
