"""chat.live: the page renderer's shared fragments (typing, presence), rendered once per
process instead of once per socket."""

import pytest

from chat import live

pytestmark = pytest.mark.django_db

TYPING = {
    "type": "chat.typing",
    "conversation_id": 7,
    "user": "ann",
    "user_id": 1,
    "display_name": "Ann <3",
}


def presence(online: bool) -> dict:
    return {"type": "presence", "user": "ann", "user_id": 1, "online": online}


@pytest.mark.parametrize("event", [TYPING, presence(True), presence(False)])
def test_a_shared_event_renders_as_for_each_bunny_without_the_database(
    event, bob, django_assert_num_queries
):
    with django_assert_num_queries(0):
        shared = live.shared_page_html(event)

    assert shared == live.render_page_event(bob, event)
    assert shared.strip()


def test_each_event_has_its_own_html_however_often_it_is_rendered():
    online, offline = live.shared_page_html(presence(True)), live.shared_page_html(presence(False))

    assert "is-online" in online
    assert "is-online" not in offline
    assert live.shared_page_html(presence(True)) == online
    assert "Ann &lt;3 is typing" in live.shared_page_html(TYPING)


@pytest.mark.parametrize(
    "event",
    [
        {**TYPING, "seq": 3},  # durable events carry the page's seq marker, per bunny
        {"type": "chat.read", "conversation_id": 7},  # a fragment with a context hook
        {"type": "no.such.event"},
    ],
)
def test_other_events_are_rendered_per_bunny(event):
    assert live.shared_page_html(event) is None


def test_a_shared_fragment_takes_no_context():
    with pytest.raises(ValueError, match="takes no context"):
        live.register_page_fragment(
            "chat.typing", "chat/live/typing.html", lambda user, event: {}, shared=True
        )
