"""Pytest plugin: every page under ``docs/`` is a test that runs the page's code.

A page is a Markdown file or a Jupyter notebook. ``python -m pytest docs/foundations/x.md`` (or
``docs/projects/y.ipynb``) runs one page; ``python -m pytest`` runs them all with the rest of the
suite. A page's Python blocks (a notebook's code cells) run in order in one namespace (see
``hooks/pages.py``); a failing block fails the test with the page path, the line of the block (for
a notebook, the number and first line of the cell) and the traceback inside the page. A page over
its time budget fails too, and the slowest pages are listed at the end of the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hooks import pages

PAGE_BUDGET_S = float(os.environ.get("DLREF_PAGE_BUDGET_S", "60"))
PAGE_TIMEOUT_S = 3 * PAGE_BUDGET_S
RUNS = pytest.StashKey[dict]()


def pytest_configure(config):
    config.stash[RUNS] = {}
    config.addinivalue_line("markers", "site: builds or inspects the whole site; runs last")


def _given_explicitly(path: Path, config) -> bool:
    return any(Path(arg.split("::")[0]).resolve() == path for arg in config.args)


PAGE_SUFFIXES = (".md", ".ipynb")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix not in PAGE_SUFFIXES:
        return None
    path = file_path.resolve()
    if path.is_relative_to(pages.DOCS) or _given_explicitly(path, parent.config):
        return PageFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(items):
    """Run the site tests after the pages, so the build reuses the runs the pages just made."""
    items.sort(key=lambda item: item.get_closest_marker("site") is not None)


class PageFile(pytest.File):
    def collect(self):
        try:
            blocks = pages.page_blocks(self.path)
        except ValueError as exc:
            raise self.CollectError(str(exc)) from exc
        if blocks:
            item = PageItem.from_parent(self, name="code", blocks=len(blocks))
            item.add_marker(pytest.mark.timeout(PAGE_TIMEOUT_S))
            yield item


class PageBudgetExceeded(Exception):
    """A page's code ran longer than the budget every page must keep on a laptop CPU."""


class PageItem(pytest.Item):
    def __init__(self, *, blocks: int, **kwargs):
        super().__init__(**kwargs)
        self.blocks = blocks

    def runtest(self):
        run = pages.run_page(self.path)
        self.config.stash[RUNS][run.page] = run
        if run.seconds > PAGE_BUDGET_S:
            raise PageBudgetExceeded(
                f"{run.page}: its code took {run.seconds:.1f} s, over the {PAGE_BUDGET_S:.0f} s "
                "budget of a page; make the example smaller"
            )

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, pages.BlockError | PageBudgetExceeded):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"{self.blocks} code blocks of {self.path.name}"


def page_files() -> list[Path]:
    """Every page of the site: Markdown files and notebooks."""
    return sorted(path for suffix in PAGE_SUFFIXES for path in pages.DOCS.rglob(f"*{suffix}"))


@pytest.fixture(scope="session")
def page_runs(request) -> dict[str, pages.PageRun]:
    """The runs of every page with code: those this session made, and the others run now."""
    runs = request.config.stash[RUNS]
    for page in page_files():
        relative = str(page.relative_to(pages.ROOT))
        if relative not in runs and pages.page_blocks(page):
            runs[relative] = pages.run_page(page)
    return runs


def pytest_terminal_summary(terminalreporter, config):
    runs = sorted(config.stash[RUNS].values(), key=lambda run: run.seconds, reverse=True)
    if not runs:
        return
    blocks = sum(len(run.outputs) for run in runs)
    terminalreporter.section("page run times (slowest first)")
    for run in runs[:10]:
        flag = "  OVER BUDGET" if run.seconds > PAGE_BUDGET_S else ""
        terminalreporter.write_line(f"{run.seconds:7.1f} s  {run.page}{flag}")
    terminalreporter.write_line(
        f"{len(runs)} pages, {blocks} code blocks executed on {runs[0].device}, "
        f"{sum(run.seconds for run in runs):.1f} s in all (budget {PAGE_BUDGET_S:.0f} s a page)"
    )
