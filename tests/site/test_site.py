"""The built site: it builds strictly, every Python block a reader sees was executed, and no
link, anchor or image is broken."""

import doctest
import importlib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup

from hooks import pages
from tests.site.page_harness import page_files
from tests.site.site_build import html_page_for

pytestmark = pytest.mark.site


def normalise(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip("\n").split("\n"))


def python_blocks(html: str, language: str = "python|py|python3") -> list[str]:
    """The text of every code block in ``language`` on an HTML page (API signatures excluded).

    On a notebook page, the code cells count too (mkdocs-jupyter keeps each one's plain text for
    its copy button).
    """
    soup = BeautifulSoup(html, "html.parser")
    cells = soup.select(".jp-CodeCell .clipboard-copy-txt")  # a notebook's cells are Python
    blocks = [cell.get_text() for cell in cells] if re.fullmatch(language, "python") else []
    for container in soup.find_all(class_=re.compile(rf"^language-({language})$")):
        if "doc-signature" in container.get("class", []):
            continue
        code = container.find("code")
        assert code is not None, f"a Python block without <code>: {str(container)[:200]}"
        blocks.append(code.get_text())
    return blocks


def doctest_examples() -> set[str]:
    """The examples in dlref's docstrings, as the API reference shows them (pytest runs them)."""
    examples = set()
    for file in sorted((pages.ROOT / "dlref").rglob("*.py")):
        module_name = ".".join(file.relative_to(pages.ROOT).with_suffix("").parts)
        module_name = module_name.removesuffix(".__init__")
        for test in doctest.DocTestFinder().find(importlib.import_module(module_name)):
            lines = []
            for example in test.examples:
                source = example.source.rstrip("\n").split("\n")
                lines += [">>> " + source[0]] + ["... " + line for line in source[1:]]
                lines += example.want.rstrip("\n").split("\n") if example.want else []
            if lines:
                examples.add(normalise("\n".join(lines)))
    return examples


def test_site_builds_strict(built_site):
    assert (built_site.directory / "index.html").exists()
    print(f"site built in {built_site.seconds:.1f} s")


def test_every_python_block_on_the_site_was_executed(built_site, page_runs):
    executed = {
        page: {normalise(block.code) for block in pages.page_blocks(pages.ROOT / page)}
        for page in page_runs
    }
    doctests = doctest_examples()
    shown, missing = 0, []
    html_files = set(built_site.directory.rglob("*.html"))
    for markdown in page_files():
        html_file = html_page_for(markdown, built_site.directory)
        html_files.discard(html_file)
        html = html_file.read_text(encoding="utf-8")
        page = str(markdown.relative_to(pages.ROOT))
        for code in python_blocks(html):
            shown += 1
            if normalise(code) not in executed.get(page, set()):
                missing.append(f"{page}: {normalise(code).splitlines()[0]!r}")
        for code in python_blocks(html, language="pycon"):  # docstring examples: doctests run
            if normalise(code) not in doctests:
                missing.append(f"{page}: docstring example {code[:60]!r}")
    for html_file in sorted(html_files):  # pages not written in Markdown (404, generated ones)
        for code in python_blocks(html_file.read_text(encoding="utf-8"), "python|py|python3|pycon"):
            missing.append(f"{html_file.relative_to(built_site.directory)}: {code[:60]!r}")
    assert not missing, "Python blocks on the site that no test executed:\n" + "\n".join(missing)
    assert shown == sum(len(run.outputs) for run in page_runs.values())
    print(f"{shown} Python blocks on the site, all executed")


def test_pages_show_what_their_code_printed(built_site, page_runs):
    """Outputs on the site are those of the run, inserted after their block."""
    for page, run in page_runs.items():
        html = html_page_for(pages.ROOT / page, built_site.directory).read_text(encoding="utf-8")
        text = BeautifulSoup(html, "html.parser").get_text()
        for output in run.outputs:
            for line in output.stdout.strip().splitlines()[:3]:
                assert line.strip() in text, (
                    f"{page}:{output.line}: output {line!r} not on the page"
                )
        figures = sum(len(output.figures) for output in run.outputs)
        shown = html.count('class="dlref-figure"') + html.count('class="jp-RenderedImage')
        assert shown == figures, f"{page}: {shown} figures shown, the run drew {figures}"


def test_every_module_has_an_api_reference_page_with_its_source():
    nav = (pages.ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for file in sorted((pages.ROOT / "dlref").rglob("*.py")):
        relative = file.relative_to(pages.ROOT / "dlref")
        if file.name == "__init__.py" or relative.parts[0] == "exercises":
            continue  # packages, and the checks (documented together on reference/exercises.md)
        page = pages.DOCS / "reference" / relative.with_suffix(".md")
        assert page.exists(), f"dlref/{relative} has no API reference page {page.name}"
        text = page.read_text(encoding="utf-8")
        dotted = ".".join(("dlref", *relative.with_suffix("").parts))
        assert f"::: {dotted}\n" in text, f"{page.name} does not document {dotted}"
        assert f'--8<-- "dlref/{relative}"' in text, f"{page.name} does not show its source"
        assert f"reference/{relative.with_suffix('.md')}" in nav, f"{page.name} is not in nav"


def test_figures_are_drawn_for_the_column(page_runs):
    """At most MAX_FIGURE_INCHES wide: shown at 100 CSS px per inch, fonts keep their size."""
    too_wide = [
        f"{page}:{output.line}: {figure['alt'][:50]!r} is {figure['inches'][0]} in wide"
        for page, run in page_runs.items()
        for output in run.outputs
        for figure in output.figures
        if figure["inches"][0] > pages.MAX_FIGURE_INCHES
    ]
    assert not too_wide, f"figures wider than {pages.MAX_FIGURE_INCHES} in:\n" + "\n".join(too_wide)


def test_notebook_pages_link_other_pages_by_their_urls(built_site):
    """mkdocs-jupyter keeps a notebook's ``../a/b.md`` links as written; the build resolves them."""
    for page in page_files():
        if page.suffix != ".ipynb":
            continue
        html = html_page_for(page, built_site.directory).read_text(encoding="utf-8")
        links = [a["href"] for a in BeautifulSoup(html, "html.parser").find_all("a", href=True)]
        written = [link for link in links if re.search(r"\.md(#|$)", link)]
        assert not written, f"{page.name}: links left as written: {written}"
        for link in links:
            if link.endswith("/") and not link.startswith(("http", "#")):
                target = (html_page_for(page, built_site.directory).parent / link).resolve()
                assert (target / "index.html").exists(), f"{page.name}: broken link {link}"


MKDOCS_YML = Path(__file__).resolve().parents[2] / "mkdocs.yml"


def _target(page: Path, reference: str, site: Path) -> tuple[Path, str]:
    """The file a link or image of ``page`` points at, and the anchor it names.

    An absolute path (``404.html`` uses them: it is served at any address) starts with the path of
    ``site_url``, where the site's root is.
    """
    path, _, anchor = unquote(reference.split("?")[0]).partition("#")
    if path.startswith("/"):
        default = re.search(r'^site_url:.*"(https?://[^"]+)"', MKDOCS_YML.read_text(), re.M)[1]
        base = urlparse(os.environ.get("DLREF_SITE_URL") or default).path
        if not path.startswith(base):
            return site / "missing" / path.lstrip("/"), anchor  # outside the site: broken
        target = (site / path.removeprefix(base)).resolve()
        return (target / "index.html" if target.is_dir() else target), anchor
    target = (page.parent / path).resolve() if path else page
    return (target / "index.html" if target.is_dir() else target), anchor


def test_no_broken_link_anchor_or_image_on_the_site(built_site):
    """Every link between the site's pages, every anchor it names and every image exists."""
    site = built_site.directory.resolve()
    ids: dict[Path, set[str]] = {}

    def anchors(html_file: Path) -> set[str]:
        if html_file not in ids:
            soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
            ids[html_file] = {tag["id"] for tag in soup.find_all(id=True)}
        return ids[html_file]

    broken, checked = [], 0
    for page in sorted(site.rglob("*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        references = [(a["href"], "link") for a in soup.find_all("a", href=True)]
        references += [(img["src"], "image") for img in soup.find_all("img", src=True)]
        for reference, kind in references:
            if re.match(r"[a-z]+:", reference):  # another host, mailto:, data:
                continue
            target, anchor = _target(page, reference, site)
            checked += 1
            where = f"{page.relative_to(site)}: {kind} {reference!r}"
            if not target.is_file() or not target.is_relative_to(site):
                broken.append(f"{where} -> no such file")
            elif anchor and target.suffix == ".html" and anchor not in anchors(target):
                broken.append(f"{where} -> no element with id {anchor!r}")
    assert not broken, f"{len(broken)} broken of {checked}:\n" + "\n".join(broken[:40])
    assert checked > 1000, f"only {checked} links and images checked"
