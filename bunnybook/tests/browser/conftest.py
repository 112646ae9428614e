"""The site as a person uses it: one real daphne per test session, serving the test database
over loopback with the real Redis and Neo4j, and Debian's Chromium driven by Playwright.

Bunnies made by the tests log in by cookie: the test process creates a session row
(`Client.force_login`) and hands its id to the browser context, so the child server never
has to check a password hashed with the test suite's fast hasher. Signing up and logging in
through the forms is proven in test_accounts.py, with the child's real hasher.
"""

import os
import random
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from playwright.sync_api import sync_playwright

from bunnybook.tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Browsers,
    screenshot_name,
)
from chat import services as chat_services
from chat.tests.conftest import befriend
from chat.tests.servers import Daphne
from conftest import make_bunny
from social import services
from social.tests.factories import make_friends


def _far_away_user_ids() -> None:
    """Neo4j is shared by every test run on this machine; ids from a random offset beyond
    10^12 keep this run's bunnies apart from any other run's graph nodes."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)",
            [10**12 + random.randrange(10**11)],
        )


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker):
    """daphne in a child process on the test database (pytest-django has renamed
    `connection.settings_dict["NAME"]` by now) with this process's Redis and Neo4j.
    Session-wide: transactional tests empty the tables between tests, and the child keeps
    no database connection open between requests (CONN_MAX_AGE 0)."""
    if settings.REDIS_URL:  # STACK-NOTES pitfall 9: no stale groups from earlier runs
        server = redis.Redis.from_url(settings.REDIS_URL)
        for key in server.scan_iter("asgi*"):
            server.delete(key)
    with django_db_blocker.unblock():
        _far_away_user_ids()
        daphne = Daphne(DB_CONN_MAX_AGE=0).start()
    yield daphne
    daphne.stop()


def pytest_collection_modifyitems(items):
    """These tests run last, after every other test (other apps' browser tests included),
    so the one Chromium below can live until the session ends without its event loop
    sitting under any other test."""
    here = Path(__file__).parent
    items.sort(key=lambda item: here in item.path.parents)


@pytest.fixture(scope="session")
def browser(daphne_server):
    """One Chromium for the whole run (launching one costs about a second). Playwright's
    sync API keeps an event loop running in this thread while it lives, and the ORM refuses
    to work in such a thread (STACK-NOTES pitfall 7): the escape hatch is set only while
    Playwright runs, which is after every other test (see above)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make chromium` (make test does it)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(autouse=True)
def _fresh_live_state(daphne_server):
    """Presence, typing throttles, rate limits and cached suggestions start empty."""
    cache.clear()
    if settings.CACHE_URL:
        server = redis.Redis.from_url(settings.CACHE_URL)
        for key in server.scan_iter("presence:*"):
            server.delete(key)


@pytest.fixture
def bunnies(browser, daphne_server, request):
    name = screenshot_name(request.node.name)
    opened = Browsers(browser=browser, server=daphne_server, name=name)
    yield opened
    opened.close()


@pytest.fixture
def lived_in(ann, bob):
    """Pages with something on them: friends, a request, posts, comments, a chat. Returns
    the main pages a member visits, as paths."""
    befriend(ann, bob)
    cid = make_bunny("cid")
    make_friends(bob, cid)
    services.send_friend_request(sender=cid, to=ann)
    post = services.create_post(author=bob, body="Clover <em>season</em> is here")
    services.add_comment(post=post, author=ann, body="Finally!")
    services.like_post(post=post, user=ann)
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)
    chat_services.send_message(
        sender=bob,
        conversation_id=conversation.pk,
        body="See you at the burrow",
        client_id="00000000-0000-4000-8000-000000000001",
    )
    return [
        "/",
        "/u/bob/",
        "/friends/",
        "/search/?q=bo",
        f"/posts/{post.pk}/",
        "/chat/",
        f"/chat/{conversation.pk}/",
        "/notifications/",
        "/settings/",
    ]
