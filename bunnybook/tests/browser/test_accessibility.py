"""Every main page, as a visitor and as a member: axe-core (vendored from the npm registry,
vendor/axe.min.js) finds no serious or critical violation, every field has a label, every
image a text alternative, and nothing is wider than the screen. Light at 1440 px wide and
dark at 360 px, so both schemes and both ends of the layout are covered in one pass."""

import pytest

from bunnybook.tests.browser.support import axe_violations, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC_PAGES = ["/", "/signup/", "/login/", "/password/reset/"]

# Fields without a label, images without an alt attribute, and sideways scrolling.
PAGE_PROBLEMS = """() => {
  const problems = [];
  const fields = document.querySelectorAll(
    "input:not([type=hidden]), textarea, select");
  for (const field of fields) {
    const named = field.labels.length || field.getAttribute("aria-label")
      || field.getAttribute("aria-labelledby");
    if (!named) problems.push("field without a label: " + field.outerHTML.slice(0, 120));
  }
  for (const image of document.querySelectorAll("img")) {
    if (!image.hasAttribute("alt")) problems.push("image without alt: " + image.src);
  }
  const width = document.scrollingElement.scrollWidth;
  if (width > window.innerWidth) {
    problems.push("scrolls sideways: " + width + "px in " + window.innerWidth + "px");
  }
  return problems;
}"""


@pytest.mark.parametrize(
    ("scheme", "width"), [("light", 1440), ("dark", 360)], ids=["light-1440", "dark-360"]
)
def test_every_main_page_is_accessible_and_fits_the_screen(bunnies, ann, lived_in, scheme, width):
    viewport = {"width": width, "height": 900}
    found = []
    visitor = bunnies.page(bunnies.context("visitor", viewport=viewport), "/", live=False)
    visitor.emulate_media(color_scheme=scheme)
    for path in PUBLIC_PAGES:
        visitor.goto(bunnies.url + path)
        found += [f"{path} {line}" for line in axe_violations(visitor)]
        found += [f"{path} {line}" for line in visitor.evaluate(PAGE_PROBLEMS)]

    member = bunnies.page(bunnies.context("ann", user=ann, viewport=viewport), "/", live=False)
    member.emulate_media(color_scheme=scheme)
    for path in lived_in:
        member.goto(bunnies.url + path)
        wait_live(member)  # live fragments (badges, status) are part of the page
        found += [f"{path} {line}" for line in axe_violations(member)]
        found += [f"{path} {line}" for line in member.evaluate(PAGE_PROBLEMS)]
    assert found == [], "\n".join(found)
