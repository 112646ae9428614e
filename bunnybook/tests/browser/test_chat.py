"""Scenarios 3, 4 and 7: chat as two bunnies see it (unread badge, typing, live messages),
presence dots following Bob's tabs, and a dropped socket that comes back without losing or
doubling what was sent meanwhile."""

import re

import pytest
from playwright.sync_api import Page, expect

from bunnybook.tests.browser.support import no_script_errors, wait_live
from chat.tests.conftest import befriend

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONLINE = re.compile(r"\bis-online\b")


@pytest.fixture
def friends(ann, bob):
    befriend(ann, bob)
    return ann, bob


def open_chat_with(page: Page, name: str) -> str:
    """From the chat list's "Start a chat", open the conversation with `name`; its id."""
    page.get_by_role("link", name="Chat").first.click()
    page.get_by_role("region", name="Start a chat").get_by_role(
        "button", name=f"Message {name}"
    ).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    wait_live(page)
    return page.locator("[data-open-conversation]").get_attribute("data-open-conversation")


def send(page: Page, conversation_id: str, text: str) -> None:
    composer = page.locator(f"#composer-body-{conversation_id}")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def test_bob_types_and_writes_ann_sees_it_live_and_her_unread_badge_behaves(bunnies, friends):
    ann, bob = friends
    ann_page = bunnies.open_as(ann, "/")
    bob_page = bunnies.open_as(bob, "/")
    conversation = open_chat_with(bob_page, "Ann")

    # Ann is on her feed: Bob's message lights her chat badge up, no reload.
    send(bob_page, conversation, "Are you around?")
    badge = ann_page.locator("#chat-unread-badge")
    expect(badge).to_have_text("1 unread messages")
    send(bob_page, conversation, "I found clover")
    expect(badge).to_have_text("2 unread messages")

    ann_page.locator("#chat-unread-badge").click()  # the badge sits in the Chat link
    row = ann_page.locator(f"#conversation-{conversation}")
    expect(row).to_contain_text("I found clover")
    expect(ann_page.locator(f"#conversation-unread-{conversation}")).to_contain_text("2")
    row.get_by_role("link").click()
    log = ann_page.get_by_role("log", name="Messages with Bob")
    expect(log.locator("li.message")).to_have_text(
        [re.compile("Are you around"), re.compile("I found clover")]
    )
    expect(badge).to_have_class("badge is-empty")  # opening the conversation read it
    wait_live(ann_page)

    # Bob types: Ann sees it, and it goes away by itself when he stops.
    typing = ann_page.locator(f"#typing-{conversation}")
    # At a bunny's pace: typing frames go out at most every 2 s, and one just went out with
    # his last message.
    bob_page.locator(f"#composer-body-{conversation}").press_sequentially(
        "Where is the clover patch", delay=150
    )
    expect(typing).to_have_text("Bob is typing…")
    expect(typing).to_have_text("", timeout=9000)  # cleared 5 s after the last frame

    # His message arrives in her open window without a reload; she has read it at once.
    bob_page.locator(f"#composer-body-{conversation}").press_sequentially("? <b>here</b>")
    bob_page.locator(f"#composer-body-{conversation}").press("Enter")
    expect(log.locator("li.message").last).to_contain_text("Where is the clover patch? <b>here</b>")
    expect(log.locator("li.message")).to_have_count(3)
    expect(typing).to_have_text("")
    expect(badge).to_have_class("badge is-empty")
    expect(ann_page.locator(f"#conversation-unread-{conversation}")).to_have_text("")
    no_script_errors(ann_page, bob_page)


def test_bobs_dot_follows_his_tabs_in_anns_friends_list(bunnies, friends):
    ann, bob = friends
    ann_page = bunnies.open_as(ann, "/friends/")
    dot = ann_page.get_by_role("region", name="Your friends").locator(f".presence-u{bob.pk}")
    expect(dot).not_to_have_class(ONLINE)
    expect(dot).to_have_attribute("title", "Offline")
    expect(dot).to_have_text("offline")  # what a screen reader says

    bob_context = bunnies.context("bob", user=bob)
    first_tab = bunnies.page(bob_context, "/")
    expect(dot).to_have_class(ONLINE)
    expect(dot).to_have_attribute("title", "Online")
    expect(dot).to_have_text("online")

    second_tab = bunnies.page(bob_context, "/friends/")
    first_tab.close()
    # Still one tab open: still online (the page keeps its dot; a reload must agree).
    ann_page.reload()
    wait_live(ann_page)
    expect(dot).to_have_class(ONLINE)

    second_tab.close()
    expect(dot).not_to_have_class(ONLINE)
    expect(dot).to_have_attribute("title", "Offline")
    bob_context.new_page().goto("about:blank")  # something to screenshot for Bob
    no_script_errors(ann_page)


def test_messages_sent_while_anns_socket_is_down_arrive_once_and_in_order(bunnies, friends):
    ann, bob = friends
    bob_page = bunnies.open_as(bob, "/")
    conversation = open_chat_with(bob_page, "Ann")
    send(bob_page, conversation, "before the drop")

    ann_page = bunnies.open_as(ann, f"/chat/{conversation}/")
    log = ann_page.get_by_role("log", name="Messages with Bob")
    expect(log.locator("li.message")).to_have_count(1)

    # Ann's network goes away and her socket with it: the page says it is reconnecting.
    # Closed first, while the close handshake can still complete (offline, the close event
    # may wait for a handshake timeout); the page retries no sooner than 500 ms later, by
    # when the offline emulation has reached it.
    ann_page.evaluate("htmx.find('#live-socket')['htmx-internal-data'].webSocket.socket.close()")
    ann_page.context.set_offline(True)
    ann_page.wait_for_function("() => !navigator.onLine")
    expect(ann_page.locator("#live-socket")).not_to_have_attribute("data-state", "open")
    expect(ann_page.get_by_text("Reconnecting…")).to_be_visible()

    sent_meanwhile = [f"while you were away {n}" for n in range(1, 5)]
    for text in sent_meanwhile:
        send(bob_page, conversation, text)
    expect(bob_page.locator(f"#messages-{conversation} li.message.mine")).to_have_count(5)
    expect(log.locator("li.message")).to_have_count(1)  # nothing can arrive while offline

    ann_page.context.set_offline(False)
    wait_live(ann_page)
    expected = ["before the drop", *sent_meanwhile]
    expect(log.locator("li.message .message-body")).to_have_text(expected, timeout=20_000)

    # And the live path still works after the reconnect, once per message.
    send(bob_page, conversation, "welcome back")
    expect(log.locator("li.message .message-body")).to_have_text([*expected, "welcome back"])
    expect(ann_page.get_by_text("Reconnecting…")).to_be_hidden()
    no_script_errors(ann_page, bob_page)
