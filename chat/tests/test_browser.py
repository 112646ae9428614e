"""Two bunnies chatting in a real Chromium against a real daphne: live messages, typing,
read state, escaping, and the reconnect path."""

import shutil
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect, sync_playwright

from bunnybook.tests.browser.support import wait_until_the_server_settles
from chat import services
from chat.tests.conftest import befriend
from chat.tests.servers import Daphne

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WAIT_MS = 5000


def session_id(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture(scope="module")
def server(django_db_setup):
    daphne = Daphne().start()
    yield daphne
    daphne.stop()


@pytest.fixture
def conversation(ann, bob):
    befriend(ann, bob)
    conversation, _ = services.start_conversation(user=ann, with_user=bob)
    return conversation


@pytest.fixture
def sessions(ann, bob):
    return {"ann": session_id(ann), "bob": session_id(bob)}


@pytest.fixture
def browser(server, conversation, sessions):
    """Last: Playwright's sync API runs an event loop in this thread, after which the ORM
    refuses to work here, so every row the test needs exists before it starts."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make chromium` (make test does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
    wait_until_the_server_settles()  # before the flush (see there)


DESKTOP = {"width": 1100, "height": 800}
PHONE = {"width": 360, "height": 740}


def open_as(browser, server, session: str, path: str, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server.url + path)
    page.wait_for_function(
        # A function, not an expression: Playwright evals expressions, which our CSP forbids.
        "() => document.getElementById('live-socket').dataset.state === 'open'",
        timeout=WAIT_MS,
    )
    return page


def test_a_message_typed_by_bob_appears_live_for_ann_with_typing_shown_and_cleared(
    browser, server, conversation, sessions
):
    path = f"/chat/{conversation.pk}/"
    ann_page = open_as(browser, server, sessions["ann"], path)
    bob_page = open_as(browser, server, sessions["bob"], path)
    composer = bob_page.locator(f"#composer-body-{conversation.pk}")
    ann_typing = ann_page.locator(f"#typing-{conversation.pk}")
    ann_log = ann_page.locator(f"#messages-{conversation.pk}")

    composer.press_sequentially("Hi Ann <b>!</b>")
    expect(ann_typing).to_have_text("Bob is typing…", timeout=WAIT_MS)
    expect(ann_page.locator(f"#conversation-typing-{conversation.pk}")).to_have_text("typing…")

    composer.press("Enter")
    expect(ann_log.locator("li.message").last).to_contain_text("Hi Ann <b>!</b>", timeout=WAIT_MS)
    expect(ann_typing).to_have_text("")  # at once when her message arrives
    bob_log = bob_page.locator(f"#messages-{conversation.pk}")
    expect(bob_log.locator("li.message.mine")).to_have_count(1, timeout=WAIT_MS)
    expect(bob_log.locator("li.pending")).to_have_count(0)
    expect(composer).to_have_value("")
    # Ann has the conversation open: it is read at once and her badge stays empty.
    expect(ann_page.locator("#chat-unread-badge")).to_have_class("badge is-empty")

    bob_page.wait_for_timeout(2100)  # typing frames go out at most every 2 s
    composer.press_sequentially("still here")
    expect(ann_typing).to_have_text("Bob is typing…", timeout=WAIT_MS)
    expect(ann_typing).to_have_text("", timeout=7000)  # cleared 5 s after the last one

    assert ann_page.errors == []
    assert bob_page.errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_badge_and_list_update_live_and_opening_reads(
    browser, server, conversation, sessions, viewport
):
    ann_page = open_as(browser, server, sessions["ann"], "/chat/", viewport)
    bob_page = open_as(browser, server, sessions["bob"], f"/chat/{conversation.pk}/")
    composer = bob_page.locator(f"#composer-body-{conversation.pk}")
    for text in ("one", "two"):
        composer.fill(text)
        composer.press("Enter")
    expect(ann_page.locator("#chat-unread-badge")).to_have_text(
        "2 unread messages", timeout=WAIT_MS
    )
    expect(ann_page.locator(f"#conversation-unread-{conversation.pk}")).to_contain_text("2")
    expect(ann_page.locator(f"#conversation-{conversation.pk}")).to_contain_text("two")

    ann_page.locator(f"#conversation-{conversation.pk} a").click()
    expect(ann_page.locator(f"#messages-{conversation.pk} li.message")).to_have_count(2)
    expect(ann_page.locator("#chat-unread-badge")).to_have_class("badge is-empty")
    assert ann_page.errors == []


def test_on_a_phone_the_open_conversation_is_read_and_the_badge_stays_dark(
    browser, server, conversation, sessions
):
    ann_page = open_as(browser, server, sessions["ann"], f"/chat/{conversation.pk}/", PHONE)
    # The conversation fits the screen: she can type without scrolling to the composer.
    expect(ann_page.locator(f"#composer-body-{conversation.pk}")).to_be_in_viewport(ratio=1)
    bob_page = open_as(browser, server, sessions["bob"], f"/chat/{conversation.pk}/")
    composer = bob_page.locator(f"#composer-body-{conversation.pk}")
    composer.fill("Read me on your phone")
    composer.press("Enter")
    ann_log = ann_page.locator(f"#messages-{conversation.pk}")
    expect(ann_log.locator("li.message").last).to_contain_text("Read me", timeout=WAIT_MS)
    expect(ann_page.locator("#chat-unread-badge")).to_have_class("badge is-empty", timeout=WAIT_MS)
    ann_page.reload()  # and the server agrees: it was read
    expect(ann_page.locator("#chat-unread-badge")).to_have_class("badge is-empty")
    assert ann_page.errors == []


def test_without_the_socket_the_composer_posts_over_http(browser, server, conversation, sessions):
    bob_page = open_as(browser, server, sessions["bob"], f"/chat/{conversation.pk}/")
    bob_page.evaluate("document.getElementById('live-socket').remove()")  # socket gone
    bob_page.wait_for_timeout(200)
    composer = bob_page.locator(f"#composer-body-{conversation.pk}")
    composer.fill("Sent over plain HTTP")
    composer.press("Enter")
    log = bob_page.locator(f"#messages-{conversation.pk}")
    expect(log.locator("li.message.mine")).to_contain_text("Sent over plain HTTP", timeout=WAIT_MS)
    expect(composer).to_have_value("")
    assert bob_page.errors == []


def test_the_message_button_on_a_profile_opens_the_chat_and_reading_clears_every_tab(
    browser, server, conversation, sessions
):
    bob_page = open_as(browser, server, sessions["bob"], f"/chat/{conversation.pk}/")
    composer = bob_page.locator(f"#composer-body-{conversation.pk}")
    composer.fill("Come and chat")
    composer.press("Enter")
    ann_feed = open_as(browser, server, sessions["ann"], "/")
    expect(ann_feed.locator("#chat-unread-badge")).to_have_text("1 unread messages")

    ann_profile = open_as(browser, server, sessions["ann"], "/u/bob/")
    ann_profile.get_by_role("button", name="Message Bob").click()
    expect(ann_profile).to_have_url(f"{server.url}/chat/{conversation.pk}/")
    expect(ann_profile.locator(f"#messages-{conversation.pk} .message-body")).to_have_text(
        ["Come and chat"]
    )
    # Opening it read it: her other tab's badge empties too, without a reload.
    expect(ann_feed.locator("#chat-unread-badge")).to_have_class("badge is-empty", timeout=WAIT_MS)
    assert ann_feed.errors == []
    assert ann_profile.errors == []
