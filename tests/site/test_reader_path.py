"""The reader's path, on the built site served on localhost with no other network.

A reader installs ``dlref`` with the one command a page shows (the wheel the site serves), copies
a page's code with "Copy all the code" and runs it in an empty folder, or downloads a notebook and
runs it top to bottom from its install cell. Each of these is done here for real, in a clean
environment that has neither ``dlref`` nor this repository on its path (``tests/site/clean_env.py``).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from bs4 import BeautifulSoup
from mkdocs.config import load_config

from hooks import pages, script
from tests.site.browser import serve
from tests.site.clean_env import clean_environment, environment_variables
from tests.site.page_harness import page_files
from tests.site.site_build import html_page_for
from tests.site.test_notebook import NOTEBOOK_PAGES

pytestmark = pytest.mark.site

SITE_URL = load_config(str(pages.ROOT / "mkdocs.yml"))["site_url"]
SCRIPT_TIMEOUT_S = 300
# A number in printed output, and a line that reports a time (which no two runs share).
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_TIMING = re.compile(r"\d\s*(?:ms|µs|us|s|seconds?|×)\b|\btimes? faster\b|\bper second\b")


def _install_command(html: str) -> str:
    """The install line of a page: the ``bash`` block in the box under its title."""
    box = BeautifulSoup(html, "html.parser").find(class_="dlref-runbox")
    assert box is not None, "the page has no install box under its title"
    return box.select_one("pre code").get_text().strip()


def _run(python, arguments, cwd, timeout=SCRIPT_TIMEOUT_S, **env):
    return subprocess.run(
        [str(python), *arguments],
        cwd=cwd,
        env=environment_variables(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def served(built_site):
    with serve(built_site.directory) as base_url:
        yield base_url


def _local(url_or_text: str, base_url: str) -> str:
    """The same address on the test server instead of the host the site is built for."""
    return url_or_text.replace(SITE_URL.rstrip("/") + "/", base_url)


@pytest.fixture(scope="module")
def reader_python(built_site, served, tmp_path_factory):
    """A clean environment where ``dlref`` was installed with the home page's install line."""
    python = clean_environment(tmp_path_factory.mktemp("reader") / "env")
    command = _install_command((built_site.directory / "index.html").read_text(encoding="utf-8"))
    assert command.startswith(f"pip install {SITE_URL}"), command
    result = _run(python, ["-m", *_local(command, served).split()], cwd=python.parent)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return python


def test_the_wheel_served_by_the_site_installs_into_a_clean_environment(reader_python, tmp_path):
    where = _run(reader_python, ["-c", "import dlref; print(dlref.__file__)"], cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(reader_python.parent.parent) in where.stdout, f"dlref came from {where.stdout}"
    assert str(pages.ROOT) not in where.stdout


def test_every_page_with_code_shows_the_same_install_line(built_site):
    lines = set()
    for page in page_files():
        if pages.page_blocks(page):
            html = html_page_for(page, built_site.directory).read_text(encoding="utf-8")
            lines.add(_install_command(html))
    assert len(lines) == 1, lines


def _printed(page: str, page_runs) -> str:
    """What the page shows its runnable blocks printed, in order (listings print nothing)."""
    blocks = pages.page_blocks(pages.ROOT / page)
    outputs = page_runs[page].outputs
    return "".join(
        output.stdout for block, output in zip(blocks, outputs, strict=True) if not block.is_listing
    )


def _words(line: str) -> str:
    """A line with its numbers blanked and its runs of spaces folded (aligned columns vary)."""
    return " ".join(_NUMBER.sub("#", line).split())


def compare_output(got: str, shown: str, where: str) -> None:
    """Assert a script printed what the page shows: line by line, every number equal, except in
    lines that report a time (those must have the same words, and numbers where the page has)."""
    got_lines, shown_lines = got.rstrip("\n").split("\n"), shown.rstrip("\n").split("\n")
    assert len(got_lines) == len(shown_lines), (
        f"{where}: printed {len(got_lines)} lines, the page shows {len(shown_lines)}"
    )
    for number, (ours, theirs) in enumerate(zip(got_lines, shown_lines, strict=True), start=1):
        if _TIMING.search(theirs):  # the words must match; numbers (and their padding) may not
            assert _words(ours) == _words(theirs), (
                f"{where}, output line {number}: {ours!r}, the page shows {theirs!r}"
            )
        else:
            assert ours == theirs, (
                f"{where}, output line {number}: {ours!r}, the page shows {theirs!r}"
            )


SCRIPT_PAGES = [page for page in page_files() if script.has_runnable_code(pages.page_blocks(page))]


@pytest.mark.parametrize("page", SCRIPT_PAGES, ids=lambda path: path.stem)
def test_copy_all_runs_in_an_empty_folder_and_prints_what_the_page_shows(
    page, built_site, reader_python, page_runs, tmp_path
):
    html_file = html_page_for(page, built_site.directory)
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    button = soup.find("button", class_="dlref-copy-all")
    assert button is not None, f"{page.name}: no 'Copy all the code' button"
    code = button["data-clipboard-text"]
    served_script = html_file.parent / f"{page.stem}.py"
    assert served_script.read_text(encoding="utf-8") == code, "the .py file and the button differ"
    assert soup.find("a", href=served_script.name), "the page does not link its script"
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / served_script.name).write_text(code, encoding="utf-8")
    # On as many threads as the page's run, so that it prints the same numbers.
    result = _run(
        reader_python, [served_script.name], cwd=folder, OMP_NUM_THREADS=str(pages.PAGE_THREADS)
    )
    assert result.returncode == 0, f"{served_script.name} failed:\n{result.stderr[-3000:]}"
    relative = str(page.relative_to(pages.ROOT))
    compare_output(result.stdout, _printed(relative, page_runs), served_script.name)


RUN_NOTEBOOK = """
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
namespace = {"__name__": "__main__"}
for cell in cells:
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), "notebook", "exec"), namespace)
"""


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom_from_its_install_cell(page, built_site, served, tmp_path):
    """In an environment without ``dlref``, the first cell installs it from the site."""
    html_file = html_page_for(page, built_site.directory)
    notebook = json.loads((html_file.parent / f"{page.stem}.ipynb").read_text(encoding="utf-8"))
    first = "".join(notebook["cells"][0]["source"])
    assert f"{SITE_URL}" in first and 'find_spec("dlref") is None' in first, first
    notebook["cells"][0]["source"] = _local(first, served)
    python = clean_environment(tmp_path / "env")
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "page.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (folder / "run_notebook.py").write_text(RUN_NOTEBOOK, encoding="utf-8")
    result = _run(python, ["run_notebook.py", "page.ipynb"], cwd=folder)
    assert result.returncode == 0, f"{page.name} as a notebook failed:\n{result.stderr[-3000:]}"
    assert "Successfully installed dlref" in result.stdout, result.stdout[-2000:]
