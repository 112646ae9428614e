"""Chat services: what is stored, what is published, and when."""

import json
import uuid
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from chat import selectors, services
from chat.models import Conversation, ConversationKind, Message, Participant, UserEvent
from chat.tests.conftest import roundtrip

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    """Everything handed to the channel layer, as calls of deliver([(group, event), ...])."""
    deliver = mock.Mock()
    with (
        mock.patch("bunnybook.events.deliver", deliver),
        mock.patch("chat.services.deliver", deliver),
    ):
        yield deliver


def sent_events(deliver) -> list[tuple[list, dict]]:
    """Each event sent, with the bunnies it went to: [([user ids], event), ...]."""
    sent: dict[str, tuple[list, dict]] = {}
    for call in deliver.call_args_list:
        for group, event in call.args[0]:
            event = roundtrip(event)
            ids, _ = sent.setdefault(json.dumps(event, sort_keys=True), ([], event))
            ids.append(int(group.removeprefix("user.")))
    return list(sent.values())


def test_a_message_is_stored_before_anyone_is_told(
    chat, ann, bob, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message, created = services.send_message(
            sender=ann, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4()
        )
        assert not published.called  # nothing goes out inside the transaction
    assert created
    for callback in callbacks:
        callback()

    events = sent_events(published)
    assert sorted(ids[0] for ids, _ in events) == sorted([ann.pk, bob.pk])
    for _, event in events:
        assert event["type"] == "chat.message"
        assert event["message"]["id"] == message.pk
    stored = UserEvent.objects.filter(payload__type="chat.message")
    assert sorted(stored.values_list("user_id", flat=True)) == sorted([ann.pk, bob.pk])


def test_the_live_message_is_the_api_message_as_each_participant_sees_it(
    chat, ann, bob, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = services.send_message(
            sender=ann, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4()
        )
    sent = {ids[0]: event for ids, event in sent_events(published)}
    stored = Message.objects.select_related("sender").get(pk=message.pk)
    for viewer in (ann, bob):
        api = services.message_event(
            stored, recipient_id=viewer.pk, states={ann.pk: "friends"}, online={ann.pk: False}
        )
        assert {**sent[viewer.pk], "seq": None} == {**roundtrip(api), "seq": None}


def test_a_rolled_back_message_is_never_published(chat, ann, published):
    with (
        # The last write of the transaction fails: the message is stored before it.
        mock.patch("bunnybook.events._record_events", side_effect=RuntimeError),
        pytest.raises(RuntimeError),
    ):
        services.send_message(
            sender=ann, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4()
        )
    assert Message.objects.count() == 0
    assert not published.called


def test_a_retry_stores_nothing_and_publishes_nothing(
    chat, ann, published, django_capture_on_commit_callbacks
):
    client_id = uuid.uuid4()
    first, _ = services.send_message(
        sender=ann, conversation_id=chat.pk, body="Hi", client_id=client_id
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created = services.send_message(
            sender=ann, conversation_id=chat.pk, body="Hi", client_id=str(client_id)
        )
    assert (again.pk, created, callbacks) == (first.pk, False, [])


def test_a_connection_plans_the_sends_statements_once(chat, ann, published):
    def prepared_participants_queries() -> list[str]:
        """This connection's prepared statements that lock the conversation (the send's
        participants query)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall() if "FOR UPDATE OF c" in row[0]]

    def send() -> None:
        services.send_message(
            sender=ann, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4()
        )

    send()
    assert not prepared_participants_queries()
    send()  # the second run of a statement prepares it (settings: prepare_threshold)
    locking = prepared_participants_queries()
    send()
    assert len(locking) == 1
    assert prepared_participants_queries() == locking  # reused, not prepared again


def test_outsiders_get_not_found_and_ex_friends_a_closed_door(chat, ann, bob, cid):
    with pytest.raises(Http404):
        services.send_message(
            sender=cid, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4()
        )
    with pytest.raises(Http404):
        services.mark_read(user=cid, conversation_id=chat.pk)
    from social import services as social_services

    social_services.unfriend(user=ann, friend=bob)
    with pytest.raises(PermissionDenied):
        services.send_message(
            sender=ann, conversation_id=chat.pk, body="Hi", client_id=uuid.uuid4()
        )
    with pytest.raises(PermissionDenied):
        services.relay_typing(user_id=ann.pk, conversation_id=chat.pk)


def test_reading_moves_the_cursor_and_tells_only_the_reader(
    chat, ann, bob, published, django_capture_on_commit_callbacks
):
    for body in ("one", "two"):
        services.send_message(
            sender=bob, conversation_id=chat.pk, body=body, client_id=uuid.uuid4()
        )
    assert selectors.total_unread(ann) == 2
    published.reset_mock()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.mark_read(user=ann, conversation_id=chat.pk, origin="chan-1") == 0
    [(recipients, event)] = sent_events(published)
    assert recipients == [ann.pk]
    assert event["type"] == "chat.read"
    assert (event["conversation_id"], event["unread_count"], event["_origin"]) == (
        chat.pk,
        0,
        "chan-1",
    )
    cursor = Participant.objects.get(conversation=chat, user=ann).last_read_message_id
    assert cursor == Message.objects.latest("id").pk

    published.reset_mock()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.mark_read(user=ann, conversation_id=chat.pk)
    assert callbacks == []  # nothing new to read: no write, no event


def test_typing_is_relayed_to_the_others_and_throttled(chat, ann, bob, published, settings):
    settings.TYPING_THROTTLE = 60
    assert services.relay_typing(user_id=ann.pk, conversation_id=chat.pk) is True
    assert services.relay_typing(user_id=ann.pk, conversation_id=chat.pk) is False
    [(recipients, event)] = sent_events(published)
    assert recipients == [bob.pk]
    assert (event["type"], event["user"]) == ("chat.typing", "ann")


def test_only_an_active_participant_may_type(chat, ann, cid, published):
    with pytest.raises(Http404):
        services.relay_typing(user_id=cid.pk, conversation_id=chat.pk)
    ann.is_active = False  # banned
    ann.save()
    with pytest.raises(Http404):
        services.relay_typing(user_id=ann.pk, conversation_id=chat.pk)
    with pytest.raises(Http404):
        services.relay_typing(user_id=ann.pk, conversation_id=chat.pk + 1000)
    assert not published.called


def test_typing_to_a_banned_friend_is_a_closed_door(chat, ann, bob, published):
    bob.is_active = False
    bob.save()
    with pytest.raises(PermissionDenied):
        services.relay_typing(user_id=ann.pk, conversation_id=chat.pk)
    assert not published.called


def test_typing_in_a_group_reaches_every_other_participant_friend_or_not(ann, bob, cid, published):
    group = Conversation.objects.create(kind=ConversationKind.GROUP, title="Burrow")
    for bunny in (ann, bob, cid):  # ann and cid are not friends
        Participant.objects.create(conversation=group, user=bunny)
    ann.display_name = "Ann the Bold"
    ann.save()

    assert services.relay_typing(user_id=ann.pk, conversation_id=group.pk) is True
    [(recipients, event)] = sent_events(published)
    assert sorted(recipients) == sorted([bob.pk, cid.pk])
    assert event == {
        "type": "chat.typing",
        "conversation_id": group.pk,
        "user": "ann",
        "user_id": ann.pk,
        "display_name": "Ann the Bold",
    }


def test_a_bunny_who_appears_offline_relays_no_typing(chat, ann, published):
    ann.appear_offline = True
    ann.save()
    assert services.relay_typing(user_id=ann.pk, conversation_id=chat.pk) is False
    assert not published.called


def test_old_events_are_pruned(ann, settings):
    from django.utils import timezone

    UserEvent.objects.create(user=ann, seq=1, payload={"type": "x"})
    UserEvent.objects.filter(seq=1).update(created_at=timezone.now() - timezone.timedelta(days=30))
    UserEvent.objects.create(user=ann, seq=2, payload={"type": "x"})
    assert services.prune_live_events() == 1
    assert list(UserEvent.objects.values_list("seq", flat=True)) == [2]
