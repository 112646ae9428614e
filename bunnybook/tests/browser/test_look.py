"""The look: light or dark following the device, with the bunny's own choice (the nav's
switch or the settings page) kept in a cookie and rendered by the server on every page."""

import pytest
from playwright.sync_api import Page, expect

from bunnybook.tests.browser.support import no_script_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def is_dark(color: str) -> bool:
    red, green, blue = (int(part) for part in color.removeprefix("rgb(").rstrip(")").split(","))
    return (red + green + blue) / 3 < 128


def theme_cookie(page: Page) -> str | None:
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    return cookies.get("theme")


def test_the_theme_follows_the_device_until_the_bunny_chooses_one(bunnies, ann):
    context = bunnies.context("ann", user=ann)
    page = bunnies.page(context, "/")
    page.emulate_media(color_scheme="dark")
    switch = page.get_by_role("button", name="Dark mode")
    expect(switch).to_have_attribute("aria-pressed", "true")
    assert is_dark(background(page))

    # The switch turns the lights on, on this page at once and on the next ones.
    switch.click()
    expect(switch).to_have_attribute("aria-pressed", "false")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert not is_dark(background(page))
    assert theme_cookie(page) == "light"
    response = page.goto(bunnies.url + "/friends/")
    assert '<html lang="en" data-theme="light">' in response.text()  # no flash on load
    assert not is_dark(background(page))

    # The settings page shows the choice and can hand it back to the device.
    page.goto(bunnies.url + "/settings/")
    appearance = page.get_by_role("group", name="Colours")
    expect(appearance.get_by_role("radio", name="Light")).to_be_checked()
    appearance.get_by_role("radio", name="Match my device").check()
    expect(page.locator("html")).not_to_have_attribute("data-theme", "light")
    assert is_dark(background(page))
    assert theme_cookie(page) is None
    page.emulate_media(color_scheme="light")  # the device changes its mind: so does the page
    expect(page.get_by_role("button", name="Dark mode")).to_have_attribute("aria-pressed", "false")
    assert not is_dark(background(page))

    appearance.get_by_role("radio", name="Dark").check()
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert is_dark(background(page))
    no_script_errors(page)


def test_a_visitor_can_switch_the_theme_too(bunnies):
    page = bunnies.page(bunnies.context("visitor"), "/login/", live=False)
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Dark mode").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert is_dark(background(page))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("button", name="Dark mode")).to_have_attribute("aria-pressed", "true")
    assert is_dark(background(page))
    no_script_errors(page)


def test_on_a_wide_screen_the_top_bar_is_one_row_even_for_a_long_name(bunnies, ann):
    ann.display_name = "Annabelle Thumperington-Hopsalot of Clover Meadow"
    ann.save(update_fields=["display_name"])
    page = bunnies.page(bunnies.context("ann", user=ann), "/")  # 1,280 px wide

    brand = page.locator(".brand").bounding_box()
    log_out = page.get_by_role("button", name="Log out").bounding_box()
    brand_middle = brand["y"] + brand["height"] / 2
    assert abs(log_out["y"] + log_out["height"] / 2 - brand_middle) < 4  # not on a second row
    no_script_errors(page)
