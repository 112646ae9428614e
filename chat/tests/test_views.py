"""Chat pages and their plain-HTTP paths (htmx and no JavaScript)."""

import uuid

import pytest
from django.urls import reverse

from chat import services
from chat.models import Message, Participant
from chat.tests.conftest import befriend

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ann_client(client, ann):
    client.force_login(ann)
    return client


def test_every_page_has_the_live_socket_and_the_unread_badge(chat, bob, ann_client):
    services.send_message(sender=bob, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4())
    html = ann_client.get(reverse("chat")).content.decode()
    assert 'hx-ext="ws,live" ws-connect="/ws/"' in html
    assert '<span id="chat-unread-badge" class="badge">1' in html
    assert "<script>" not in html  # no inline scripts (CSP)


def test_the_chat_page_lists_conversations_and_friends_to_start_one(chat, ann, cid, ann_client):
    befriend(ann, cid)
    html = ann_client.get(reverse("chat")).content.decode()
    assert f'id="conversation-{chat.pk}"' in html
    assert 'id="conversation-list"' in html
    assert reverse("chat-with", args=["cid"]) in html


def test_a_conversation_page_shows_history_newest_at_the_bottom(
    chat, ann, bob, ann_client, settings
):
    settings.CHAT_MESSAGE_RATE = 100
    for n in range(55):
        services.send_message(
            sender=bob, conversation_id=chat.pk, body=f"msg {n:02}", client_id=uuid.uuid4()
        )
    response = ann_client.get(reverse("chat-conversation", args=[chat.pk]))
    html = response.content.decode()
    assert 'role="log" aria-live="polite"' in html
    assert "msg 04" not in html
    log = html.split(f'id="messages-{chat.pk}"')[1]
    assert log.index("msg 05") < log.index("msg 54")
    assert 'hx-trigger="intersect once"' in html
    # Opening it read it.
    assert Participant.objects.get(conversation=chat, user=ann).last_read_message_id == (
        Message.objects.latest("id").pk
    )

    older_url = html.split('class="older-messages" hx-get="')[1].split('"')[0]
    older = ann_client.get(older_url, **HTMX).content.decode()
    assert "msg 04" in older
    assert "msg 00" in older
    assert "msg 05" not in older
    assert "intersect" not in older


def test_message_text_is_escaped_and_links_work(chat, bob, ann_client):
    services.send_message(
        sender=bob,
        conversation_id=chat.pk,
        body="<img src=x onerror=alert(1)> http://bunny.example",
        client_id=uuid.uuid4(),
    )
    html = ann_client.get(reverse("chat-conversation", args=[chat.pk])).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="http://bunny.example"' in html


def test_sending_by_plain_post_redirects_and_htmx_gets_the_message(chat, ann_client):
    url = reverse("chat-messages", args=[chat.pk])
    client_id = uuid.uuid4()
    plain = ann_client.post(url, {"body": "No JavaScript", "client_id": client_id})
    assert plain.status_code == 302
    assert plain.url.startswith(reverse("chat-conversation", args=[chat.pk]))

    again = ann_client.post(url, {"body": "No JavaScript", "client_id": client_id})
    assert again.status_code == 302
    assert Message.objects.count() == 1

    htmx = ann_client.post(url, {"body": "Over htmx", "client_id": uuid.uuid4()}, **HTMX)
    assert htmx.status_code == 200
    assert 'class="message mine"' in htmx.content.decode()
    assert "Over htmx" in htmx.content.decode()


def test_a_bad_message_shows_the_composer_with_errors(chat, ann_client):
    url = reverse("chat-messages", args=[chat.pk])
    htmx = ann_client.post(url, {"body": "", "client_id": uuid.uuid4()}, **HTMX)
    assert htmx["HX-Retarget"] == f"#composer-{chat.pk}"
    assert 'class="errors"' in htmx.content.decode()
    plain = ann_client.post(url, {"body": "", "client_id": uuid.uuid4()})
    assert plain.status_code == 400
    assert Message.objects.count() == 0


def test_starting_a_chat_from_a_profile_redirects_to_it(friends, ann_client):
    response = ann_client.post(reverse("chat-with", args=["bob"]))
    assert response.status_code == 302
    assert response.url == reverse(
        "chat-conversation", args=[Participant.objects.first().conversation_id]
    )


def test_strangers_cannot_start_a_chat_and_outsiders_see_nothing(chat, ann, cid, client):
    client.force_login(cid)
    assert client.post(reverse("chat-with", args=["ann"])).status_code == 403
    assert client.get(reverse("chat-conversation", args=[chat.pk])).status_code == 404
    assert client.post(reverse("chat-messages", args=[chat.pk]), {"body": "x"}).status_code == 404
    assert client.post(reverse("chat-read", args=[chat.pk])).status_code == 404


def test_a_closed_conversation_has_no_composer(chat, ann, bob, ann_client):
    from social import services as social_services

    social_services.unfriend(user=ann, friend=bob)
    html = ann_client.get(reverse("chat-conversation", args=[chat.pk])).content.decode()
    assert "composer-closed" in html
    assert "<textarea" not in html


def test_chat_needs_a_login(client, chat):
    assert client.get(reverse("chat")).status_code == 302
    assert client.get(reverse("chat-conversation", args=[chat.pk])).status_code == 302


def test_a_friends_profile_and_the_friends_list_have_a_message_button(friends, cid, ann_client):
    start = reverse("chat-with", args=["bob"])
    assert start in ann_client.get(reverse("profile", args=["bob"])).content.decode()
    assert start in ann_client.get(reverse("friends")).content.decode()
    stranger = ann_client.get(reverse("profile", args=["cid"])).content.decode()
    assert reverse("chat-with", args=["cid"]) not in stranger

    first = ann_client.post(start)  # starts the conversation...
    again = ann_client.post(start)  # ...and opens the same one afterwards
    assert (
        first.url
        == again.url
        == reverse(
            "chat-conversation",
            args=[Participant.objects.get(user__username="bob").conversation_id],
        )
    )


def test_a_block_hides_the_conversation_page_from_both(chat, ann, bob, ann_client, client):
    from social import services as social_services

    social_services.block_bunny(blocker=bob, blocked=ann)
    assert ann_client.get(reverse("chat-conversation", args=[chat.pk])).status_code == 404
    assert f'id="conversation-{chat.pk}"' not in ann_client.get(reverse("chat")).content.decode()
    client.force_login(bob)
    assert client.get(reverse("chat-conversation", args=[chat.pk])).status_code == 404
    assert client.post(reverse("chat-with", args=["ann"])).status_code == 404


def test_chat_pages_query_the_database_a_fixed_number_of_times(
    ann, ann_client, django_assert_max_num_queries
):
    from conftest import make_bunny

    conversations = []
    for n in range(8):
        friend = make_bunny(f"friend{n}")
        befriend(ann, friend)
        conversation, _ = services.start_conversation(user=ann, with_user=friend)
        for text in ("Hi", "Carrots?"):
            services.send_message(
                sender=friend, conversation_id=conversation.pk, body=text, client_id=uuid.uuid4()
            )
        conversations.append(conversation)
    # Measured with 1 and 8 conversations: 9 and 18 queries either way (opening one reads
    # it: a locked cursor, its event and the new unread total).
    with django_assert_max_num_queries(9):
        assert ann_client.get(reverse("chat")).status_code == 200
    with django_assert_max_num_queries(18):
        page = reverse("chat-conversation", args=[conversations[0].pk])
        assert ann_client.get(page).status_code == 200


def test_a_friends_profile_shows_her_presence_dot_and_a_strangers_shows_none(
    friends, bob, cid, ann_client
):
    from chat import presence

    presence.socket_alive(bob.pk, "bob-tab")
    presence.socket_alive(cid.pk, "cid-tab")
    html = ann_client.get(reverse("profile", args=["bob"])).content.decode()
    assert f'class="presence presence-u{bob.pk} is-online"' in html
    html = ann_client.get(reverse("profile", args=["cid"])).content.decode()
    assert f"presence-u{cid.pk}" not in html

    presence.socket_gone(bob.pk, "bob-tab")
    html = ann_client.get(reverse("profile", args=["bob"])).content.decode()
    assert f'class="presence presence-u{bob.pk}"' in html  # offline, and kept live
