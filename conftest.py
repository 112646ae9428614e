"""Fixtures shared by every app's tests: personas and API clients."""

import threading

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

PASSWORD = "carrots-and-clover-42"


@pytest.fixture(autouse=True)
def _fast_hashing_and_private_media(settings, tmp_path):
    # Django's default hasher costs ~0.6 s a hash here; tests hash thousands of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters outlive a test in the cache, and every test client calls from
    127.0.0.1: each test starts with none counted."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):  # django-redis
        cache.delete_pattern("rl:*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _close_async_thread_connections(django_db_blocker):
    """asgiref's single worker thread keeps its own database connection, which pytest-django
    never closes; a later test could then trip over it (django/channels#2118)."""
    yield
    from asgiref.sync import async_to_sync, sync_to_async
    from django.db import connections

    def close_all():
        with django_db_blocker.unblock():
            async_to_sync(sync_to_async(connections.close_all))()

    helper = threading.Thread(target=close_all)
    helper.start()
    helper.join()


def every_page(read) -> list:
    """Every item of a cursor-paged read, `read(cursor) -> Page`, following its cursors."""
    items, cursor = [], None
    while True:
        page = read(cursor)
        items += page.items
        if not (cursor := page.next_cursor):
            return items


def make_bunny(username: str, **extra):
    from accounts.models import User

    extra.setdefault("display_name", username.capitalize())
    extra.setdefault("avatar_seed", sum(map(ord, username)))
    user = User(username=username, email=f"{username}@bunnies.test", **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def ann(db):
    return make_bunny("ann")


@pytest.fixture
def bob(db):
    return make_bunny("bob")


@pytest.fixture
def cid(db):
    return make_bunny("cid")


@pytest.fixture
def api():
    return APIClient()


def bearer_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def ann_api(ann):
    return bearer_client(ann)


@pytest.fixture
def bob_api(bob):
    return bearer_client(bob)
