"""Measure a built site in headless Chromium: what overflows its column on a phone and a desktop.

``python -m tests.site.layout site [url ...]`` prints every displayed equation and figure wider than
the text column, on every page (or the pages given), at 390 px (a phone) and 1280 px (a laptop).
The browser tests assert the same list is empty and that every formula rendered: one visit per
page serves both (the page is laid out again at each width, not loaded again).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.site.browser import offline_page, serve

WIDTHS = (390, 1280)

# For each displayed equation and figure: its width and the width of the column it sits in.
_MEASURE = """() => {
  const column = document.querySelector("article.md-content__inner").getBoundingClientRect();
  const out = [];
  for (const display of document.querySelectorAll(".katex-display")) {
    // A display scrolls sideways when the math is wider than the room it has.
    const tex = display.querySelector("annotation")?.textContent ?? "";
    out.push({kind: "equation", width: display.scrollWidth, room: display.clientWidth,
              what: tex.trim().replace(/\\s+/g, " ").slice(0, 90)});
  }
  for (const img of document.querySelectorAll("img.dlref-figure")) {
    const box = img.getBoundingClientRect();
    out.push({kind: "figure", width: box.width, room: column.width,
              right: box.right - column.right, what: img.alt.slice(0, 90)});
  }
  return out;
}"""

# Formulas marked for KaTeX, rendered by it, and those it could not parse.
_MATH = """() => [document.querySelectorAll('.arithmatex').length,
  document.querySelectorAll('.arithmatex .katex').length,
  document.querySelectorAll('.katex-error').length]"""


@dataclass
class Survey:
    """What one visit to each page found."""

    problems: list[str] = field(default_factory=list)  # equations and figures wider than room
    measured: int = 0  # equations and figures measured, over both widths
    math: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # url -> marked, ok, bad
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors
    blocked: list[str] = field(default_factory=list)  # requests to outside the site


def survey(site: Path, urls: list[str]) -> Survey:
    """Visit each page once: its math, then its layout at each of ``WIDTHS``."""
    found = Survey()
    with serve(site) as base_url, offline_page(base_url) as (page, blocked):
        page.on("pageerror", lambda exc: found.errors.append(str(exc)))
        for url in urls:
            page.set_viewport_size({"width": WIDTHS[0], "height": 900})
            page.goto(base_url + url, wait_until="load")
            page.wait_for_function(  # KaTeX has rendered what it could
                "() => document.querySelectorAll('.arithmatex').length === document"
                ".querySelectorAll('.arithmatex .katex, .arithmatex .katex-error').length"
            )
            found.math[url] = tuple(page.evaluate(_MATH))
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for item in page.evaluate(_MEASURE):  # measuring lays the page out anew
                    found.measured += 1
                    if item["width"] > item["room"] + 1 or item.get("right", 0) > 1:
                        found.problems.append(
                            f"{width} px, {url}: {item['kind']} {item['width']:.0f} px wide in "
                            f"a {item['room']:.0f} px column: {item['what']}"
                        )
        found.blocked = list(blocked)
    return found


def site_urls(site: Path) -> list[str]:
    """The pages of a built site, as URLs relative to its root."""
    return sorted(
        str(html.parent.relative_to(site)).replace(".", "", 1).strip("/") + "/"
        for html in site.rglob("index.html")
        if (html.parent / "index.html").exists() and "assets" not in html.parts
    )


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    urls = sys.argv[2:] or [url.lstrip("/") for url in site_urls(site)]
    found = survey(site, urls)
    print("\n".join(found.problems) or "nothing overflows")
    print(f"{found.measured} equations and figures measured at {WIDTHS} px")
