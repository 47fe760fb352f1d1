"""The built site in a real headless Chromium, with no network but localhost."""

import pytest

from tests.browser import offline_page, serve

pytestmark = pytest.mark.site

MATH_PAGE = "foundations/backpropagation/"


def test_math_renders_offline(built_site):
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base_url + MATH_PAGE, wait_until="networkidle")
        marked = page.locator(".arithmatex").count()
        page.wait_for_function(
            "n => document.querySelectorAll('.arithmatex .katex').length >= n", arg=marked
        )
        rendered = page.locator(".arithmatex .katex").count()
        failed = page.locator(".katex-error").count()
        fonts = page.evaluate(
            "async () => { await document.fonts.ready; return [...document.fonts]"
            ".filter(f => f.family.startsWith('KaTeX') && f.status === 'loaded').length }"
        )
        assert marked > 0, "the page has no math to render"
        assert rendered == marked, f"{rendered} of {marked} formulas rendered"
        assert failed == 0, f"{failed} formulas failed to parse"
        assert fonts > 0, "KaTeX's fonts did not load from the site"
        assert not errors, f"JavaScript errors: {errors}"
        assert not blocked, f"the page tried to reach outside the site: {blocked}"


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
