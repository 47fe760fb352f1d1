"""The built site in a real headless Chromium, with no network but localhost."""

import pytest

from tests.browser import offline_page, serve
from tests.page_harness import page_files
from tests.site_build import html_page_for

pytestmark = pytest.mark.site

MATH_PAGE = "foundations/backpropagation/"


def test_math_renders_offline_on_every_page(built_site):
    urls = [
        html_page_for(page, built_site.directory).relative_to(built_site.directory).parent
        for page in page_files()
    ]
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        formulas = 0
        for url in urls:
            page.goto(f"{base_url}{url}/".replace("/./", "/"), wait_until="networkidle")
            marked = page.locator(".arithmatex").count()
            page.wait_for_function(
                "n => document.querySelectorAll('.arithmatex .katex').length >= n", arg=marked
            )
            rendered = page.locator(".arithmatex .katex").count()
            failed = page.locator(".katex-error").count()
            assert rendered == marked, f"{url}: {rendered} of {marked} formulas rendered"
            assert failed == 0, f"{url}: {failed} formulas failed to parse"
            formulas += rendered
        page.goto(base_url + MATH_PAGE, wait_until="networkidle")
        fonts = page.evaluate(
            "async () => { await document.fonts.ready; return [...document.fonts]"
            ".filter(f => f.family.startsWith('KaTeX') && f.status === 'loaded').length }"
        )
        assert formulas > 0, "the site has no math to render"
        assert fonts > 0, "KaTeX's fonts did not load from the site"
        assert not errors, f"JavaScript errors: {errors}"
        assert not blocked, f"the site tried to reach outside itself: {blocked}"


def test_code_blocks_have_copy_buttons_and_outputs(built_site):
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        page.goto(base_url + MATH_PAGE, wait_until="networkidle")
        python_blocks = page.locator(".language-python").count()
        assert python_blocks > 0
        assert (
            page.locator(".language-python button.md-code__button[data-md-type=copy]").count()
            == python_blocks
        )
        assert page.locator("img.dlref-figure").count() > 0
        sizes = page.eval_on_selector_all(
            "img.dlref-figure", "images => images.map(i => i.naturalWidth)"
        )
        assert all(width > 100 for width in sizes), f"figures did not decode: {sizes}"
        assert not blocked, f"the page tried to reach outside the site: {blocked}"
