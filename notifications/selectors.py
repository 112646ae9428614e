"""Notification reads shared by pages, the API and live events. Every read restates
`Notification.objects.visible_to(viewer)`, so nothing links to what the viewer may not see."""

import functools
from collections.abc import Iterable

from django.http import Http404

from accounts.models import User
from bunnybook import rows
from bunnybook.pagination import Page, decode_cursor, page_of
from notifications.models import MutedNotificationType, Notification
from social.models import BLOCKED_IDS_SQL, Comment, Post, Visibility, named
from social.selectors import visible_post_sql

PAGE_SIZE = 20
DROPDOWN_SIZE = 5
# "Ann, Bob and Cid" or "Ann, Bob and 3 others": at most three names per notification.
ACTORS_SHOWN = 3


# Every read of notifications is written out: the ORM spent ~4 ms of CPU building the rule
# (Notification.objects.visible_to) for each, read by every notification page, menu and
# live notification, and by the badge of every page with one unread. The statements
# restate the rule; test_selectors pins the two together.

# A page's latest actors, ranked per notification (the ORM's window cost ~2.3 ms of CPU).
_LATEST_ACTORS_SQL = """
    SELECT ranked.notification_id, {user}
    FROM (
        SELECT na.notification_id, na.actor_id, ROW_NUMBER() OVER (
            PARTITION BY na.notification_id ORDER BY na.acted_at DESC, na.id DESC
        ) AS position
        FROM notifications_notificationactor na
        JOIN accounts_user actor ON actor.id = na.actor_id
        WHERE na.notification_id IN ({ids}) AND actor.is_active
          AND na.actor_id NOT IN ({blocked})
    ) ranked
    JOIN accounts_user u ON u.id = ranked.actor_id
    WHERE ranked.position <= %(shown)s
    ORDER BY ranked.notification_id, ranked.position
"""


def attach_latest_actors(viewer: User, notifications: Iterable[Notification]) -> None:
    """Give each notification `latest_actors` (newest first, at most ACTORS_SHOWN, never
    anyone blocked with the viewer or gone), in one query for the whole page."""
    notifications = list(notifications)
    by_id: dict[int, list[User]] = {notification.pk: [] for notification in notifications}
    if by_id:
        params = {f"n{index}": pk for index, pk in enumerate(by_id)}
        sql = _LATEST_ACTORS_SQL.format(
            user=rows.columns(User, "u"),
            ids=", ".join(f"%({name})s" for name in params),
            blocked=named(BLOCKED_IDS_SQL, "viewer"),
        )
        params |= {"viewer": viewer.pk, "shown": ACTORS_SHOWN}
        with rows.cursor() as db:
            db.execute(sql, params)
            fetched = db.fetchall()
        bunnies = {}
        for notification_id, *actor in fetched:
            by_id[notification_id].append(rows.build_shared(User, actor, bunnies))
    for notification in notifications:
        notification.latest_actors = by_id[notification.pk]


# A notification's actors still here and not blocked either way with the viewer.
_ACTORS_SHOWN_SQL = """
    SELECT COUNT(*) FROM notifications_notificationactor na
    JOIN accounts_user u ON u.id = na.actor_id
    WHERE na.notification_id = n.id AND u.is_active AND na.actor_id NOT IN ({blocked})
"""
_UNREAD_ONLY = "AND n.read_at IS NULL"
_AFTER_CURSOR = "AND (n.created_at < %(at)s OR (n.created_at = %(at)s AND n.id < %(pk)s))"
_THIS_ONE = "AND n.id = %(notification)s"


@functools.cache
def _shown_sql() -> tuple[str, str]:
    """The count of a notification's actors shown, and the condition that it is shown: the
    viewer's, about no post or one she may see, with an actor shown."""
    actors = _ACTORS_SHOWN_SQL.format(blocked=named(BLOCKED_IDS_SQL, "viewer"))
    shown = (
        f"n.recipient_id = %(viewer)s AND (n.post_id IS NULL OR ({visible_post_sql()}))"
        f" AND ({actors}) > 0"
    )
    return actors, shown


@functools.cache
def _notifications_sql(conditions: tuple[str, ...]) -> str:
    actors, shown = _shown_sql()
    return f"""
        SELECT {rows.columns(Notification, "n")}, {rows.columns(Post, "p")},
            {rows.columns(User, "a")}, {rows.columns(Comment, "c")}, ({actors}) AS actor_count
        FROM notifications_notification n
        LEFT JOIN social_post p ON p.id = n.post_id
        LEFT JOIN accounts_user a ON a.id = p.author_id
        LEFT JOIN social_comment c ON c.id = n.comment_id
        WHERE {shown} {" ".join(conditions)}
        ORDER BY n.created_at DESC, n.id DESC
        LIMIT %(limit)s
    """  # noqa: S608 - joined from constants; values are parameters


@functools.cache
def _unread_count_sql() -> str:
    _, shown = _shown_sql()
    return f"""
        SELECT COUNT(*) FROM notifications_notification n
        LEFT JOIN social_post p ON p.id = n.post_id
        WHERE {shown} {_UNREAD_ONLY}
    """  # noqa: S608 - joined from constants; values are parameters


def _read(viewer: User, conditions: tuple[str, ...], limit: int, **params) -> list[Notification]:
    """The viewer's shown notifications meeting `conditions`, newest first, each with its
    post (and the post's author), its comment and `actor_count`."""
    params |= {"viewer": viewer.pk, "public": Visibility.PUBLIC, "limit": limit}
    with rows.cursor() as db:
        db.execute(_notifications_sql(conditions), params)
        fetched = db.fetchall()
    notifications = []
    for *row, actor_count in fetched:
        notification, post, author, comment = rows.split(row, (Notification, Post, User, Comment))
        notification = rows.build(Notification, notification)
        notification.actor_count = actor_count
        post = rows.build_or_none(Post, post)
        if post is not None:
            Post.author.field.set_cached_value(post, rows.build(User, author))
        Notification.post.field.set_cached_value(notification, post)
        Notification.comment.field.set_cached_value(
            notification, rows.build_or_none(Comment, comment)
        )
        notifications.append(notification)
    return notifications


def notifications_for(
    viewer: User, *, unread_only: bool = False, cursor: str | None = None, size: int = PAGE_SIZE
) -> Page:
    """A page of the viewer's notifications, newest activity first."""
    conditions, params = [], {}
    if unread_only:
        conditions.append(_UNREAD_ONLY)
    if cursor:
        params["at"], params["pk"] = decode_cursor(
            cursor, Notification._meta.get_field("created_at")
        )
        conditions.append(_AFTER_CURSOR)
    page = page_of(_read(viewer, tuple(conditions), size + 1, **params), size=size)
    attach_latest_actors(viewer, page.items)
    return page


def latest_notifications_for(viewer: User, *, size: int = DROPDOWN_SIZE) -> list[Notification]:
    return notifications_for(viewer, size=size).items


def get_notification_for(viewer: User, notification_id: int) -> Notification:
    """The viewer's own notification, if its target is still visible; else 404."""
    if not 0 < notification_id < 2**63:
        raise Http404
    found = _read(viewer, (_THIS_ONE,), 1, notification=notification_id)
    if not found:
        raise Http404
    attach_latest_actors(viewer, found)
    return found[0]


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


def unread_count_for(viewer: User) -> int:
    """How many of the viewer's notifications are unread and shown (visible_to)."""
    with rows.cursor() as cursor:
        cursor.execute(_unread_count_sql(), {"viewer": viewer.pk, "public": Visibility.PUBLIC})
        return cursor.fetchone()[0]


def muted_types_for(user: User) -> set[str]:
    return set(MutedNotificationType.objects.filter(user=user).values_list("type", flat=True))
