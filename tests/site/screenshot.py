"""Take the README's screenshot of a built page: ``python tests/site/screenshot.py SITE_DIR OUT.png``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.site.browser import offline_page, serve  # noqa: E402 - after the path is set

PAGE = "foundations/backpropagation/"


def main(site: Path, out: Path) -> None:
    with serve(site) as base_url, offline_page(base_url) as (page, _):
        page.goto(base_url + PAGE, wait_until="networkidle")
        page.wait_for_selector(".arithmatex .katex")
        page.locator("#the-chain-rule-on-a-computational-graph").evaluate("e => e.scrollIntoView()")
        page.wait_for_timeout(800)  # let the header finish its title transition
        page.screenshot(path=str(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
