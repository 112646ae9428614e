"""Scenario 2: a friend request lights up the other bunny's badge live, is accepted, and
the friends of the new friend become suggestions that name the mutual friend."""

import re

import pytest
from playwright.sync_api import expect

from bunnybook.tests.browser.support import no_script_errors
from conftest import make_bunny
from social.tests.factories import make_friends

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def burrow(ann, bob):
    """Bob has two friends, Cid and Dee, whom Ann does not know; Ann's one friend, Eve, is
    also Cid's friend."""
    cid, dee, eve = make_bunny("cid"), make_bunny("dee"), make_bunny("eve")
    make_friends(cid, bob)  # they asked, Bob accepted: Bob has nothing unread
    make_friends(dee, bob)
    make_friends(eve, ann)
    make_friends(eve, cid)
    return cid, dee, eve


def suggestion(panel, name):
    return panel.locator(".suggestion", has=panel.page.locator(".suggestion-name", has_text=name))


def test_a_friend_request_is_seen_live_accepted_and_changes_the_suggestions(
    bunnies, ann, bob, burrow
):
    bob_page = bunnies.open_as(bob, "/")
    bob_badge = bob_page.locator("#notification-badge")
    expect(bob_badge).to_have_class("badge is-empty")

    # Before: Ann's feed suggests Cid through Eve; Dee is nobody she could know.
    ann_page = bunnies.open_as(ann, "/")
    panel = ann_page.get_by_role("region", name="Bunnies you may know")
    expect(suggestion(panel, "Cid")).to_contain_text("1 mutual friend: Eve")
    expect(suggestion(panel, "Dee")).to_have_count(0)

    ann_page.goto(bunnies.url + "/u/bob/")
    ann_page.locator(".profile-head").get_by_role("button", name="Add friend").click()
    expect(ann_page.locator(".profile-head")).to_contain_text("Request sent")

    # Bob's badge lights up without a reload, and the menu says who asked.
    expect(bob_badge).to_contain_text("1")
    bob_page.get_by_text("Notifications", exact=True).click()
    expect(bob_page.locator("#notification-menu-list")).to_contain_text("Ann")

    bob_page.goto(bunnies.url + "/friends/")
    requests = bob_page.get_by_role("region", name="Requests for you")
    expect(requests).to_contain_text("Ann")
    requests.get_by_role("button", name="Accept").click()
    expect(requests).to_contain_text("Friends")
    bob_page.reload()
    expect(bob_page.get_by_role("region", name="Your friends")).to_contain_text("Ann")

    # Ann hears of the accept live too, and sees Bob as her friend.
    expect(ann_page.locator("#notification-badge")).to_contain_text("1")
    ann_page.goto(bunnies.url + "/friends/")
    expect(ann_page.get_by_role("region", name="Your friends")).to_contain_text("Bob")
    ann_page.goto(bunnies.url + "/u/bob/")
    expect(ann_page.locator(".profile-head")).to_contain_text("Friends")

    # After: Bob's friends are hers to meet, each with the friends they share named.
    ann_page.goto(bunnies.url + "/")
    panel = ann_page.get_by_role("region", name="Bunnies you may know")
    expect(suggestion(panel, "Cid")).to_contain_text(
        re.compile(r"2 mutual friends: (Bob and Eve|Eve and Bob)")
    )
    expect(suggestion(panel, "Dee")).to_contain_text("1 mutual friend: Bob")
    expect(suggestion(panel, "Bob")).to_have_count(0)  # a friend now, not a suggestion
    no_script_errors(ann_page, bob_page)
