"""Notification pages: the list, the dropdown, opening one, mark all read, settings, the
navigation badge and the live fragments, as plain requests and as htmx."""

import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat.models import UserEvent
from conftest import make_bunny
from notifications.models import Notification
from notifications.tests.helpers import liked_posts
from social import services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ITEM = re.compile(r'<li id="notification-(?:menu-)?\d+"')


def items_in(response) -> int:
    return len(ITEM.findall(response.content.decode()))


@pytest.fixture
def ann_client(client, ann):
    client.force_login(ann)
    return client


def test_the_list_page_shows_notifications_newest_first_with_links(ann, bob, cid, ann_client):
    services.send_friend_request(sender=bob, to=ann)
    services.send_friend_request(sender=cid, to=ann)
    first, second = Notification.objects.filter(recipient=ann).order_by("-created_at")

    response = ann_client.get(reverse("notifications"))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("Cid sent you a friend request") < page.index("Bob sent you a friend request")
    assert f'id="notification-{first.pk}"' in page
    assert f'href="/notifications/{second.pk}/open/"' in page
    assert 'id="notification-list"' in page
    assert "is-unread" in page


def test_the_list_page_says_so_when_empty(ann_client):
    page = ann_client.get(reverse("notifications")).content.decode()

    assert "No notifications yet" in page


def test_the_list_page_paginates_and_loads_more_as_htmx(ann, ann_client):
    liked_posts(ann, 25)

    page = ann_client.get(reverse("notifications"))
    cursor = page.context["next_cursor"]
    more = ann_client.get(reverse("notifications"), {"cursor": cursor}, **HTMX)
    plain_more = ann_client.get(reverse("notifications"), {"cursor": cursor})

    assert items_in(page) == 20
    assert "Older notifications" in page.content.decode()
    assert items_in(more) == 5
    assert "<html" not in more.content.decode()
    assert "Older notifications" not in more.content.decode()
    assert "<html" in plain_more.content.decode()
    assert ann_client.get(reverse("notifications"), {"cursor": "junk"}).status_code == 400


def test_pages_need_a_login(client):
    for name in ("notifications", "notification-menu", "notification-settings"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_opening_a_notification_marks_it_read_and_goes_to_its_target(ann, bob, ann_client):
    services.send_friend_request(sender=bob, to=ann)
    notification = Notification.objects.get(recipient=ann)

    response = ann_client.get(reverse("notification-open", args=[notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == "/u/bob/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_opening_a_post_notification_goes_to_the_post(ann, bob, ann_client):
    post = services.create_post(author=ann, body="Hi", visibility="public")
    services.like_post(post=post, user=bob)
    notification = Notification.objects.get(recipient=ann)

    response = ann_client.get(reverse("notification-open", args=[notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"/posts/{post.pk}/"
    assert ann_client.get(response["Location"]).status_code == 200


def test_opening_someone_elses_notification_is_a_404(ann, bob, cid, ann_client):
    services.send_friend_request(sender=cid, to=bob)
    notification = Notification.objects.get(recipient=bob)

    response = ann_client.get(reverse("notification-open", args=[notification.pk]))

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_without_javascript_redirects(ann, bob, ann_client):
    services.send_friend_request(sender=bob, to=ann)

    response = ann_client.post(reverse("notifications-read-all"))

    assert response.status_code == 302
    assert response["Location"] == reverse("notifications")
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_mark_all_read_as_htmx_answers_the_list_and_the_badge(ann, bob, ann_client):
    services.send_friend_request(sender=bob, to=ann)

    response = ann_client.post(reverse("notifications-read-all"), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Bob sent you a friend request" in html
    assert "is-unread" not in html
    assert 'id="notification-badge"' in html
    assert 'hx-swap-oob="true"' in html
    assert "<html" not in html
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_mark_all_read_from_the_dropdown_answers_the_dropdown(ann, bob, ann_client):
    services.send_friend_request(sender=bob, to=ann)

    response = ann_client.post(reverse("notifications-read-all"), {"view": "menu"}, **HTMX)

    html = response.content.decode()
    assert 'id="notification-menu-list"' in html
    assert "is-unread" not in html


def test_mark_all_read_needs_a_post(ann_client):
    assert ann_client.get(reverse("notifications-read-all")).status_code == 405


def test_the_dropdown_shows_the_latest_few(ann, ann_client):
    liked_posts(ann, 8)

    response = ann_client.get(reverse("notification-menu"), **HTMX)

    html = response.content.decode()
    assert items_in(response) == 5
    assert 'id="notification-menu-list"' in html
    assert "See all notifications" in html
    assert 'id="notification-badge"' in html


def test_the_dropdown_without_htmx_goes_to_the_list(ann_client):
    response = ann_client.get(reverse("notification-menu"))

    assert response.status_code == 302
    assert response["Location"] == reverse("notifications")


def test_every_page_has_the_badge_and_the_dropdown(ann, bob, ann_client):
    services.send_friend_request(sender=bob, to=ann)

    html = ann_client.get(reverse("home")).content.decode()

    assert 'id="notification-badge"' in html
    assert '1<span class="visually-hidden"> unread</span>' in html
    assert f'hx-get="{reverse("notification-menu")}"' in html
    assert 'id="notification-menu"' in html


def test_the_badge_is_empty_with_nothing_unread(ann_client):
    html = ann_client.get(reverse("home")).content.decode()

    assert 'class="badge is-empty"' in html


def test_the_badge_counts_only_what_ann_may_see(ann, bob, ann_client):
    post = services.create_post(author=ann, wall=ann, body="Carrots")
    services.like_post(post=post, user=bob)
    services.block_bunny(blocker=bob, blocked=ann)  # the like's row stays unread

    html = ann_client.get(reverse("home")).content.decode()

    assert Notification.objects.filter(recipient=ann, read_at__isnull=True).exists()
    assert 'class="badge is-empty"' in html


# --- Settings ---------------------------------------------------------------------------


def test_the_settings_page_has_a_checkbox_per_type_all_on_by_default(ann_client):
    html = ann_client.get(reverse("notification-settings")).content.decode()

    for kind in (
        "friend_request_received",
        "friend_request_accepted",
        "wall_post",
        "post_commented",
        "thread_commented",
        "post_liked",
        "comment_liked",
    ):
        assert f'value="{kind}"' in html
    assert html.count("checked") == 7


def test_the_main_settings_page_links_to_notification_settings(ann_client):
    html = ann_client.get(reverse("settings")).content.decode()

    assert reverse("notification-settings") in html


def test_unticking_a_type_mutes_it(ann, bob, ann_client):
    shown = ["friend_request_received", "wall_post", "post_commented"]

    response = ann_client.post(reverse("notification-settings"), {"shown": shown})
    services.like_post(
        post=services.create_post(author=ann, body="x", visibility="public"), user=bob
    )

    assert response.status_code == 302
    assert Notification.objects.filter(recipient=ann).count() == 0
    html = ann_client.get(reverse("notification-settings")).content.decode()
    assert html.count("checked") == 3


def test_saving_settings_as_htmx_answers_the_form(ann_client):
    response = ann_client.post(reverse("notification-settings"), {"shown": ["wall_post"]}, **HTMX)

    html = response.content.decode()
    assert 'id="notification-settings-form"' in html
    assert "Saved." in html
    assert "<html" not in html


# --- Query counts -----------------------------------------------------------------------


def cost(client, url: str, **extra) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **extra)
    return len(queries)


@pytest.mark.parametrize("count", [1, 20])
def test_the_list_page_costs_the_same_for_1_or_20(
    ann, ann_client, count, django_assert_max_num_queries
):
    # The empty page prices the frame other apps put around it (session, nav badges); a
    # page of notifications adds 4 however long it is: their actors, the viewer's relation
    # to those actors (friendships, requests), and the badge's count, which an empty inbox
    # skips.
    frame = cost(ann_client, reverse("notifications"))
    liked_posts(ann, count)

    with django_assert_max_num_queries(frame + 4):
        response = ann_client.get(reverse("notifications"))

    assert items_in(response) == count


@pytest.mark.parametrize("count", [1, 5])
def test_the_dropdown_costs_the_same_for_1_or_5(
    ann, ann_client, count, django_assert_max_num_queries
):
    liked_posts(ann, count)

    with django_assert_max_num_queries(7):
        response = ann_client.get(reverse("notification-menu"), **HTMX)

    assert items_in(response) == count


# --- Live fragments ---------------------------------------------------------------------


def test_the_live_fragment_moves_the_item_to_the_top_and_updates_the_badge(ann, bob):
    evil = make_bunny("eve", display_name="<script>alert(1)</script>")
    post = services.create_post(author=ann, body="Hi <b>there</b>", visibility="public")
    services.like_post(post=post, user=bob)
    services.like_post(post=post, user=evil)
    event = UserEvent.objects.filter(user=ann).latest("seq").payload
    notification_id = event["notification"]["id"]

    html = render_to_string("notifications/partials/live_notification.html", {"event": event})

    assert 'id="notification-badge"' in html
    assert "1<span" in html
    assert f'<div id="notification-{notification_id}" hx-swap-oob="delete">' in html
    assert 'hx-swap-oob="afterbegin:#notification-list"' in html
    assert 'hx-swap-oob="afterbegin:#notification-menu-list"' in html
    assert f'id="notification-menu-{notification_id}"' in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;there&lt;/b&gt;" in html


def test_the_removed_and_read_fragments_update_the_badge(ann):
    removed = render_to_string(
        "notifications/partials/live_notification_removed.html",
        {"event": {"type": "notification.removed", "id": 7, "unread_count": 2}},
    )
    read = render_to_string(
        "notifications/partials/live_notification_read.html",
        {"event": {"type": "notification.read", "id": None, "unread_count": 0}},
    )

    assert '<div id="notification-7" hx-swap-oob="delete">' in removed
    assert '<div id="notification-menu-7" hx-swap-oob="delete">' in removed
    assert "2<span" in removed
    assert 'class="badge is-empty" hx-swap-oob="true"' in read
