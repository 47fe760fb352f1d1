"""Pytest plugin: every page under ``docs/`` is a test that runs the page's code.

A page is a Markdown file or a Jupyter notebook. ``python -m pytest docs/foundations/x.md`` (or
``docs/projects/y.ipynb``) runs one page; ``python -m pytest`` runs them all with the rest of the
suite. A page's Python blocks (a notebook's code cells) run in order in one namespace (see
``hooks/pages.py``); a failing block fails the test with the page path, the line of the block (for
a notebook, the number and first line of the cell) and the traceback inside the page. A page over
its time budget fails too, and the slowest pages are listed at the end of the run.

The budget is CPU time, not wall-clock time, so a busy machine cannot fail it: a page's code may
use ``PAGE_BUDGET_S`` seconds of CPU (it runs on one thread, see ``pages.PAGE_THREADS``), which is
at most that long to wait on a laptop. A hang still fails, after ``PAGE_TIMEOUT_S`` of wall time.

With pytest-xdist (``make test`` runs ``pytest -n auto``) pages spread across processes, one page
per worker at a time; every page runs once per test run, and the site tests, which need every
page's run, take the runs the workers stored (``run_once``).

Across machines, ``--shard K/N`` keeps the K-th of N shares of the test files (pages dealt out in
turn, then the other test files), so N CI runners share the suite: each runs
``make test PYTEST_ARGS='-m "not site" --shard K/N'``, and one more runs the site tests with
``--reuse-page-runs`` on the page runs they stored (``.cache/pages``), which it takes whatever
their date (their key already covers the code, torch's version and the device).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest
from filelock import FileLock

from hooks import pages

PAGE_BUDGET_S = float(os.environ.get("DLREF_PAGE_BUDGET_S", "60"))  # CPU seconds
PAGE_TIMEOUT_S = 10 * PAGE_BUDGET_S  # wall-clock seconds: a page that hangs
RUNS = pytest.StashKey[dict]()
STARTED = pytest.StashKey[float]()


def pytest_addoption(parser):
    group = parser.getgroup("dlref pages")
    group.addoption(
        "--shard",
        metavar="K/N",
        help="run only the K-th of N shares of the test files (1 <= K <= N), for N CI runners",
    )
    group.addoption(
        "--reuse-page-runs",
        action="store_true",
        help="take every page's stored run, even one made before this test run began",
    )


def shard_of(value: str | None) -> tuple[int, int] | None:
    """``"K/N"`` as ``(K, N)``, or ``None`` for no sharding.

    Raises:
        pytest.UsageError: If the value is not two integers with 1 <= K <= N.
    """
    if value is None:
        return None
    k, _, n = value.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise pytest.UsageError(f"--shard expects K/N with 1 <= K <= N, such as 2/3, got {value!r}")
    return int(k), int(n)


def pytest_configure(config):
    config.stash[RUNS] = {}
    shard_of(config.getoption("shard"))  # a bad value fails before collection
    # When this test run began: the controller's clock, handed to every xdist worker.
    worker = getattr(config, "workerinput", None)
    config.stash[STARTED] = worker["dlref_started"] if worker else time.time()
    config.addinivalue_line("markers", "site: builds or inspects the whole site; runs last")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["dlref_started"] = node.config.stash[STARTED]


def run_once(page: Path, config) -> pages.PageRun:
    """This test run's run of ``page``: the one another worker stored since the run began, or a
    new one. A lock per page makes a second worker wait for the first instead of running it too."""
    blocks = pages.page_blocks(page)
    pages.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(pages.CACHE_DIR / f"{pages.cache_key(blocks)}.lock"):
        run = pages.cached_run(page)
        if run is None or not _of_this_run(run, config):
            run = pages.run_page(page)
    config.stash[RUNS][run.page] = run
    return run


def _of_this_run(run: pages.PageRun, config) -> bool:
    """Whether a stored run counts as this test run's: made since it began, or any with
    ``--reuse-page-runs``."""
    if config.getoption("reuse_page_runs"):
        return True
    return datetime.fromisoformat(run.date).timestamp() >= config.stash[STARTED]


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
        run = run_once(self.path, self.config)
        if run.cpu_seconds > PAGE_BUDGET_S:
            raise PageBudgetExceeded(
                f"{run.page}: its code used {run.cpu_seconds:.1f} s of CPU time, over the "
                f"{PAGE_BUDGET_S:.0f} s budget of a page; make the example smaller"
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
            run_once(page, request.config)
    return runs


def pytest_collection_modifyitems(config, items):
    """Run the site tests after the pages, so the build reuses the runs the pages just made.

    With ``--shard K/N``, only the items of the K-th share of the files are kept (see
    ``shard_files``).
    """
    shard = shard_of(config.getoption("shard"))
    if shard:
        keep = shard_files(sorted({item.path for item in items}), *shard)
        config.hook.pytest_deselected(items=[item for item in items if item.path not in keep])
        items[:] = [item for item in items if item.path in keep]
    items.sort(key=lambda item: item.get_closest_marker("site") is not None)


def shard_files(files: list[Path], k: int, n: int) -> set[Path]:
    """The K-th of N shares of ``files``: pages dealt out in turn, then the other files.

    Pages are dealt first, in order, because they take most of the time; the other files then
    continue the deal where the pages stopped, so every share gets about as many of each.
    """
    ordered = [f for f in files if f.suffix in PAGE_SUFFIXES] + [
        f for f in files if f.suffix not in PAGE_SUFFIXES
    ]
    return {f for i, f in enumerate(ordered) if i % n == k - 1}


def _stored_runs(config) -> list[pages.PageRun]:
    """Every page's run of this test run, whichever worker made it."""
    runs = []
    for page in page_files():
        run = pages.cached_run(page) if pages.page_blocks(page) else None
        if run and _of_this_run(run, config):
            runs.append(run)
    return runs


def pytest_terminal_summary(terminalreporter, config):
    """The time report: every page's CPU and wall time, slowest first, and the totals."""
    runs = sorted(_stored_runs(config), key=lambda run: run.cpu_seconds, reverse=True)
    if not runs:
        return
    blocks = sum(len(run.outputs) for run in runs)
    terminalreporter.section("page run times (most CPU first)")
    terminalreporter.write_line(" CPU s  wall s  page")
    for run in runs:
        flag = "  OVER BUDGET" if run.cpu_seconds > PAGE_BUDGET_S else ""
        terminalreporter.write_line(f"{run.cpu_seconds:6.1f}  {run.seconds:6.1f}  {run.page}{flag}")
    terminalreporter.write_line(
        f"{len(runs)} pages, {blocks} code blocks executed on {runs[0].device}: "
        f"{sum(run.cpu_seconds for run in runs):.1f} s of CPU, "
        f"{sum(run.seconds for run in runs):.1f} s of wall time in all "
        f"(budget {PAGE_BUDGET_S:.0f} s of CPU a page)"
    )
    terminalreporter.write_line(
        f"whole run: {time.time() - config.stash[STARTED]:.0f} s of wall time, "
        f"on {os.cpu_count()} CPUs"
    )
