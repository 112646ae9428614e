"""Test helpers: reading a bunny's notifications the way every surface does (through the
selectors), building many of them, and racing writers in separate connections."""

import threading

from django.db import connection

from conftest import make_bunny
from notifications import selectors
from notifications.serializers import serialize_notifications
from social import services


def inbox(user, **filters) -> list[dict]:
    """The bunny's visible notifications as API JSON, newest first."""
    page = selectors.notifications_for(user, size=100, **filters)
    return serialize_notifications(user, page.items)


def kinds(user) -> list[str]:
    return [item["type"] for item in inbox(user)]


def only(user) -> dict:
    items = inbox(user)
    assert len(items) == 1, items
    return items[0]


def race(*actions):
    """Run each action in its own thread and database connection, released together."""
    start = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        start.wait()
        try:
            outcomes[index] = action()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def liked_posts(author, count: int) -> None:
    """`count` notifications for `author`, each a group of two likers."""
    fans = [make_bunny(f"fan{index}") for index in range(2)]
    for index in range(count):
        post = services.create_post(author=author, body=f"Post {index}", visibility="public")
        for fan in fans:
            services.like_post(post=post, user=fan)
