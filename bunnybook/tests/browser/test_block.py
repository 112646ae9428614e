"""Scenario 6: once Ann blocks Bob, he cannot find or reach her anywhere he tries."""

import pytest
from playwright.sync_api import expect

from bunnybook.tests.browser.support import no_script_errors
from chat import services as chat_services
from chat.tests.conftest import befriend
from social import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(ann, bob):
    """Friends with a post and a chat between them before the block."""
    befriend(ann, bob)
    post = services.create_post(author=ann, body="Ann's public carrot", visibility="public")
    conversation, _ = chat_services.start_conversation(user=bob, with_user=ann)
    return post, conversation


def test_after_ann_blocks_bob_he_cannot_find_or_reach_her(bunnies, ann, bob, history):
    post, _ = history
    ann_page = bunnies.open_as(ann, "/u/bob/")
    ann_page.once("dialog", lambda dialog: dialog.accept())  # "Block Bob? ..."
    ann_page.locator(".profile-head").get_by_role("button", name="Block").click()
    expect(ann_page.locator(".profile-head")).to_contain_text("Blocked")

    bob_page = bunnies.open_as(bob, "/search/?q=ann")
    expect(bob_page.get_by_role("heading", level=1)).to_contain_text("ann")
    expect(bob_page.locator("main .bunny-list")).to_have_count(0)
    expect(bob_page.get_by_text("No bunny matches")).to_be_visible()

    # The search box's live dropdown does not know her either.
    search = bob_page.get_by_role("searchbox", name="Search bunnies")
    search.press_sequentially("Ann", delay=50)
    expect(bob_page.locator(".search-dropdown a[href='/u/ann/']")).to_have_count(0)

    for path in ("/u/ann/", "/u/ann/friends/", f"/posts/{post.pk}/"):
        response = bob_page.goto(bunnies.url + path)
        assert response.status == 404, path
        expect(bob_page.get_by_text("Ann's public carrot")).to_have_count(0)

    bob_page.goto(bunnies.url + "/friends/")
    expect(bob_page.get_by_role("region", name="Your friends")).not_to_contain_text("Ann")
    bob_page.goto(bunnies.url + "/chat/")
    expect(bob_page.get_by_role("region", name="Start a chat")).not_to_contain_text("Ann")
    bob_page.goto(bunnies.url + "/")
    expect(bob_page.locator("#post-list")).not_to_contain_text("Ann's public carrot")
    no_script_errors(ann_page, bob_page)


def test_after_ann_blocks_bob_their_conversation_is_gone_for_him(bunnies, ann, bob, history):
    _, conversation = history
    ann_page = bunnies.open_as(ann, "/u/bob/")
    ann_page.once("dialog", lambda dialog: dialog.accept())
    ann_page.locator(".profile-head").get_by_role("button", name="Block").click()
    expect(ann_page.locator(".profile-head")).to_contain_text("Blocked")

    bob_page = bunnies.open_as(bob, "/chat/")
    expect(bob_page.get_by_role("region", name="Chats")).not_to_contain_text("Ann")
    response = bob_page.goto(f"{bunnies.url}/chat/{conversation.pk}/")
    assert response.status == 404
