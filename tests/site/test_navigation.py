"""What a reader does with the site's own controls, in headless Chromium: search, switch to dark
mode, move between pages without reloading, and what the pages look like (screenshots)."""

from __future__ import annotations

import pytest
from mkdocs.config import load_config

from hooks import pages
from tests.site.browser import offline_page, serve

pytestmark = pytest.mark.site

SITE_URL = load_config(str(pages.ROOT / "mkdocs.yml"))["site_url"]
# A query a reader types, and the page that must come first.
SEARCHES = {
    "batch normalization": "foundations/batch-normalization/",
    "LSTM": "architectures/recurrent-networks/",
    "backpropagation": "foundations/backpropagation/",
    "transfer learning": "training/transfer-learning/",
}
SCREENSHOT_DIR = pages.ROOT / ".cache" / "screenshots"  # the CI workflow keeps them
SCREENSHOT_PAGES = {  # a name for each: the home page, a topic page, the notebook, an API page
    "home": "",
    "backpropagation": "foundations/backpropagation/",
    "notebook": "projects/image-classification/",
    "reference": "reference/models/transformer/",
}


@pytest.fixture(scope="module")
def browser_page(built_site):
    """One Chromium page on the built site, served on localhost with no other network."""
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        yield page, base_url
        assert not blocked, f"the site tried to reach outside itself: {blocked}"


def _first_result(page, query: str) -> str:
    """Type ``query`` into the search box; the address of the first result."""
    box = page.locator("input.md-search__input")
    box.click()
    # Once Material's search worker has built its index (slow on a busy machine), enter the
    # query and press a key: Material searches on key presses (``keyup``), not on a value set by
    # script, and typed key by key the first results would be those of the first letters (one key
    # press after the whole query searches once, for all of it).
    page.wait_for_function(
        "!document.querySelector('.md-search-result__meta').textContent.includes('Initializing')",
        timeout=120_000,
    )
    box.fill(query)
    box.press("End")
    first = page.locator(".md-search-result__item a").first
    first.wait_for(state="attached")
    return first.get_attribute("href")


@pytest.mark.parametrize("query", SEARCHES)
def test_search_finds_the_page_a_reader_means(browser_page, query):
    page, base_url = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base_url, wait_until="load")
    href = _first_result(page, query)
    assert href.split("?")[0].split("#")[0].endswith(SEARCHES[query]), (
        f"{query!r}: first result is {href}"
    )


def test_dark_mode_toggles_and_is_remembered(browser_page):
    page, base_url = browser_page
    page.goto(base_url + "foundations/optimizers/", wait_until="load")
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.locator("label[title='Switch to dark mode']").click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    assert page.evaluate(background) != light
    page.goto(base_url, wait_until="load")  # another page keeps the reader's choice
    assert page.evaluate("document.body.dataset.mdColorScheme") == "slate"
    page.locator("label[title='Switch to light mode']").click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'default'")


def test_links_between_pages_load_without_reloading_the_page(browser_page):
    """Material's instant navigation: the page's scripts and search index stay loaded.

    Material follows a link instantly when its address is in the sitemap, which lists the pages
    at ``site_url``; served here on localhost, the sitemap is the one a build for this address has.
    """
    page, base_url = browser_page

    def local_sitemap(route):
        sitemap = route.fetch().text().replace(SITE_URL.rstrip("/") + "/", base_url)
        route.fulfill(body=sitemap, content_type="application/xml")

    page.route("**/sitemap.xml", local_sitemap)
    page.goto(base_url, wait_until="networkidle")
    page.evaluate("window.dlrefStillHere = true")
    page.locator(".md-nav__link[href$='foundations/optimizers/']").first.click()
    page.wait_for_url("**/foundations/optimizers/")
    page.locator("h1").filter(has_text="Optimizers").wait_for()
    assert page.evaluate("window.dlrefStillHere === true"), "the click reloaded the whole page"


@pytest.mark.parametrize("scheme", ["default", "slate"])
def test_screenshots_of_a_few_pages_on_a_phone_and_a_desktop(browser_page, scheme):
    """Saved in .cache/screenshots/ for a person to look at (the CI run keeps them)."""
    page, base_url = browser_page
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for name, url in SCREENSHOT_PAGES.items():
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(base_url + url, wait_until="load")
            page.evaluate(f"document.body.dataset.mdColorScheme = '{scheme}'")
            file = SCREENSHOT_DIR / f"{name}-{width}-{'dark' if scheme == 'slate' else 'light'}.png"
            page.screenshot(path=file)
            assert file.stat().st_size > 10_000, f"{file.name} is blank"
