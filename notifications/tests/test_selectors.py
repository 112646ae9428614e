"""The notification reads written out in SQL against the ORM rule they restate
(`Notification.objects.visible_to`), over every kind of target, actor and relation."""

import itertools

import pytest
from django.utils import timezone

from conftest import make_bunny
from notifications import selectors
from notifications.models import Notification, NotificationActor, NotificationType
from social.models import Block, Post, Visibility
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


def test_the_unread_count_is_exactly_the_unread_notifications_shown():
    """ann is friends with bob and cid; ann blocked eve, fay blocked ann; gus left. Each
    bunny gets an unread notification about every post, naming each possible actor, and
    read and post-less ones beside them."""
    names = ["ann", "bob", "cid", "dot", "eve", "fay", "gus"]
    bunnies = [make_bunny(name) for name in names]
    ann, bob, cid, _, eve, fay, gus = bunnies
    make_friends(ann, bob)
    make_friends(ann, cid)
    Block.objects.create(blocker=ann, blocked=eve)
    Block.objects.create(blocker=fay, blocked=ann)
    gus.is_active = False
    gus.save()
    posts = [
        Post.objects.create(author=author, wall=wall, body="hi", visibility=visibility)
        for author, wall, visibility in itertools.product(bunnies[:4], bunnies, Visibility.values)
    ]
    targets = [*posts, None, None]
    for number, (recipient, post) in enumerate(itertools.product(bunnies, targets)):
        notification = Notification.objects.create(
            recipient=recipient,
            type=NotificationType.POST_LIKED if post else NotificationType.FRIEND_REQUEST_RECEIVED,
            group_key=f"n{number}",
            post=post,
            read_at=timezone.now() if number % 5 == 0 else None,
        )
        actors = [bunnies[number % len(bunnies)], bunnies[(number * 3 + 1) % len(bunnies)]]
        for actor in {actor.pk: actor for actor in actors}.values():
            NotificationActor.objects.create(notification=notification, actor=actor)

    counts = set()
    for viewer in bunnies:
        expected = Notification.objects.visible_to(viewer).unread().count()
        assert selectors.unread_count_for(viewer) == expected, viewer.username
        counts.add(expected)
    assert len(counts) > 1
    unread = Notification.objects.filter(recipient=ann, read_at__isnull=True).count()
    assert 0 < selectors.unread_count_for(ann) < unread
