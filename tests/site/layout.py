"""Survey a built site in headless Chromium: one visit per page, everything checked on the way.

``python -m tests.site.layout site [url ...]`` prints every displayed equation and figure wider than
the text column, on every page (or the pages given), at 390 px (a phone) and 1280 px (a laptop),
and what else the visit found: console errors, failed requests and axe-core's serious and
critical accessibility violations. The browser tests assert these lists are empty and that every
formula rendered: one visit per page serves them all (the page is laid out again at each width,
not loaded again).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.site.browser import axe_violations, offline_page, serve, show_color_scheme

WIDTHS = (390, 1280)
FAILING_IMPACTS = ("serious", "critical")  # axe-core's two highest of four

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
    console_errors: list[str] = field(default_factory=list)  # messages logged as errors
    failed_requests: list[str] = field(default_factory=list)  # to the site: failed or >= 400
    blocked: list[str] = field(default_factory=list)  # requests to outside the site
    violations: list[str] = field(default_factory=list)  # axe-core, serious or critical
    axe_views: dict[str, int] = field(default_factory=dict)  # "structure", "colours" -> views
    axe_seconds: float = 0.0  # wall-clock time axe took


def survey(site: Path, urls: list[str], colour_pages: frozenset[str] | None = None) -> Survey:
    """Visit each page once: its math, accessibility, then its layout at each of ``WIDTHS``.

    axe-core checks every page in light mode at a phone's width for what a page's own content can
    get wrong (its WCAG rules but colours); on ``colour_pages`` (every page if ``None``) it runs
    all its rules, then its colour rules again in dark mode. Colours and the page frame come from
    one stylesheet and one template, so a page of each kind shows them; the colour rules, which
    read every piece of text, take most of axe's time.

    Args:
        site: A built site.
        urls: The pages to visit, relative to the site's root.
        colour_pages: The pages whose colours axe checks, in light and dark mode.
    """
    found = Survey()
    visiting = ""  # the page being visited, for the messages of the handlers below

    def failed(request) -> None:
        if request.url.startswith(base_url) and request.failure != "net::ERR_ABORTED":
            found.failed_requests.append(f"{visiting}: {request.url} ({request.failure})")

    def check_accessibility(rules: str, scheme: str) -> None:
        start = time.perf_counter()
        violations = axe_violations(page, rules)
        found.axe_seconds += time.perf_counter() - start
        found.axe_views[rules] = found.axe_views.get(rules, 0) + 1
        for violation in violations:
            if violation["impact"] in FAILING_IMPACTS:
                found.violations.append(
                    f"{violation['rule']} ({violation['impact']}: {violation['help']}) on "
                    f"/{visiting} in {'dark' if scheme == 'slate' else 'light'} mode, at "
                    + ", ".join(violation["targets"][:5])
                )

    with serve(site) as base_url, offline_page(base_url) as (page, blocked):
        page.on("pageerror", lambda exc: found.errors.append(f"{visiting}: {exc}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and found.console_errors.append(f"{visiting}: {message.text}")
            ),
        )
        page.on("requestfailed", failed)
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and found.failed_requests.append(f"{visiting}: {response.url} ({response.status})")
            ),
        )
        for url in urls:
            visiting = url
            colours = colour_pages is None or url in colour_pages
            page.set_viewport_size({"width": WIDTHS[0], "height": 900})
            page.goto(base_url + url, wait_until="load")
            page.wait_for_function(  # KaTeX has rendered what it could
                "() => document.querySelectorAll('.arithmatex').length === document"
                ".querySelectorAll('.arithmatex .katex, .arithmatex .katex-error').length"
            )
            found.math[url] = tuple(page.evaluate(_MATH))
            check_accessibility("all" if colours else "structure", "default")  # on a phone
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for item in page.evaluate(_MEASURE):  # measuring lays the page out anew
                    found.measured += 1
                    if item["width"] > item["room"] + 1 or item.get("right", 0) > 1:
                        found.problems.append(
                            f"{width} px, {url}: {item['kind']} {item['width']:.0f} px wide in "
                            f"a {item['room']:.0f} px column: {item['what']}"
                        )
            if colours:
                show_color_scheme(page, "slate")
                check_accessibility("colours", "slate")
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
    print(f"axe-core: {found.axe_views} page views in {found.axe_seconds:.1f} s")
    for name in ("errors", "console_errors", "failed_requests", "blocked", "violations"):
        print(f"{name.replace('_', ' ')}: {len(getattr(found, name))}")
        print("".join(f"  {line}\n" for line in getattr(found, name)), end="")
