"""Serve a built site on localhost and open it in headless Chromium with no other network."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system Chromium (Debian's ``chromium``; ``make test`` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError(
            "Chromium is not installed: run `make test`, or `apt-get install chromium`"
        )
    return path


# What a static host (GitHub Pages) compresses, and how long it lets browsers keep a file.
COMPRESSED_TYPES = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "text/plain",
        "text/x-python",
        "application/javascript",
        "application/json",
        "application/xml",
        "text/xml",
        "image/svg+xml",
    }
)
CACHE_CONTROL = "max-age=600"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files as they are, without a line on stderr per request."""

    def log_message(self, *args):
        pass


class _StaticHostHandler(_QuietHandler):
    """Serves files as a static host does: gzip when the browser accepts it, caching headers."""

    def end_headers(self):
        self.send_header("Cache-Control", CACHE_CONTROL)
        super().end_headers()

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        content_type = self.guess_type(str(path))
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (path.is_file() and accepts_gzip and content_type in COMPRESSED_TYPES):
            super().do_GET()  # directories without a slash, other types, missing files
            return
        body = _gzipped(path, path.stat().st_mtime_ns)
        self.send_response(200)
        charset = "; charset=utf-8" if content_type.startswith("text/") else ""
        self.send_header("Content-Type", content_type + charset)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        self.wfile.write(body)


@functools.lru_cache(maxsize=512)
def _gzipped(path: Path, mtime_ns: int) -> bytes:
    """The file compressed as a host would (gzip level 6), once per version of the file."""
    del mtime_ns  # part of the cache key only: an edited file is compressed again
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


@contextlib.contextmanager
def serve(directory: Path, *, as_host: bool = False) -> Iterator[str]:
    """Serve ``directory`` on a free localhost port; yield its base URL.

    Args:
        directory: A built site.
        as_host: Serve as a static host would (gzip-compressed text, ``Cache-Control``), for
            measurements of what a reader downloads; by default files are sent as they are.
    """
    handler_class = _StaticHostHandler if as_host else _QuietHandler
    handler = functools.partial(handler_class, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def offline_page(base_url: str):
    """A Chromium page whose requests outside ``base_url`` are refused and recorded.

    Yields:
        ``(page, blocked)``: the Playwright page and the list of URLs it tried to reach outside.
    """
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base_url) or url.startswith("data:"):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", route)
            yield page, blocked
        finally:
            browser.close()


AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# axe-core's rules about colours: they read every piece of text on the page, most of axe's time.
COLOUR_RULES = ("color-contrast", "link-in-text-block")
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")  # the rules that WCAG 2.1 AA requires

# axe-core's findings, one entry per rule broken, with the elements that break it.
_AXE_RUN = """async options => (await axe.run(document, options)).violations
  .map(v => ({rule: v.id, impact: v.impact, help: v.help,
              targets: v.nodes.map(n => n.target.join(" "))}))"""


def axe_violations(page, rules: str = "all") -> list[dict]:
    """What axe-core finds wrong with the page as it is laid out now.

    Args:
        page: A Playwright page.
        rules: ``"all"`` of axe's default rules; only its ``"colours"`` rules (``COLOUR_RULES``);
            or the WCAG 2.1 A and AA rules but the colour rules, ``"structure"``: names, roles,
            text alternatives, keyboard access, what a page's own content can get wrong.

    Returns:
        One dict per rule broken: ``rule``, ``impact`` (minor, moderate, serious, critical),
        ``help`` and ``targets`` (CSS selectors of the elements).
    """
    skip_colours = {rule: {"enabled": False} for rule in COLOUR_RULES}
    choices = {
        "all": {},
        "colours": {"runOnly": {"type": "rule", "values": list(COLOUR_RULES)}},
        "structure": {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "rules": skip_colours},
    }
    if rules not in choices:
        raise ValueError(f"rules must be one of {sorted(choices)}, got {rules!r}")
    if not AXE_SCRIPT.exists():
        raise RuntimeError(f"axe-core is not installed (no {AXE_SCRIPT}): run `make setup`")
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=AXE_SCRIPT)
    return page.evaluate(_AXE_RUN, {"resultTypes": ["violations"], **choices[rules]})


def show_color_scheme(page, scheme: str) -> None:
    """Switch the page to Material's ``default`` (light) or ``slate`` (dark) scheme, at once.

    Transitions are switched off so that colours read right after the switch are the final ones.
    """
    page.evaluate(
        """scheme => {
          if (!document.getElementById("dlref-no-transitions")) {
            const style = document.createElement("style");
            style.id = "dlref-no-transitions";
            style.textContent = "*, *::before, *::after { transition: none !important }";
            document.head.append(style);
          }
          document.body.setAttribute("data-md-color-scheme", scheme);
        }""",
        scheme,
    )
