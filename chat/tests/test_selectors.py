"""The conversation list's written-out page, and one conversation, against the ORM query
they restate (`conversations_for`)."""

import uuid
from datetime import timedelta

import pytest
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from bunnybook.events import record_and_publish_on_commit
from bunnybook.pagination import paginate
from chat import selectors, services
from chat.models import Conversation
from conftest import every_page, make_bunny
from social.models import Block
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


def listed(conversation) -> tuple:
    message = conversation.last_message
    return (
        conversation.pk,
        conversation.last_activity_at,
        conversation.read_cursor,
        conversation.unread_count,
        message and (message.pk, message.body, message.sender.username),
        [participant.user.username for participant in conversation.participants.all()],
    )


def test_a_page_of_conversations_and_one_are_what_conversations_for_lists(
    django_assert_num_queries,
):
    ann = make_bunny("ann")
    others = [make_bunny(f"friend{number}") for number in range(7)]
    for number, other in enumerate(others):
        make_friends(ann, other)
        conversation, _ = services.start_conversation(user=ann, with_user=other)
        for count in range(number % 3):  # some have no message, some unread ones
            services.send_message(
                sender=(ann, other)[count % 2],
                conversation_id=conversation.pk,
                body=f"hi {count}",
                client_id=uuid.uuid4(),
            )
    # Ties on last activity, broken by id; a conversation with a blocked bunny is hidden.
    same_time = timezone.now() - timedelta(hours=1)
    Conversation.objects.filter(participants__user__in=others[:4]).update(
        last_activity_at=same_time
    )
    Block.objects.create(blocker=others[5], blocked=ann)
    Conversation.objects.filter(pk=Conversation.objects.first().pk).update(
        last_activity_at=F("last_activity_at") - timedelta(days=1)
    )

    for viewer in [ann, others[0]]:
        rows = selectors.conversations_for(viewer)
        expected = every_page(
            lambda cursor, r=rows: paginate(
                r, cursor=cursor, size=3, order_field="last_activity_at"
            )
        )
        shown = every_page(
            lambda cursor, v=viewer: selectors.conversation_page(v, cursor=cursor, size=3)
        )
        assert [listed(c) for c in shown] == [listed(c) for c in expected], viewer.username
    assert len(expected) == 1  # others[0] sees her one conversation
    for viewer in [ann, others[0], others[5]]:
        rows = selectors.conversations_for(viewer)
        for conversation in Conversation.objects.all():  # one, or 404 as the list hides it
            expected_one = rows.filter(pk=conversation.pk).first()
            if expected_one is None:
                with pytest.raises(Http404):
                    selectors.get_conversation_for(viewer, conversation.pk)
            else:
                one = selectors.get_conversation_for(viewer, conversation.pk)
                assert listed(one) == listed(expected_one)
        for absent in (0, 2**63, 10**30):
            with pytest.raises(Http404):
                selectors.get_conversation_for(viewer, absent)
    with django_assert_num_queries(2):  # the page, then its participants
        page = selectors.conversation_page(ann, size=10)
        seen = [p.user.username for c in page.items for p in c.participants.all()]
    assert len(page.items) == 6  # 7 friends, one blocked ann
    assert len(seen) == 12


def test_latest_seqs_are_each_bunnys_last_seq_in_one_query(django_assert_num_queries):
    ann, bob, cid = make_bunny("ann"), make_bunny("bob"), make_bunny("cid")
    record_and_publish_on_commit([ann.pk, bob.pk], {"type": "test"})
    record_and_publish_on_commit([ann.pk], {"type": "test"})

    with django_assert_num_queries(1):
        latest = selectors.latest_seqs([ann.pk, bob.pk, cid.pk])

    # cid has had no event yet: absent, as her counter is.
    assert latest == {ann.pk: 2, bob.pk: 1}
    assert latest[ann.pk] == selectors.current_seq(ann.pk)


def test_message_pages_go_back_through_the_history_newest_first(
    settings, django_assert_num_queries
):
    settings.CHAT_PAGE_SIZE = 4
    ann, bob, cid = make_bunny("ann"), make_bunny("bob"), make_bunny("cid")
    make_friends(ann, bob)
    make_friends(ann, cid)
    talk, _ = services.start_conversation(user=ann, with_user=bob)
    other, _ = services.start_conversation(user=ann, with_user=cid)
    for number in range(11):
        for conversation, friend in ((talk, bob), (other, cid)):
            services.send_message(
                sender=(ann, friend)[number % 2],
                conversation_id=conversation.pk,
                body=f"message {number}",
                client_id=uuid.uuid4(),
            )

    with django_assert_num_queries(1):
        first = selectors.message_page(talk)
        senders = [message.sender.username for message in first.items]
    assert senders == ["ann", "bob", "ann", "bob"]
    shown = every_page(lambda cursor: selectors.message_page(talk, before=cursor))
    expected = talk.messages.order_by("-id")
    assert [message.pk for message in shown] == [message.pk for message in expected]
    assert [message.body for message in shown[:2]] == ["message 10", "message 9"]
