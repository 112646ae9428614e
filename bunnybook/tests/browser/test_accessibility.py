"""axe-core (vendored from the npm registry, vendor/axe.min.js) on every main page, in the
light and the dark scheme: no serious or critical violation anywhere."""

import pytest

from bunnybook.tests.browser.support import axe_violations, wait_live
from chat import services as chat_services
from chat.tests.conftest import befriend
from conftest import make_bunny
from social import services
from social.tests.factories import make_friends

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC_PAGES = ["/", "/signup/", "/login/"]


@pytest.fixture
def lived_in(ann, bob):
    """Pages with something on them: friends, a request, posts, comments, a chat."""
    befriend(ann, bob)
    cid = make_bunny("cid")
    make_friends(bob, cid)
    services.send_friend_request(sender=cid, to=ann)
    post = services.create_post(author=bob, body="Clover <em>season</em> is here")
    services.add_comment(post=post, author=ann, body="Finally!")
    services.like_post(post=post, user=ann)
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)
    chat_services.send_message(
        sender=bob,
        conversation_id=conversation.pk,
        body="See you at the burrow",
        client_id="00000000-0000-4000-8000-000000000001",
    )
    return post, conversation


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_main_page_has_no_serious_accessibility_violations(bunnies, ann, lived_in, scheme):
    post, conversation = lived_in
    member_pages = [
        "/",
        "/u/bob/",
        "/friends/",
        "/search/?q=bo",
        f"/posts/{post.pk}/",
        "/chat/",
        f"/chat/{conversation.pk}/",
        "/notifications/",
        "/settings/",
    ]
    found = []
    visitor = bunnies.page(bunnies.context(f"visitor-{scheme}"), "/", live=False)
    visitor.emulate_media(color_scheme=scheme)
    for path in PUBLIC_PAGES:
        visitor.goto(bunnies.url + path)
        found += [f"{path} {line}" for line in axe_violations(visitor)]

    member = bunnies.page(bunnies.context(f"ann-{scheme}", user=ann), "/", live=False)
    member.emulate_media(color_scheme=scheme)
    for path in member_pages:
        member.goto(bunnies.url + path)
        wait_live(member)  # live fragments (badges, status) are part of the page
        found += [f"{path} {line}" for line in axe_violations(member)]
    assert found == [], "\n".join(found)
