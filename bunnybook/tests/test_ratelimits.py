"""Rate limits on every surface that writes: 429 with Retry-After (a friendly page for pages,
JSON for the API), counted per bunny, or per address before log-in; failed log-ins slow a
guesser without locking the owner out; a dead cache lets everything through."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import PASSWORD, bearer_client, make_bunny
from social import services
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db

POST_FORM = {"body": "Hop", "visibility": "friends"}
# Windows are fixed (counted from the epoch): an hour long, one never rolls over mid-test,
# where a minute did at the turn of one (the third call landed in a fresh window).
WINDOW = 3600


@pytest.fixture
def tight(settings):
    """Every limit lowered to 2 a window, so a test crosses it in three calls."""
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, (2, WINDOW))
    return settings


def assert_throttled_json(response):
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= WINDOW
    assert response.json()["detail"]


def page_client(user, address="127.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=address)
    client.force_login(user)
    return client


# --- API ----------------------------------------------------------------------------------


@pytest.fixture
def ann_and_bob(ann, bob):
    make_friends(ann, bob)
    return ann, bob


def _api_writes(ann, bob):
    """(name, call) for each limited API write, each call doing one fresh action."""
    post = services.create_post(author=bob, body="Clover season")
    comment = services.add_comment(post=post, author=bob, body="Yes!")
    strangers = iter(make_bunny(f"stranger{n}") for n in range(3))
    return {
        "post": lambda api: api.post(reverse("api-posts"), {"body": "Hop"}, format="json"),
        "comment": lambda api: api.post(
            reverse("api-post-comments", args=[post.pk]), {"body": "Hop"}, format="json"
        ),
        "post like": lambda api: api.post(reverse("api-post-like", args=[post.pk])),
        "comment like": lambda api: api.delete(reverse("api-comment-like", args=[comment.pk])),
        "friend request": lambda api: api.post(
            reverse("api-friend-requests"), {"to": next(strangers).username}, format="json"
        ),
    }


@pytest.mark.parametrize(
    "write", ["post", "comment", "post like", "comment like", "friend request"]
)
def test_api_writes_past_the_limit_answer_429_with_retry_after(tight, ann_and_bob, write):
    ann, bob = ann_and_bob
    call = _api_writes(ann, bob)[write]
    ann_api = bearer_client(ann)

    assert [call(ann_api).status_code < 300 for _ in range(2)] == [True, True]
    assert_throttled_json(call(ann_api))


def test_api_limits_count_per_bunny_not_per_address(tight, ann_and_bob):
    ann, bob = ann_and_bob
    ann_api, bob_api = bearer_client(ann), bearer_client(bob)
    for _ in range(2):
        ann_api.post(reverse("api-posts"), {"body": "Hop"}, format="json")

    assert ann_api.post(reverse("api-posts"), {"body": "Hop"}, format="json").status_code == 429
    assert bob_api.post(reverse("api-posts"), {"body": "Hop"}, format="json").status_code == 201


def test_reading_is_never_rate_limited(tight, ann):
    ann_api = bearer_client(ann)
    assert {ann_api.get(reverse("api-feed")).status_code for _ in range(5)} == {200}


def test_signup_is_limited_per_address(tight, api):
    def signup(name):
        payload = {"username": name, "email": f"{name}@bunnies.test", "password": PASSWORD}
        return api.post(reverse("api-signup"), payload, format="json")

    assert [signup(n).status_code for n in ("hazel", "fiver")] == [201, 201]
    assert_throttled_json(signup("bigwig"))


def test_token_refresh_is_limited_per_address(tight, api, ann):
    tokens = api.post(
        reverse("api-token"), {"username": "ann", "password": PASSWORD}, format="json"
    ).json()
    for _ in range(2):
        tokens = api.post(
            reverse("api-token-refresh"), {"refresh": tokens["refresh"]}, format="json"
        ).json()

    assert_throttled_json(
        api.post(reverse("api-token-refresh"), {"refresh": tokens["refresh"]}, format="json")
    )


# --- Pages --------------------------------------------------------------------------------


def test_a_page_past_the_limit_shows_the_friendly_429_page(tight, ann):
    client = page_client(ann)
    for _ in range(2):
        assert client.post(reverse("post-create"), POST_FORM).status_code == 302

    response = client.post(reverse("post-create"), POST_FORM)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= WINDOW
    assert b"Hop a little slower" in response.content
    assert b"try again in" in response.content
    assert client.get(reverse("post-create")).status_code == 200  # reading still works


def test_an_htmx_like_past_the_limit_is_429_too(tight, ann_and_bob):
    ann, bob = ann_and_bob
    post = services.create_post(author=bob, body="Clover")
    client = page_client(ann)
    url = reverse("post-like", args=[post.pk])
    assert [client.post(url, HTTP_HX_REQUEST="true").status_code for _ in range(2)] == [200, 200]

    response = client.post(url, HTTP_HX_REQUEST="true")

    assert response.status_code == 429
    assert response["Retry-After"]


def test_page_signup_is_limited_per_address(tight):
    client = Client(REMOTE_ADDR="10.1.1.1")
    other_address = Client(REMOTE_ADDR="10.1.1.2")
    form = {"username": "x", "email": "bad", "password": "p"}  # invalid tries count too
    assert [client.post(reverse("signup"), form).status_code for _ in range(2)] == [200, 200]

    assert client.post(reverse("signup"), form).status_code == 429
    assert other_address.post(reverse("signup"), form).status_code == 200


# --- Log-ins --------------------------------------------------------------------------------


def log_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_failed_logins_slow_the_guesser_but_not_the_owner_elsewhere(settings, ann):
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "login_account_address": (3, WINDOW),
        "login_address": (10, WINDOW),
        "login_account": (50, WINDOW),
    }
    guesser, owner = Client(REMOTE_ADDR="10.6.6.6"), Client(REMOTE_ADDR="10.0.0.7")
    assert [log_in(guesser, "ann", f"guess{n}").status_code for n in range(3)] == [200] * 3

    blocked = log_in(guesser, "ann", PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429
    assert b"Too many failed log-ins" in blocked.content
    assert 1 <= int(blocked["Retry-After"]) <= WINDOW
    assert "_auth_user_id" not in guesser.session

    assert log_in(owner, "ann", PASSWORD).status_code == 302  # the owner, from her address


def test_one_address_guessing_many_accounts_is_slowed(settings, ann, bob, cid):
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "login_account_address": (5, WINDOW),
        "login_address": (3, WINDOW),
    }
    guesser = Client(REMOTE_ADDR="10.6.6.6")
    for name in ("ann", "bob", "cid"):
        assert log_in(guesser, name, "wrong").status_code == 200

    assert log_in(guesser, "dan", "wrong").status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.0.0.8"), "dan", "wrong").status_code == 200


def test_a_successful_login_forgets_the_owners_own_typos(settings, ann):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account_address": (3, WINDOW)}
    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(2):
        log_in(client, "ann", "typo")
    assert log_in(client, "ann", PASSWORD).status_code == 302
    client.logout()

    for _ in range(2):
        assert log_in(client, "ann", "typo").status_code == 200
    assert log_in(client, "ann", PASSWORD).status_code == 302


def test_the_token_endpoint_counts_failures_like_the_login_page(settings, api, ann):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account_address": (2, WINDOW)}

    def token(password, client=api):
        payload = {"username": "ANN", "password": password}
        return client.post(reverse("api-token"), payload, format="json")

    assert [token("wrong").status_code for _ in range(2)] == [401, 401]
    assert_throttled_json(token(PASSWORD))
    assert token(PASSWORD, client=APIClient(REMOTE_ADDR="10.0.0.9")).status_code == 200


# --- A dead cache ---------------------------------------------------------------------------


def test_with_the_cache_down_limits_let_everything_through(tight, ann, caplog):
    """No Redis answers on port 9 (discard): the site must keep working, unlimited."""
    tight.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "IGNORE_EXCEPTIONS": True},
        }
    }
    client = page_client(ann)

    statuses = [client.post(reverse("post-create"), POST_FORM).status_code for _ in range(4)]
    failed_logins = [log_in(Client(), "ann", "wrong").status_code for _ in range(4)]

    assert statuses == [302] * 4
    assert failed_logins == [200] * 4
    assert log_in(Client(), "ann", PASSWORD).status_code == 302
    assert "Exception ignored" in caplog.text  # the outage is logged, not hidden


def test_the_admin_login_is_throttled_too(settings, ann):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account_address": (2, WINDOW)}
    guesser = Client(REMOTE_ADDR="10.6.6.6")
    url = reverse("admin:login")
    for _ in range(2):
        assert guesser.post(url, {"username": "ann", "password": "wrong"}).status_code == 200

    assert guesser.post(url, {"username": "ann", "password": "wrong"}).status_code == 429
