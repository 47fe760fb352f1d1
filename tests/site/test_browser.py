"""The built site in a real headless Chromium, with no network but localhost."""

import dataclasses
import re

import pytest

from tests.site.browser import offline_page, serve
from tests.site.conftest import made_once
from tests.site.layout import WIDTHS, Survey, survey
from tests.site.page_harness import page_files
from tests.site.site_build import html_page_for

pytestmark = pytest.mark.site

MATH_PAGE = "foundations/backpropagation/"
# Pages whose colours axe-core checks in light and dark mode, one of each kind (the other pages
# are checked for all but colours, which come from one stylesheet: see layout.survey).
COLOUR_PAGES = frozenset(
    {"", MATH_PAGE, "projects/image-classification/", "reference/models/transformer/"}
)


@pytest.fixture(scope="session")
def site_survey(built_site, tmp_path_factory, worker_id) -> Survey:
    """One visit to every page of the site: its math, accessibility, and layout at each width
    (once for all the workers)."""
    urls = [
        str(html_page_for(page, built_site.directory).parent.relative_to(built_site.directory))
        .replace(".", "", 1)
        .strip("/")
        + "/"
        for page in page_files()
    ]
    return made_once(
        "survey",
        tmp_path_factory,
        worker_id,
        make=lambda _: survey(
            built_site.directory, [url.lstrip("/") for url in urls], colour_pages=COLOUR_PAGES
        ),
        record=dataclasses.asdict,
        restore=lambda fields, _: Survey(**fields),
    )


def test_math_renders_offline_on_every_page(built_site, site_survey):
    formulas = 0
    for url, (marked, rendered, failed) in site_survey.math.items():
        assert rendered == marked, f"{url}: {rendered} of {marked} formulas rendered"
        assert failed == 0, f"{url}: {failed} formulas failed to parse"
        formulas += rendered
    assert formulas > 0, "the site has no math to render"
    assert not site_survey.errors, f"JavaScript errors: {site_survey.errors}"
    assert not site_survey.blocked, f"the site tried to reach outside itself: {site_survey.blocked}"
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        page.goto(base_url + MATH_PAGE, wait_until="networkidle")
        fonts = page.evaluate(
            "async () => { await document.fonts.ready; return [...document.fonts]"
            ".filter(f => f.family.startsWith('KaTeX') && f.status === 'loaded').length }"
        )
        assert fonts > 0, "KaTeX's fonts did not load from the site"
        assert not blocked, f"the site tried to reach outside itself: {blocked}"


def test_every_page_loads_without_console_errors_or_failed_requests(site_survey):
    assert len(site_survey.math) > 10, f"only {len(site_survey.math)} pages visited"
    assert not site_survey.errors, "uncaught JavaScript errors:\n" + "\n".join(site_survey.errors)
    assert not site_survey.console_errors, "console errors:\n" + "\n".join(
        site_survey.console_errors
    )
    assert not site_survey.failed_requests, "requests that failed:\n" + "\n".join(
        site_survey.failed_requests
    )


def test_no_serious_accessibility_violation_on_any_page(site_survey):
    assert not site_survey.violations, (
        "axe-core found serious or critical violations:\n" + "\n".join(site_survey.violations)
    )
    pages, sampled = len(site_survey.math), len(COLOUR_PAGES & site_survey.math.keys())
    assert sampled == len(COLOUR_PAGES), f"colours checked on {sampled} of {sorted(COLOUR_PAGES)}"
    views = {"structure": pages - sampled, "all": sampled, "colours": sampled}
    assert site_survey.axe_views == views, f"axe checked {site_survey.axe_views}, wanted {views}"
    print(f"axe-core: {site_survey.axe_views} page views in {site_survey.axe_seconds:.1f} s")


def test_code_blocks_have_copy_buttons_and_outputs(built_site):
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        page.goto(base_url + MATH_PAGE, wait_until="networkidle")
        blocks = page.locator(".language-python")
        assert blocks.count() > 0
        page.eval_on_selector_all("details", "folds => folds.forEach(f => { f.open = true; })")
        for index in range(blocks.count()):  # a block gets its button as it scrolls into view
            block = blocks.nth(index)
            block.scroll_into_view_if_needed()
            block.locator("button.md-code__button[data-md-type=copy]").wait_for(state="attached")
        assert page.locator("img.dlref-figure").count() > 0
        sizes = page.eval_on_selector_all(  # figures load lazily: load and decode them all
            "img.dlref-figure",
            "images => Promise.all(images.map(i => { i.loading = 'eager';"
            " return i.decode().then(() => i.naturalWidth); }))",
        )
        assert all(width > 100 for width in sizes), f"figures did not decode: {sizes}"
        assert not blocked, f"the page tried to reach outside the site: {blocked}"


def test_no_equation_or_figure_overflows_on_a_phone_or_a_laptop(site_survey):
    problems, measured = site_survey.problems, site_survey.measured
    assert not problems, "wider than their column:\n" + "\n".join(problems)
    assert measured > 100, f"only {measured} equations and figures measured"
    print(f"{measured} equations and figures fit at {WIDTHS} px on {len(site_survey.math)} pages")


def test_a_figure_enlarges_on_click_and_listings_are_not_runnable_code(built_site):
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.goto(base_url + MATH_PAGE, wait_until="networkidle")
        figure = page.locator("img.dlref-figure").first
        shown = figure.evaluate("img => img.getBoundingClientRect().width")
        figure.click()
        enlarged = page.locator(".glightbox-container .gslide.current.loaded .gslide-image img")
        enlarged.wait_for(state="visible")
        page.wait_for_timeout(800)  # the opening animation
        assert enlarged.evaluate("img => img.getBoundingClientRect().width") > shown
        page.keyboard.press("Escape")
        page.locator(".glightbox-container").wait_for(state="detached")

        listings = page.locator(".dlref-listing")
        assert listings.count() > 0
        for index in range(listings.count()):
            listing = listings.nth(index)
            assert listing.locator(".filename").inner_text().startswith("dlref/")
            label = listing.locator(".filename").evaluate(
                "el => getComputedStyle(el, '::before').content"
            )
            assert "Source listing" in label
            assert not listing.locator("button.md-clipboard").is_visible()
            link = listing.locator("xpath=following-sibling::p[1]//a").get_attribute("href")
            assert "reference/" in link and link.endswith("#source"), link

        page.locator("button.dlref-copy-all").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        served = (built_site.directory / MATH_PAGE / "backpropagation.py").read_text()
        assert copied == served

        listings.first.locator("xpath=following-sibling::p[1]//a").click()
        page.wait_for_url("**/reference/**#source")
        page.wait_for_function("() => document.getElementById('source')?.nextElementSibling?.open")
        assert not blocked, f"the page tried to reach outside the site: {blocked}"


def test_search_previews_show_no_raw_tex(built_site):
    index = (built_site.directory / "search" / "search_index.json").read_text(encoding="utf-8")
    raw = re.findall(r".{30}(?:\\\\\(|\\\\\[|\\\\frac|\\\\mathcal).{30}", index)
    assert not raw, f"raw TeX in the search index: {raw[:5]}"
    assert "λ" in index  # Greek letters survive as text
