"""Measure a built site in headless Chromium: what overflows its column on a phone and a desktop.

``python -m tests.site.layout site [url ...]`` prints every displayed equation and figure wider than
the text column, on every page (or the pages given), at 390 px (a phone) and 1280 px (a laptop).
The browser test asserts the same list is empty.
"""

from __future__ import annotations

import sys
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


def overflows(site: Path, urls: list[str]) -> tuple[list[str], int]:
    """Every equation or figure wider than its column, as messages, and how many were measured."""
    problems, measured = [], 0
    with serve(site) as base_url, offline_page(base_url) as (page, _blocked):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for url in urls:
                page.goto(base_url + url, wait_until="networkidle")
                page.wait_for_function(
                    "() => document.querySelectorAll('.arithmatex').length"
                    " === document.querySelectorAll('.arithmatex .katex').length"
                )
                for item in page.evaluate(_MEASURE):
                    measured += 1
                    if item["width"] > item["room"] + 1 or item.get("right", 0) > 1:
                        problems.append(
                            f"{width} px, {url}: {item['kind']} {item['width']:.0f} px wide in a "
                            f"{item['room']:.0f} px column: {item['what']}"
                        )
    return problems, measured


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
    problems, measured = overflows(site, urls)
    print("\n".join(problems) or "nothing overflows")
    print(f"{measured} equations and figures measured at {WIDTHS} px")
