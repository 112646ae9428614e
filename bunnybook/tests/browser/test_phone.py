"""Scenario 8: on a 360 by 740 phone the navigation, the feed and the chat are usable: nothing
wider than the screen, every place reachable, posting and chatting work."""

import pytest
from playwright.sync_api import Page, expect

from bunnybook.tests.browser.support import PHONE, no_script_errors, wait_live
from chat.tests.conftest import befriend
from social import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits_the_screen(page: Page) -> None:
    """No sideways scrolling: the page is no wider than the phone."""
    width, screen = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= screen == PHONE["width"], f"{page.url} is {width}px wide"


def test_navigation_feed_and_chat_work_on_a_phone(bunnies, ann, bob):
    befriend(ann, bob)
    services.create_post(author=bob, body="A long hop " * 40)
    ann_page = bunnies.open_as(ann, "/", viewport=PHONE)
    bob_page = bunnies.open_as(bob, "/", viewport=PHONE)

    nav = ann_page.get_by_role("navigation", name="Main")
    for name in ("Feed", "Friends", "Chat", "Settings"):
        expect(nav.get_by_role("link", name=name).first).to_be_visible()
    fits_the_screen(ann_page)
    expect(ann_page.locator("#post-list")).to_contain_text("A long hop")

    ann_page.get_by_label("What's hopping?").fill("Posting from my phone")
    ann_page.get_by_role("button", name="Post", exact=True).click()
    expect(ann_page.locator("#post-list article.post").first).to_contain_text(
        "Posting from my phone"
    )
    fits_the_screen(ann_page)

    nav.get_by_role("link", name="Friends").click()
    expect(ann_page.get_by_role("heading", name="Friends", level=1)).to_be_visible()
    fits_the_screen(ann_page)

    nav.get_by_role("link", name="Chat").first.click()
    ann_page.get_by_role("button", name="Message Bob").click()
    composer = ann_page.get_by_role("textbox", name="Message to Bob")
    expect(composer).to_be_visible()
    expect(ann_page.get_by_role("button", name="Send")).to_be_visible()
    fits_the_screen(ann_page)
    wait_live(ann_page)
    conversation = ann_page.locator("[data-open-conversation]").get_attribute(
        "data-open-conversation"
    )
    composer.fill("Hello from a small screen")
    ann_page.get_by_role("button", name="Send").click()
    expect(ann_page.get_by_role("log")).to_contain_text("Hello from a small screen")

    bob_page.goto(f"{bunnies.url}/chat/{conversation}/")
    wait_live(bob_page)
    expect(bob_page.get_by_role("log")).to_contain_text("Hello from a small screen")
    bob_page.get_by_role("textbox", name="Message to Ann").fill("Hi Ann!")
    bob_page.get_by_role("textbox", name="Message to Ann").press("Enter")
    expect(ann_page.get_by_role("log").locator("li.message").last).to_contain_text("Hi Ann!")
    # She is reading it: the badge in the phone's navigation clears by itself.
    expect(ann_page.locator("#chat-unread-badge")).to_have_class("badge is-empty")
    expect(ann_page.get_by_role("link", name="Chats").first).to_be_visible()  # the way back
    fits_the_screen(bob_page)
    no_script_errors(ann_page, bob_page)
