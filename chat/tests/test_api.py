"""The chat JSON API against its contract (shared/API.md, "Chat")."""

import uuid

import pytest

from chat import presence, services
from chat.models import Conversation, Message
from chat.tests.conftest import befriend
from conftest import bearer_client
from social import services as social_services

pytestmark = pytest.mark.django_db

MESSAGE_FIELDS = {"id", "conversation_id", "sender", "body", "created_at", "client_id"}


def send(client, conversation, body="Hi!", client_id=None):
    return client.post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"body": body, "client_id": str(client_id or uuid.uuid4())},
        format="json",
    )


def test_starting_a_conversation_with_a_friend_creates_it_once(friends, ann_api, bob_api):
    first = ann_api.post("/api/conversations/", {"with": "bob"}, format="json")
    again = bob_api.post("/api/conversations/", {"with": "ANN"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert {p["username"] for p in first.json()["participants"]} == {"ann", "bob"}
    assert first.json()["last_message"] is None
    assert first.json()["unread_count"] == 0
    assert Conversation.objects.count() == 1


def test_only_friends_can_start_a_conversation(ann, bob, cid, ann_api):
    assert ann_api.post("/api/conversations/", {"with": "bob"}, format="json").status_code == 403
    assert ann_api.post("/api/conversations/", {"with": "ann"}, format="json").status_code == 400
    assert ann_api.post("/api/conversations/", {"with": "nobody"}, format="json").status_code == 404
    social_services.block_bunny(blocker=cid, blocked=ann)
    assert ann_api.post("/api/conversations/", {"with": "cid"}, format="json").status_code == 404
    assert ann_api.post("/api/conversations/", {}, format="json").status_code == 400


def test_a_message_is_stored_and_answered_201_then_200_for_a_retry(chat, ann_api):
    client_id = uuid.uuid4()
    created = send(ann_api, chat, "  Hello Bob!  ", client_id)
    retried = send(ann_api, chat, "Hello again?", client_id)

    assert created.status_code == 201
    assert set(created.json()) == MESSAGE_FIELDS
    assert created.json()["body"] == "Hello Bob!"
    assert created.json()["client_id"] == str(client_id)
    assert created.json()["sender"]["friendship"] == "self"
    assert retried.status_code == 200
    assert retried.json() == created.json()
    assert Message.objects.count() == 1


def test_the_same_client_id_in_another_conversation_conflicts(chat, ann, cid, ann_api):
    befriend(ann, cid)
    other, _ = services.start_conversation(user=ann, with_user=cid)
    client_id = uuid.uuid4()
    assert send(ann_api, chat, "One", client_id).status_code == 201
    assert send(ann_api, other, "Two", client_id).status_code == 409


@pytest.mark.parametrize(
    "payload",
    [
        {"body": "", "client_id": str(uuid.uuid4())},
        {"body": "   ", "client_id": str(uuid.uuid4())},
        {"body": "x" * 4001, "client_id": str(uuid.uuid4())},
        {"body": "Hi"},
        {"body": "Hi", "client_id": "not-a-uuid"},
    ],
)
def test_bad_messages_are_400_and_store_nothing(chat, ann_api, payload):
    response = ann_api.post(f"/api/conversations/{chat.pk}/messages/", payload, format="json")
    assert response.status_code == 400
    assert Message.objects.count() == 0


def test_a_message_of_4000_characters_is_fine(chat, ann_api):
    assert send(ann_api, chat, "x" * 4000).status_code == 201


def test_every_chat_endpoint_is_404_for_a_non_participant(chat, cid):
    cid_api = bearer_client(cid)
    base = f"/api/conversations/{chat.pk}"
    assert cid_api.get(f"{base}/").status_code == 404
    assert cid_api.get(f"{base}/messages/").status_code == 404
    assert send(cid_api, chat).status_code == 404
    assert cid_api.post(f"{base}/read/").status_code == 404
    assert cid_api.get("/api/conversations/999999/messages/").status_code == 404
    assert cid_api.get("/api/conversations/").json()["results"] == []


def test_unfriending_keeps_the_history_and_closes_the_conversation(chat, ann, bob, ann_api):
    send(ann_api, chat, "Before")
    social_services.unfriend(user=bob, friend=ann)

    history = ann_api.get(f"/api/conversations/{chat.pk}/messages/")
    assert [m["body"] for m in history.json()["results"]] == ["Before"]
    assert send(ann_api, chat, "After").status_code == 403
    assert ann_api.get(f"/api/conversations/{chat.pk}/").json()["open"] is False


def test_a_block_hides_the_conversation_from_both_as_if_the_other_did_not_exist(
    chat, ann, bob, ann_api, bob_api
):
    send(bob_api, chat, "Before")
    social_services.block_bunny(blocker=ann, blocked=bob)

    assert send(bob_api, chat, "After").status_code == 404
    for api in (ann_api, bob_api):
        assert api.get(f"/api/conversations/{chat.pk}/messages/").status_code == 404
        assert api.get("/api/conversations/").json()["results"] == []

    social_services.unblock_bunny(blocker=ann, blocked=bob)  # history was kept all along
    assert [
        m["body"] for m in ann_api.get(f"/api/conversations/{chat.pk}/messages/").json()["results"]
    ] == ["Before"]


def test_history_is_newest_first_fifty_a_page(chat, ann, bob, ann_api, settings):
    settings.CHAT_MESSAGE_RATE = 100
    for n in range(60):
        services.send_message(
            sender=ann if n % 2 else bob,
            conversation_id=chat.pk,
            body=f"m{n}",
            client_id=uuid.uuid4(),
        )

    first = ann_api.get(f"/api/conversations/{chat.pk}/messages/").json()
    second = ann_api.get(first["next"]).json()

    assert [m["body"] for m in first["results"]] == [f"m{n}" for n in range(59, 9, -1)]
    assert [m["body"] for m in second["results"]] == [f"m{n}" for n in range(9, -1, -1)]
    assert "before=" in first["next"]
    assert second["next"] is None
    assert ann_api.get(f"/api/conversations/{chat.pk}/messages/?before=junk").status_code == 400


def test_unread_counts_and_reading(chat, ann, bob, cid, ann_api, bob_api):
    befriend(bob, cid)
    other, _ = services.start_conversation(user=cid, with_user=bob)
    services.send_message(
        sender=cid, conversation_id=other.pk, body="Hi Bob", client_id=uuid.uuid4()
    )
    for n in range(3):
        send(ann_api, chat, f"Hey {n}")
    send(bob_api, chat, "My own message is never unread")

    listed = bob_api.get("/api/conversations/").json()["results"]
    assert [(c["id"], c["unread_count"]) for c in listed] == [(chat.pk, 3), (other.pk, 1)]
    assert listed[0]["last_message"]["body"] == "My own message is never unread"

    assert bob_api.post(f"/api/conversations/{chat.pk}/read/").status_code == 204
    listed = bob_api.get("/api/conversations/").json()["results"]
    assert [(c["id"], c["unread_count"]) for c in listed] == [(chat.pk, 0), (other.pk, 1)]


def test_the_list_is_ordered_by_newest_activity(chat, ann, bob, cid, ann_api):
    befriend(ann, cid)
    with_cid, _ = services.start_conversation(user=ann, with_user=cid)
    send(ann_api, chat, "older")
    send(ann_api, with_cid, "newer")
    assert [c["id"] for c in ann_api.get("/api/conversations/").json()["results"]] == [
        with_cid.pk,
        chat.pk,
    ]
    send(ann_api, chat, "newest")
    assert ann_api.get("/api/conversations/").json()["results"][0]["id"] == chat.pk


def test_a_page_of_conversations_costs_the_same_for_one_or_many(
    ann, ann_api, django_assert_max_num_queries, monkeypatch
):
    """A fixed number of queries, and the profile serializer built once per response:
    building a DRF serializer costs more than using it (50 conversations built 100)."""
    from accounts.api import ProfileSerializer
    from conftest import make_bunny

    built = []
    original_init = ProfileSerializer.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(ProfileSerializer, "__init__", counting_init)
    for count in (1, 8):
        while Conversation.objects.filter(participants__user=ann).count() < count:
            friend = make_bunny(f"friend{Conversation.objects.count()}")
            befriend(ann, friend)
            conversation, _ = services.start_conversation(user=ann, with_user=friend)
            services.send_message(
                sender=friend, conversation_id=conversation.pk, body="Hi", client_id=uuid.uuid4()
            )
        built.clear()
        with django_assert_max_num_queries(4):  # measured: 4 with 1 and with 8
            listed = ann_api.get("/api/conversations/").json()["results"]
        assert len(listed) == count
        assert built == [ProfileSerializer]


def test_sending_too_fast_is_429_with_retry_after(chat, ann_api, settings):
    settings.CHAT_MESSAGE_RATE = 2
    settings.CHAT_RATE_WINDOW = 3600  # a fixed window must not roll over mid-test
    assert send(ann_api, chat).status_code == 201
    assert send(ann_api, chat).status_code == 201
    response = send(ann_api, chat)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Message.objects.count() == 2


def test_presence_shows_for_friends_and_self_never_strangers(friends, ann, bob, cid, ann_api):
    presence.socket_alive(bob.pk, "test-channel-bob")
    presence.socket_alive(cid.pk, "test-channel-cid")

    assert ann_api.get("/api/profiles/bob/").json()["online"] is True
    assert ann_api.get("/api/profiles/cid/").json()["online"] is None
    assert ann_api.get("/api/me/").json()["online"] is False
    [friend] = ann_api.get("/api/friends/").json()["results"]
    assert (friend["username"], friend["online"]) == ("bob", True)
    presence.socket_gone(bob.pk, "test-channel-bob")
    assert ann_api.get("/api/profiles/bob/").json()["online"] is False


def test_appear_offline_is_a_setting_of_me(friends, ann, bob, ann_api):
    presence.socket_alive(ann.pk, "test-channel-ann")
    response = ann_api.patch("/api/me/", {"appear_offline": True}, format="json")
    assert response.status_code == 200
    assert response.json()["appear_offline"] is True
    assert response.json()["online"] is False
    assert bearer_client(bob).get("/api/profiles/ann/").json()["online"] is False
