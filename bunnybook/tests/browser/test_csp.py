"""Our pages under their real Content-Security-Policy in Chromium: htmx actions, the live
socket and every main page work without a single violation (no inline script or style)."""

import uuid

import pytest
from playwright.sync_api import expect

from bunnybook.tests.browser.support import no_script_errors
from chat import services as chat_services
from chat.tests.conftest import befriend
from social import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# An init script is the browser's, not the page's: the policy does not apply to it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def test_every_main_page_and_live_update_runs_under_the_csp_without_violations(bunnies, ann, bob):
    befriend(ann, bob)
    post = services.create_post(author=bob, wall=ann, body="Clover under a strict policy")
    conversation, _ = chat_services.start_conversation(user=ann, with_user=bob)
    context = bunnies.context("ann", user=ann)
    context.add_init_script(RECORD_VIOLATIONS)
    console = []
    context.on(
        "console",
        lambda message: "Content Security Policy" in message.text and console.append(message.text),
    )
    pages = []
    for path in (
        "/",
        "/u/bob/",
        "/friends/",
        "/notifications/",
        "/settings/",
        f"/posts/{post.pk}/",
        "/search/?q=bo",
        f"/chat/{conversation.pk}/",
    ):
        page = bunnies.page(context, path)  # waits for the live socket: connect-src works
        pages.append(page)
        assert page.evaluate("window.cspViolations") == [], path

    feed = pages[0]
    card = feed.locator(f"#post-{post.pk}")
    card.get_by_role("button", name="Like this post").click()  # htmx under the policy
    expect(card.get_by_role("button", name="Like this post")).to_have_attribute(
        "aria-pressed", "true"
    )
    chat_page = pages[-1]
    chat_services.send_message(
        sender=bob, conversation_id=conversation.pk, body="Live, no inline", client_id=uuid.uuid4()
    )
    expect(chat_page.locator("#main")).to_contain_text("Live, no inline")

    for page in pages:
        assert page.evaluate("window.cspViolations") == [], page.url
    assert console == []
    no_script_errors(*pages)
