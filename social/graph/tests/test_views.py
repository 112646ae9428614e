"""The suggestions panel, its htmx actions and the JSON API."""

import contextlib

import pytest
from django.core.cache import cache
from django.urls import reverse

from conftest import bearer_client, make_bunny
from social.graph.models import SuggestionDismissal
from social.graph.tests.conftest import FEED_WITH_PANEL_QUERY_BOUND
from social.models import FriendRequest
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _sql_store_and_empty_cache(settings):
    """These tests are about hydration, caching and pages, not the store: they use the SQL
    store, which needs no outbox drain (test_stores.py proves Neo4j answers the same)."""
    settings.NEO4J_URI = ""
    cache.clear()
    yield
    with contextlib.suppress(Exception):  # a test may have pointed the cache at a dead server
        cache.clear()


@pytest.fixture
def circle(ann, bob, cid):
    """ann — bob, cid; dan is friends with bob and cid."""
    dan = make_bunny("dan")
    make_friends(ann, bob)
    make_friends(ann, cid)
    make_friends(bob, dan)
    make_friends(cid, dan)
    return dan


# --- Pages -----------------------------------------------------------------------------------


def test_the_panel_lists_suggestions_with_why(client, ann, circle):
    client.force_login(ann)

    response = client.get(reverse("suggestions-panel"), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Bunnies you may know" in html
    assert f'id="suggestion-{circle.pk}"' in html
    assert "2 mutual friends: Bob and Cid" in html
    assert reverse("suggestion-add", args=["dan"]) in html
    assert reverse("profile", args=["dan"]) in html


def test_a_bunny_without_friends_sees_a_labelled_new_bunnies_list(client, ann, bob):
    client.force_login(ann)

    html = client.get(reverse("suggestions-panel")).content.decode()

    assert "New bunnies" in html
    assert "Bunnies you may know" not in html
    assert f'id="suggestion-{bob.pk}"' in html


def test_adding_from_a_suggestion_sends_a_request_and_removes_the_card(client, ann, circle):
    client.force_login(ann)

    response = client.post(reverse("suggestion-add", args=["dan"]), **HTMX)

    assert response.status_code == 200
    assert response.content == b""  # htmx swaps the card for nothing
    assert FriendRequest.objects.filter(from_user=ann, to_user=circle).exists()
    html = client.get(reverse("suggestions-panel"), **HTMX).content.decode()
    assert f'id="suggestion-{circle.pk}"' not in html


def test_adding_without_htmx_redirects_to_the_feed(client, ann, circle):
    client.force_login(ann)

    response = client.post(reverse("suggestion-add", args=["dan"]))

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert FriendRequest.objects.filter(from_user=ann, to_user=circle).exists()


def test_adding_twice_still_removes_the_card(client, ann, circle):
    client.force_login(ann)
    client.post(reverse("suggestion-add", args=["dan"]), **HTMX)

    response = client.post(reverse("suggestion-add", args=["dan"]), **HTMX)

    assert response.status_code == 200
    assert FriendRequest.objects.count() == 1


def test_not_now_dismisses_the_suggestion(client, ann, circle):
    client.force_login(ann)

    response = client.post(reverse("suggestion-dismiss", args=["dan"]), **HTMX)

    assert (response.status_code, response.content) == (200, b"")
    assert SuggestionDismissal.objects.filter(user=ann, dismissed=circle).exists()
    html = client.get(reverse("suggestions-panel"), **HTMX).content.decode()
    assert f'id="suggestion-{circle.pk}"' not in html


def test_the_actions_need_a_post_and_a_login(client, ann, circle):
    assert client.post(reverse("suggestion-add", args=["dan"])).status_code == 302
    client.force_login(ann)
    assert client.get(reverse("suggestion-add", args=["dan"])).status_code == 405
    assert client.post(reverse("suggestion-dismiss", args=["nobody"])).status_code == 404


# --- The panel on the feed page ----------------------------------------------------------------


def test_the_feed_side_column_shows_the_panel_with_in_place_actions(client, ann, circle):
    client.force_login(ann)

    html = client.get(reverse("home")).content.decode()

    side = html[html.index('<aside class="side"') : html.index("</aside>")]
    assert "Bunnies you may know" in side
    assert "2 mutual friends: Bob and Cid" in side
    card = f"#suggestion-{circle.pk}"
    for action in ("suggestion-add", "suggestion-dismiss"):
        url = reverse(action, args=["dan"])
        assert f'hx-post="{url}"\n                  hx-target="{card}" hx-swap="outerHTML"' in side


def test_a_bunny_without_friends_sees_new_bunnies_on_the_feed(client, ann, bob):
    client.force_login(ann)

    html = client.get(reverse("home")).content.decode()

    assert "New bunnies" in html
    assert "No friends of friends to suggest yet" in html
    assert f'id="suggestion-{bob.pk}"' in html
    assert "New on Bunnybook" in html


def test_the_feed_infinite_scroll_pages_leave_the_panel_out(client, ann, circle):
    client.force_login(ann)

    html = client.get(reverse("home"), **HTMX).content.decode()

    assert 'id="suggestions"' not in html


@pytest.mark.parametrize("suggested", [0, 1, 5])
def test_the_feed_with_its_panel_costs_the_same_queries_for_any_number_of_suggestions(
    client, ann, bob, django_assert_max_num_queries, suggested
):
    make_friends(ann, bob)
    make_bunny("newcomer")  # the fallback when there is nobody to suggest
    for n in range(suggested):
        make_friends(bob, make_bunny(f"friend{n}"))
    client.force_login(ann)

    with django_assert_max_num_queries(FEED_WITH_PANEL_QUERY_BOUND):
        html = client.get(reverse("home")).content.decode()

    assert html.count('class="suggestion"') == (suggested or 1)
    assert html.count("1 mutual friend: Bob") == suggested
    assert ("New on Bunnybook" in html) == (not suggested)


# --- API -------------------------------------------------------------------------------------


def test_api_lists_suggestions_with_profile_count_and_sample(ann_api, circle):
    response = ann_api.get("/api/suggestions/?limit=10")

    assert response.status_code == 200
    assert response.json()["next"] is None
    (item,) = response.json()["results"]
    assert item["profile"]["username"] == "dan"
    assert item["profile"]["friendship"] == "none"
    assert item["mutual_count"] == 2
    assert item["mutual_sample"] == ["bob", "cid"]
    assert item["reason"] == "mutual_friends"


def test_api_never_suggests_a_bunny_with_a_pending_request(ann_api, ann, circle):
    bearer_client(circle).post("/api/friend-requests/", {"to": "ann"}, format="json")

    results = ann_api.get("/api/suggestions/").json()["results"]

    assert [item["profile"]["username"] for item in results] != ["dan"]
    assert all(item["reason"] == "new_bunny" for item in results)


@pytest.mark.parametrize("limit", ["0", "51", "ten", "-1"])
def test_api_rejects_a_bad_limit(ann_api, limit):
    response = ann_api.get(f"/api/suggestions/?limit={limit}")

    assert response.status_code == 400
    assert "limit" in response.json()


def test_api_dismisses_a_suggestion(ann_api, ann, circle):
    assert ann_api.post("/api/suggestions/dan/dismiss/").status_code == 204

    results = ann_api.get("/api/suggestions/").json()["results"]
    assert "dan" not in [item["profile"]["username"] for item in results]
    assert ann_api.post("/api/suggestions/nobody/dismiss/").status_code == 404
    assert ann_api.post("/api/suggestions/ann/dismiss/").status_code == 400


def test_api_needs_a_token(api):
    assert api.get("/api/suggestions/").status_code == 401


def test_the_schema_documents_suggestions(ann_api):
    schema = ann_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "/api/suggestions/" in schema["paths"]
    assert "/api/suggestions/{username}/dismiss/" in schema["paths"]
    item = schema["components"]["schemas"]["Suggestion"]["properties"]
    assert {"profile", "mutual_count", "mutual_sample", "reason"} <= set(item)
