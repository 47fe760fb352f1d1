"""Build the site once per test session, after every page's code has run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hooks import pages


@dataclass
class BuiltSite:
    directory: Path
    seconds: float
    log: str


def build_site(destination: Path) -> BuiltSite:
    """Run ``mkdocs build --strict`` into ``destination``, reusing the page runs just stored.

    Raises:
        AssertionError: With the build's log, if the build fails or warns.
    """
    env = dict(os.environ, DLREF_EXECUTE="auto", NO_MKDOCS_2_WARNING="1")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(destination)],
        cwd=pages.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return BuiltSite(destination, seconds, log)


def html_page_for(markdown: Path, site: Path) -> Path:
    """The HTML file MkDocs writes for a Markdown page (``use_directory_urls``)."""
    relative = markdown.relative_to(pages.DOCS).with_suffix("")
    if relative.name == "index":
        return site / relative.parent / "index.html"
    return site / relative / "index.html"
