"""Scenario 1: a new bunny signs up through the forms, sees the drawn avatar, re-rolls it,
logs out and logs back in (with the server's real password hasher)."""

import pytest
from playwright.sync_api import Page, expect

from bunnybook.tests.browser.support import no_script_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "long-ears-and-clover-77"


def loaded_image_src(page: Page, selector: str) -> str:
    """The image is there and drawn (not a broken icon); its source."""
    image = page.locator(selector)
    expect(image).to_be_visible()
    page.wait_for_function(
        "selector => { const img = document.querySelector(selector);"
        " return img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
    )
    return image.get_attribute("src")


def test_a_new_bunny_signs_up_rerolls_the_avatar_logs_out_and_in(bunnies):
    page = bunnies.page(bunnies.context("newcomer"), "/", live=False)
    page.get_by_role("link", name="Create your bunny").click()

    page.get_by_label("Username").fill("hazel")
    page.get_by_label("Display name").fill("Hazel Hopper")
    page.get_by_label("Email").fill("hazel@bunnies.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_text("Welcome to Bunnybook! Here is your bunny.")).to_be_visible()
    first = loaded_image_src(page, "#avatar-editor img")
    expect(page.get_by_role("img", name="Your bunny avatar")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Hazel Hopper")

    page.get_by_role("button", name="Draw me a new bunny").click()
    expect(page.locator("#avatar-editor img")).not_to_have_attribute("src", first)
    second = loaded_image_src(page, "#avatar-editor img")
    page.reload()  # it was saved: the new bunny is the one shown everywhere
    expect(page.locator("#avatar-editor img")).to_have_attribute("src", second)
    expect(page.locator(".nav-me img")).to_have_attribute("src", second)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Hazel Hopper")

    page.get_by_label("Username or email").fill("hazel")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Latest from you and your friends")).to_be_visible()
    expect(page.locator(".nav-me img")).to_have_attribute("src", second)
    no_script_errors(page)
