"""Keyboard and screen reader use: every main control is reached with Tab and shows where
the focus is, focus stays on the control after an htmx swap, and the chat log announces new
messages, not the history loaded above them."""

import pytest
from playwright.sync_api import Page, expect

from bunnybook.tests.browser.support import no_script_errors, wait_live
from chat import services as chat_services
from chat.tests.conftest import befriend

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element: what a screen reader would call it, and whether a sighted bunny can
# see the focus (an outline or a ring drawn with box-shadow).
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const label = el.getAttribute("aria-label")
    || (el.labels && el.labels.length && el.labels[0].textContent)
    || el.textContent || el.getAttribute("placeholder") || el.tagName;
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const box = el.getBoundingClientRect();
  return {
    name: label.replace(/\\s+/g, " ").trim(),
    visible: outline || style.boxShadow !== "none",
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
      && box.top < window.innerHeight && box.left < window.innerWidth,
  };
}"""


def tab_through(page: Page, presses: int) -> list[dict]:
    """Where Tab stops, from the top of the page to its end (or `presses` stops)."""
    reached = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            break  # past the last control
        reached.append(page.evaluate(FOCUSED))
    return reached


def test_the_feeds_controls_are_reached_by_tab_with_the_focus_visible(bunnies, ann, lived_in):
    page = bunnies.open_as(ann, "/")
    # The first stop is the skip link, shown when focused; it takes the focus past the
    # navigation, to the page's content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.reload()
    wait_live(page)
    reached = tab_through(page, 40)
    names = [stop["name"] for stop in reached]
    assert names[0] == "Skip to content"
    for control in (
        "Bunnybook",
        "Search bunnies",
        "Feed",
        "Friends",
        "Chat",
        "Ann",
        "Notifications",
        "Settings",
        "Dark mode",
        "Log out",
        "Accept Cid's friend request",
        "What's hopping?",
        "Post",
        "Like this post",
        "Write a comment",
    ):
        assert any(control in name for name in names), (control, names)
    hidden = [stop for stop in reached if not (stop["visible"] and stop["onScreen"])]
    assert hidden == [], hidden
    no_script_errors(page)


def test_focus_stays_on_the_control_after_an_htmx_swap(bunnies, ann, lived_in):
    page = bunnies.open_as(ann, "/")

    # Accepting Cid's request with the keyboard: the row's button becomes "Unfriend", focused.
    requests = page.get_by_role("region", name="Friend requests")
    requests.get_by_role("button", name="Accept Cid's friend request").focus()
    page.keyboard.press("Enter")
    unfriend = requests.get_by_role("button", name="Unfriend Cid")
    expect(unfriend).to_be_focused()

    # Ann's like taken back and given again with the space bar: the focus stays on it.
    post = page.locator("#post-list article.post").first
    like = post.get_by_role("button", name="Like this post")
    expect(like).to_have_attribute("aria-pressed", "true")
    like.focus()
    page.keyboard.press("Space")
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like).to_be_focused()
    page.keyboard.press("Space")
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like).to_be_focused()

    # A comment from the keyboard: the box empties and keeps the focus for the next one.
    comment = post.get_by_label("Write a comment")
    comment.focus()
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Tab")
    expect(post.get_by_role("button", name="Comment", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(post.locator(".comment-list")).to_contain_text("Typed without a mouse")
    assert page.evaluate("document.activeElement !== document.body")

    # Deleting the first comment: its card is gone, the focus moves to its neighbour
    # instead of falling back to the top of the page.
    comments = post.locator(".comment-list .comment")
    expect(comments).to_have_count(2)
    comments.first.get_by_role("button", name="Delete comment").focus()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(comments).to_have_count(1)
    expect(post.locator(".comment-list")).not_to_contain_text("Finally!")
    # A function, not an expression: Playwright evals expressions, which our CSP forbids.
    page.wait_for_function("() => document.activeElement !== document.body")
    assert page.evaluate("document.activeElement.closest('.comment-list') !== null")
    no_script_errors(page)


LOG_WATCH = """() => {
  const log = document.querySelector("[role=log]");
  window.logAdditions = [];
  new MutationObserver(records => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.matches && node.matches("li.message")) {
          window.logAdditions.push([node.querySelector(".message-body").textContent.trim(),
                                    log.getAttribute("aria-live")]);
        }
      }
    }
  }).observe(log, {childList: true, subtree: true});
}"""


def test_the_chat_log_announces_new_messages_not_history(bunnies, ann, bob):
    befriend(ann, bob)
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)
    for n in range(1, 56):  # more than a page (CHAT_PAGE_SIZE 50); two senders, in their rate
        chat_services.send_message(
            sender=bob if n % 2 else ann,
            conversation_id=conversation.pk,
            body=f"history-{n}",
            client_id=f"00000000-0000-4000-8000-{n:012d}",
        )
    page = bunnies.open_as(ann, f"/chat/{conversation.pk}/")
    log = page.get_by_role("log", name="Messages with Bob")
    expect(log).to_have_attribute("aria-live", "polite")
    # What changes around the log (typing, the composer) is outside it.
    expect(log.locator("[data-typing], textarea")).to_have_count(0)
    page.evaluate(LOG_WATCH)

    page.locator(".older-messages").scroll_into_view_if_needed()
    expect(log.locator("li.message")).to_have_count(55)
    expect(log).to_have_attribute("aria-live", "polite")  # speaks again afterwards

    bob_page = bunnies.open_as(bob, f"/chat/{conversation.pk}/")
    composer = bob_page.get_by_role("textbox", name="Message to Ann")
    composer.fill("news-now")
    composer.press("Enter")
    expect(log.locator("li.message").last).to_contain_text("news-now")
    wait_live(page)

    additions = page.evaluate("window.logAdditions")
    history = [mode for text, mode in additions if text.startswith("history-")]
    assert len(history) == 5
    assert set(history) == {"off"}
    assert [mode for text, mode in additions if text == "news-now"] == ["polite"]
    no_script_errors(page, bob_page)
