"""The "Report" buttons on pages: on others' posts, comments, messages and profiles (never
on one's own), each opening the reason form in place and filing a report through it."""

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from chat import services as chat_services
from chat.live import render_page_event
from reports.models import Report
from social import services as social_services
from social.tests.factories import make_friends


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def menu_ids(html: bytes) -> set[str]:
    return set(re.findall(r'id="report-menu-([a-z]+-\d+)"', html.decode()))


@pytest.fixture
def thread(ann, bob):
    """Bob's post with a comment by each of them."""
    make_friends(ann, bob)
    post = social_services.create_post(author=bob, body="Carrots are overrated")
    bobs = social_services.add_comment(post=post, author=bob, body="Fight me")
    anns = social_services.add_comment(post=post, author=ann, body="No")
    return post, bobs, anns


def test_a_post_page_offers_report_on_others_post_and_comments_only(ann, thread):
    post, bobs, _anns = thread
    answer = page_client(ann).get(reverse("post", args=[post.pk]))
    assert answer.status_code == 200
    assert menu_ids(answer.content) == {f"post-{post.pk}", f"comment-{bobs.pk}"}


def test_the_author_sees_report_only_on_what_others_wrote(bob, thread):
    post, _bobs, anns = thread
    answer = page_client(bob).get(reverse("post", args=[post.pk]))
    assert menu_ids(answer.content) == {f"comment-{anns.pk}"}


def test_the_feed_has_the_buttons_too(ann, thread):
    post, bobs, _anns = thread
    answer = page_client(ann).get(reverse("home"))
    assert {f"post-{post.pk}", f"comment-{bobs.pk}"} <= menu_ids(answer.content)


def test_a_profile_offers_report_except_ones_own(ann, bob):
    client = page_client(ann)
    assert menu_ids(client.get(reverse("profile", args=["bob"])).content) == {f"user-{bob.pk}"}
    assert menu_ids(client.get(reverse("profile", args=["ann"])).content) == set()


@pytest.fixture
def talk(ann, bob):
    make_friends(ann, bob)
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)

    def say(sender, body):
        message, _ = chat_services.send_message(
            sender=sender, conversation_id=conversation.pk, body=body, client_id=uuid.uuid4()
        )
        return message

    return conversation, say(bob, "Boo!"), say(ann, "Eek")


def test_a_conversation_offers_report_on_the_other_bunnys_messages(ann, talk):
    conversation, bobs, _anns = talk
    answer = page_client(ann).get(reverse("chat-conversation", args=[conversation.pk]))
    assert answer.status_code == 200
    assert menu_ids(answer.content) == {f"message-{bobs.pk}"}


def test_a_message_pushed_over_the_page_socket_carries_the_button(ann, bob, talk):
    _conversation, bobs, _anns = talk
    event = {"type": "chat.message", "message": {"id": bobs.pk}}
    assert f"report-menu-message-{bobs.pk}" in render_page_event(ann, event)
    assert "report-menu-message" not in render_page_event(bob, event)


def test_the_button_opens_the_form_in_place_and_files_the_report(ann, thread):
    post, _bobs, _anns = thread
    client = page_client(ann)
    page = client.get(reverse("post", args=[post.pk])).content.decode()
    menu = page[page.index(f'id="report-menu-post-{post.pk}"') :]
    form_url = re.search(r'hx-get="([^"]+)"', menu).group(1)
    assert form_url == reverse("report", args=["post", post.pk])

    fragment = client.get(form_url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b'name="reason"' in fragment.content
    assert b"<html" not in fragment.content

    done = client.post(form_url, {"reason": "Heresy"}, headers={"HX-Request": "true"})
    assert done.status_code == 200
    assert b"moderators will look at it" in done.content
    filed = Report.objects.get()
    assert (filed.target_type, filed.target_id, filed.snapshot) == (
        "post",
        post.pk,
        "Carrots are overrated",
    )


def test_the_no_javascript_link_returns_to_the_page(ann, thread):
    post, _bobs, _anns = thread
    client = page_client(ann)
    page_url = reverse("post", args=[post.pk])
    page = client.get(page_url).content.decode()
    link = re.search(r'href="(/report/post/\d+/\?next=[^"]+)"', page).group(1)
    assert client.get(link).status_code == 200
    answer = client.post(link.replace("&amp;", "&"), {"reason": "Heresy"})
    assert answer.status_code == 302
    assert answer.url == page_url
