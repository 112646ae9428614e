"""Scenario 5: Ann writes, edits; Bob sees it in his feed, likes and comments; markup in
a post stays text; scrolling the feed loads older posts."""

import pytest
from playwright.sync_api import expect

from bunnybook.tests.browser.support import no_script_errors
from chat.tests.conftest import befriend
from social import services
from social.selectors import FEED_PAGE_SIZE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 1">'
OLDER = FEED_PAGE_SIZE + 6


@pytest.fixture
def friends_with_history(ann, bob):
    befriend(ann, bob)
    for n in range(1, OLDER + 1):
        services.create_post(author=ann, body=f"Old burrow note {n}")
    return ann, bob


def test_a_post_is_written_edited_liked_commented_and_seen_by_a_friend(
    bunnies, friends_with_history
):
    ann, bob = friends_with_history
    ann_page = bunnies.open_as(ann, "/")
    ann_page.get_by_label("What's hopping?").fill(f"Carrots at dawn {XSS}")
    ann_page.get_by_role("button", name="Post", exact=True).click()
    post = ann_page.locator("#post-list article.post").first
    expect(post).to_contain_text(f"Carrots at dawn {XSS}")  # shown as text, not run
    expect(ann_page.get_by_label("What's hopping?")).to_have_value("")
    expect(post.locator(".post-body img")).to_have_count(0)

    post.get_by_role("link", name="Edit post").click()
    editor = ann_page.locator("#post-list article.post-editing")
    editor.get_by_label("Edit your post").fill(f"Carrots at sunrise {XSS}")
    editor.get_by_role("button", name="Save").click()
    post = ann_page.locator("#post-list article.post").first
    expect(post).to_contain_text("Carrots at sunrise")
    expect(post.locator(".edited")).to_have_text("edited")
    post_id = post.get_attribute("id")

    bob_page = bunnies.open_as(bob, "/")
    bobs_copy = bob_page.locator(f"#{post_id}")
    expect(bobs_copy).to_contain_text(f"Carrots at sunrise {XSS}")
    expect(bobs_copy.get_by_role("link", name="Edit post")).to_have_count(0)  # not his
    like = bobs_copy.get_by_role("button", name="Like this post")
    like.click()
    expect(bobs_copy.get_by_role("button", name="Like this post")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(bobs_copy.locator(".like-count")).to_contain_text("1")
    bobs_copy.get_by_label("Write a comment").fill("Save me some <i>please</i>")
    bobs_copy.get_by_role("button", name="Comment").click()
    expect(bobs_copy.locator(".comment-list")).to_contain_text("Save me some <i>please</i>")
    expect(bobs_copy.get_by_label("Write a comment")).to_have_value("")

    # Ann hears of the like and the comment live, and finds both on her post.
    expect(ann_page.locator("#notification-badge")).to_contain_text("2")
    ann_page.reload()
    mine = ann_page.locator(f"#{post_id}")
    expect(mine.locator(".like-count")).to_contain_text("1")
    expect(mine.locator(".comment-list")).to_contain_text("Save me some <i>please</i>")
    mine.locator(".post-when a").click()  # the post's own page names who liked it
    expect(ann_page.locator(".likers")).to_contain_text("Liked by Bob")
    assert ann_page.evaluate("window.pwned") is None
    assert bob_page.evaluate("window.pwned") is None
    no_script_errors(ann_page, bob_page)


def test_scrolling_the_feed_loads_older_posts(bunnies, friends_with_history):
    _, bob = friends_with_history
    page = bunnies.open_as(bob, "/")
    posts = page.locator("#post-list article.post")
    expect(posts).to_have_count(FEED_PAGE_SIZE)
    expect(page.get_by_text("Old burrow note 1", exact=True)).to_have_count(0)

    posts.last.scroll_into_view_if_needed()
    page.mouse.wheel(0, 5000)
    expect(posts).to_have_count(OLDER)
    oldest = page.get_by_text("Old burrow note 1", exact=True)
    expect(oldest).to_be_visible()
    expect(page.locator("#post-list .sentinel")).to_have_count(0)  # nothing older left
    # Newest first, no post twice.
    bodies = posts.locator(".post-body").all_inner_texts()
    assert bodies == [f"Old burrow note {n}" for n in range(OLDER, 0, -1)]
    no_script_errors(page)
