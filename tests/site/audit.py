"""Audit a built site against its budgets, served as a static host serves it (gzip-compressed).

``python -m tests.site.audit [site] [--runs N]`` (``make audit`` builds the site first) runs
Lighthouse (npm ``lighthouse``, with the system Chromium) on each page type — the home page, the
heaviest topic page, the notebook page and the heaviest API page — with the mobile and the desktop
preset, and takes the median of ``--runs`` runs; then axe-core on every page, in light and dark
mode, at a phone's width and a laptop's. It prints a table of scores, page weight (bytes
transferred) and request count, then what axe found, and exits non-zero if a budget fails:

- Lighthouse: at least 95 in performance, accessibility, best practices and SEO on mobile, and
  at least 98 on desktop;
- axe: no serious or critical violation on any page, in either colour scheme.

It builds nothing: the site is measured as it is. The machine's load slows Lighthouse's
performance score (it times the page's JavaScript on this CPU), so measure on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.site.browser import axe_violations, chromium_path, offline_page, serve, show_color_scheme
from tests.site.layout import WIDTHS, site_urls

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
BUDGETS = {"mobile": 95, "desktop": 98}  # the least score in every category
FAILING_IMPACTS = ("serious", "critical")
SCHEMES = ("default", "slate")  # Material's light and dark palettes
NOTEBOOK_PAGE = "projects/image-classification/"

# The files a page loads from the site (images, scripts, stylesheets): relative addresses only,
# not ``data:`` URLs (already counted in the HTML) or other sites.
_ASSET = re.compile(r'<(?:img|script)[^>]*\ssrc="([^":#?]+)"|<link[^>]*\shref="([^":#?]+\.css)"')


@dataclass
class LighthouseResult:
    """The median of a page's Lighthouse runs with one preset."""

    scores: dict[str, int]  # category -> 0..100
    transferred: int  # bytes over the network (compressed)
    requests: int
    flagged: list[str] = field(default_factory=list)  # audits that cost points, in the median run


def page_bytes(site: Path, url: str) -> int:
    """A page's HTML and the site's files it loads (images, scripts, stylesheets), uncompressed."""
    html_file = site / url / "index.html"
    html = html_file.read_text(encoding="utf-8")
    total = len(html.encode())
    for match in _ASSET.finditer(html):
        asset = (html_file.parent / (match[1] or match[2])).resolve()
        if asset.is_file() and site.resolve() in asset.parents:
            total += asset.stat().st_size
    return total


def page_types(site: Path) -> dict[str, str]:
    """The page audited for each type of page: ``{type: url}``."""
    urls = [url.lstrip("/") for url in site_urls(site)]

    def heaviest(candidates: list[str], kind: str) -> str:
        if not candidates:
            raise ValueError(f"the site in {site} has no {kind} page")
        return max(candidates, key=lambda url: page_bytes(site, url))

    topics = [
        url
        for url in urls
        if url
        and not url.startswith(("reference/", "projects/"))
        and "dlref-runbox" in (site / url / "index.html").read_text(encoding="utf-8")
    ]
    api = [url for url in urls if url.startswith("reference/") and url != "reference/"]
    if NOTEBOOK_PAGE not in urls:
        raise ValueError(f"the site in {site} has no notebook page {NOTEBOOK_PAGE}")
    return {
        "home": "",
        "topic (heaviest)": heaviest(topics, "topic"),
        "notebook": NOTEBOOK_PAGE,
        "API (heaviest)": heaviest(api, "API reference"),
    }


def lighthouse_run(url: str, preset: str) -> dict:
    """One Lighthouse run on ``url`` with the ``mobile`` or ``desktop`` preset: its JSON report."""
    if not LIGHTHOUSE.exists():
        raise RuntimeError(f"Lighthouse is not installed (no {LIGHTHOUSE}): run `make setup`")
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox",
            "--disable-full-page-screenshot",
        ]
        if preset == "desktop":
            command.append("--preset=desktop")
        env = dict(os.environ, CHROME_PATH=chromium_path())
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not report.exists():
            raise RuntimeError(
                f"Lighthouse failed on {url} ({preset}), exit {result.returncode}:\n"
                f"{result.stderr[-2000:]}"
            )
        return json.loads(report.read_text(encoding="utf-8"))


def flagged_audits(report: dict) -> list[str]:
    """The audits that cost the page points, as ``id (what it measured)``."""
    flagged = []
    for category in report["categories"].values():
        for ref in category["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 0.9:
                flagged.append(f"{audit['id']} ({audit.get('displayValue') or audit['score']})")
    return flagged


def lighthouse(url: str, preset: str, runs: int) -> LighthouseResult:
    """The median of ``runs`` Lighthouse runs: per category, and the run with the median
    performance for weight, requests and what cost points."""
    reports = [lighthouse_run(url, preset) for _ in range(runs)]

    def score(report: dict, category: str) -> int:
        return round(100 * (report["categories"][category]["score"] or 0))

    median_run = sorted(reports, key=lambda report: score(report, "performance"))[runs // 2]
    audits = median_run["audits"]
    return LighthouseResult(
        scores={
            category: round(statistics.median(score(report, category) for report in reports))
            for category in CATEGORIES
        },
        transferred=round(audits["total-byte-weight"]["numericValue"]),
        requests=len(audits["network-requests"]["details"]["items"]),
        flagged=flagged_audits(median_run),
    )


def axe_every_page(site: Path, urls: list[str]) -> list[tuple[str, str, int, dict]]:
    """axe on every page, in each of ``SCHEMES`` at each of ``WIDTHS``.

    Returns:
        ``(url, scheme, width, violation)`` for each rule broken (see ``axe_violations``).
    """
    found = []
    with serve(site, as_host=True) as base_url, offline_page(base_url) as (page, blocked):
        for url in urls:
            page.set_viewport_size({"width": WIDTHS[0], "height": 900})
            page.goto(base_url + url, wait_until="load")
            for scheme in SCHEMES:
                show_color_scheme(page, scheme)
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 900})
                    found += [(url, scheme, width, v) for v in axe_violations(page)]
        if blocked:
            raise AssertionError(f"the site tried to reach outside itself: {blocked}")
    return found


def print_lighthouse_table(results: dict[str, tuple[str, dict[str, LighthouseResult]]]) -> None:
    """One row per page type: scores per preset, then page weight and requests (mobile)."""
    short = "perf/a11y/bp/seo"
    print(f"| page | url | mobile {short} | desktop {short} | transferred | requests |")
    print("|---|---|---|---|---|---|")
    for kind, (url, by_preset) in results.items():
        cells = ["/".join(str(r.scores[c]) for c in CATEGORIES) for r in by_preset.values()]
        mobile = by_preset["mobile"]
        print(
            f"| {kind} | /{url} | {cells[0]} | {cells[1]} | "
            f"{mobile.transferred / 1024:,.0f} KB | {mobile.requests} |"
        )
    for kind, (_, by_preset) in results.items():
        for preset, result in by_preset.items():
            if result.flagged:
                print(f"  {kind} {preset}: " + ", ".join(result.flagged))


def print_axe_findings(findings: list[tuple[str, str, int, dict]], pages: int) -> None:
    """axe's violations grouped by rule: impact, how many pages, and where."""
    by_rule: dict[tuple[str, str], list[str]] = {}
    for url, scheme, width, violation in findings:
        where = f"/{url} ({'dark' if scheme == 'slate' else 'light'}, {width} px): "
        where += ", ".join(violation["targets"][:3])
        by_rule.setdefault((violation["impact"], violation["rule"]), []).append(where)
    print(f"\naxe-core on {pages} pages x {len(SCHEMES)} colour schemes x {WIDTHS} px:")
    if not by_rule:
        print("  no violations")
    for (impact, rule), places in sorted(by_rule.items(), key=lambda item: _severity(item[0])):
        print(f"  {impact} {rule}: {len(places)} page views, e.g.")
        for place in places[:5]:
            print(f"    {place}")


def _severity(key: tuple[str, str]) -> tuple[int, str]:
    impacts = ("critical", "serious", "moderate", "minor")
    impact, rule = key
    return (impacts.index(impact) if impact in impacts else len(impacts), rule)


def budget_failures(
    results: dict[str, tuple[str, dict[str, LighthouseResult]]],
    findings: list[tuple[str, str, int, dict]],
) -> list[str]:
    """Every budget broken, as a sentence."""
    failures = []
    for kind, (url, by_preset) in results.items():
        for preset, result in by_preset.items():
            for category, score in result.scores.items():
                if score < BUDGETS[preset]:
                    failures.append(
                        f"{kind} /{url}: {category} {score} on {preset}, "
                        f"wanted at least {BUDGETS[preset]}"
                    )
    serious = {(v["rule"], url) for url, _, _, v in findings if v["impact"] in FAILING_IMPACTS}
    failures += [f"axe: {rule} on /{url}" for rule, url in sorted(serious)]
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default="site", type=Path, help="a built site")
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page and preset")
    parser.add_argument("--no-lighthouse", action="store_true", help="axe only")
    parser.add_argument("--no-axe", action="store_true", help="Lighthouse only")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").exists():
        parser.error(f"{args.site} holds no built site (no index.html): run `make build` first")

    results: dict[str, tuple[str, dict[str, LighthouseResult]]] = {}
    if not args.no_lighthouse:
        with serve(args.site, as_host=True) as base_url:
            for kind, url in page_types(args.site).items():
                results[kind] = (
                    url,
                    {preset: lighthouse(base_url + url, preset, args.runs) for preset in BUDGETS},
                )
        print(f"Lighthouse, median of {args.runs} runs, served gzip-compressed:")
        print_lighthouse_table(results)

    findings: list[tuple[str, str, int, dict]] = []
    if not args.no_axe:
        urls = [url.lstrip("/") for url in site_urls(args.site)]
        findings = axe_every_page(args.site, urls)
        print_axe_findings(findings, len(urls))

    failures = budget_failures(results, findings)
    print("\n" + ("\n".join(["Budgets failed:", *failures]) if failures else "Every budget met."))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
