"""Find, expand and execute the Python code blocks of a documentation page.

One engine serves both the test harness (``conftest.py``) and the site build (``hooks/execute.py``),
so what the tests run is exactly what the site shows:

- ``parse_blocks`` finds every fenced Python block of a Markdown page (also inside admonitions and
  tabs), with the line it starts on; for a Jupyter notebook page (``.ipynb``), every code cell,
  with its cell number.
- Include lines (``--8<-- "dlref/autograd.py:value"``) are expanded with pymdownx.snippets' own
  preprocessor, configured as in ``mkdocs.yml``, so the code matches the built page to the letter.
- ``run_page`` executes the blocks in page order in one shared namespace, like a notebook, with
  ``__name__ == "__main__"``. A block that is only an include of a ``snippets/`` file runs as that
  complete program, in a fresh namespace; one that includes a piece of ``dlref`` runs in (a copy
  of) that module's namespace, where its imports live. Each block is compiled under its real file
  name and line, so a traceback points at the page line (or the included file's line).
- Printed output and matplotlib figures are captured per block, for the site to show.
- ``cached_run`` keys a successful run by the page's expanded code, the sources of ``dlref`` and
  ``snippets``, the device and torch's version, so the site build reuses what the tests just ran,
  editing prose never re-executes anything, and outputs from another torch are never reused.
  Each run records what produced it (versions, device, date, commit, times): the page's
  "verified with" line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import io
import json
import linecache
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CACHE_DIR = ROOT / ".cache" / "pages"
CACHE_FORMAT = 3
PYTHON_LANGUAGES = {"python", "py", "python3"}
SNIPPET_CONFIG = {"base_path": [str(ROOT)], "check_paths": True, "dedent_subsections": True}

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_INCLUDE = re.compile(r"""^\s*-{1,}8<-{1,}\s+(?P<q>["'])(?P<target>[^"']+)(?P=q)\s*$""")


@dataclass
class Block:
    """One fenced code block of a page.

    Attributes:
        page: Path of the page, relative to the repository root.
        line: 1-based line of the opening fence in the page.
        indent: The fence's indentation (inside admonitions or tabs).
        end_line: 1-based line of the closing fence.
        source: The block's text as written (include lines not expanded).
        code: The block's text with include lines expanded, as the site shows it.
        include: For a block that is one include line, its target (``path`` or ``path:section``).
        in_notebook: Whether the block is a code cell of a notebook page; then ``line`` and
            ``end_line`` are its cell's number (from 1, counting every cell).
    """

    page: str
    line: int
    indent: str
    end_line: int
    source: str
    code: str
    include: str | None = None
    in_notebook: bool = False

    @property
    def location(self) -> str:
        """Where the block is: ``page.md:12`` (its line), or ``page.ipynb, cell 7``."""
        return f"{self.page}, cell {self.line}" if self.in_notebook else f"{self.page}:{self.line}"

    @property
    def filename(self) -> str:
        """The file name the block is compiled under, so tracebacks point at the page."""
        path = str(ROOT / self.page)
        return f"{path}, cell {self.line}" if self.in_notebook else path

    @property
    def is_listing(self) -> bool:
        """Whether the block only shows a piece of ``dlref``: read it; the page imports it.

        It runs in (a copy of) that module's namespace, where its imports live.
        """
        return self.include is not None and self.include.startswith("dlref/")

    @property
    def is_whole_snippet(self) -> bool:
        """Whether the block includes a whole ``snippets/`` program: it runs as that program."""
        return (
            self.include is not None
            and self.include.startswith("snippets/")
            and (":" not in self.include)
        )

    @property
    def runs_in_page(self) -> bool:
        """Whether the block runs in the page's shared namespace, like a notebook cell."""
        return not (self.is_listing or self.is_whole_snippet)


@dataclass
class BlockOutput:
    """What one block printed and drew."""

    line: int
    stdout: str = ""
    figures: list[dict] = field(default_factory=list)  # {"png": base64, "alt", "width", "height"}


@dataclass
class PageRun:
    """The result of executing one page, and the record of what produced it.

    The record (versions, date, commit, times) is what a page's "verified with" line states.
    """

    page: str
    key: str
    device: str
    seconds: float  # wall-clock time of the page's code
    outputs: list[BlockOutput]
    cpu_seconds: float = 0.0  # CPU time while the code ran: all threads, and child processes
    torch: str = ""  # torch.__version__ of the run
    dlref: str = ""  # dlref's version
    date: str = ""  # when the run finished, ISO 8601 in UTC
    commit: str = ""  # the repository's commit, "+" appended when the page or dlref had edits


class BlockError(Exception):
    """A block of a page raised; the message names the page, the line and the traceback."""

    def __init__(self, block: Block, exc: BaseException):
        self.block = block
        self.exc = exc
        frames = traceback.extract_tb(exc.__traceback__)
        # Keep the frames in the page, in dlref and in snippets: the reader's code, not ours.
        keep = [f for f in frames if not f.filename.startswith(str(Path(__file__).parent))]
        trace = "".join(traceback.format_list(keep)).replace(f"{ROOT}/", "")
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        what = "this code block failed"
        if block.in_notebook:
            first = next((line for line in block.code.split("\n") if line.strip()), "")
            what = f"this cell ({first.strip()!r}) failed"
        super().__init__(f"{block.location}: {what}\n{trace}{detail}")


def _snippet_preprocessor():
    import markdown

    md = markdown.Markdown(
        extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": SNIPPET_CONFIG}
    )
    return md.preprocessors["snippet"]


def _expand(lines: list[str]) -> str:
    """Expand ``--8<--`` include lines exactly as the site build does."""
    if not any("8<" in line for line in lines):
        return "\n".join(lines)
    return "\n".join(_snippet_preprocessor().run(list(lines)))


def _language(info: str) -> str:
    """The language of a fence's info string: ``python title="x"`` and ``{.python}`` alike."""
    info = info.strip()
    if info.startswith("{"):
        match = re.search(r"\.([\w+-]+)", info)
        return match.group(1) if match else ""
    return info.split(maxsplit=1)[0] if info else ""


def parse_blocks(text: str, page: str) -> list[Block]:
    """Return the Python blocks of a Markdown page, in order.

    Args:
        text: The page's Markdown.
        page: The page's path relative to the repository root (used in messages).

    Raises:
        ValueError: For an unclosed fence, or a ``pycon`` block (pasted output is not allowed;
            write a ``python`` block and let the build show what it prints).
    """
    if page.endswith(".ipynb"):
        return notebook_blocks(text, page)
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"]
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"{page}:{i + 1}: code fence {fence!r} is never closed")
        language = _language(info)
        if language == "pycon":
            raise ValueError(
                f"{page}:{i + 1}: pycon blocks show pasted output; use a python block instead "
                "and the build shows what it prints"
            )
        if language in PYTHON_LANGUAGES:
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[i + 1 : j]
            ]
            includes = [_INCLUDE.match(line) for line in body if line.strip()]
            only_include = len(includes) == 1 and includes[0] is not None
            blocks.append(
                Block(
                    page=page,
                    line=i + 1,
                    indent=indent,
                    end_line=j + 1,
                    source="\n".join(body),
                    code=_expand(body),
                    include=includes[0]["target"] if only_include else None,
                )
            )
        i = j + 1
    return blocks


def notebook_cells(text: str) -> list[dict]:
    """The cells of a notebook file, each with its ``source`` joined into one string."""
    cells = json.loads(text)["cells"]
    for cell in cells:
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    return cells


def notebook_blocks(text: str, page: str) -> list[Block]:
    """The code cells of a notebook page, in order, numbered by their cell (from 1).

    A notebook page has no include lines: its cells import from ``dlref`` what they use.
    """
    return [
        Block(page, number, "", number, cell["source"], cell["source"], in_notebook=True)
        for number, cell in enumerate(notebook_cells(text), start=1)
        if cell["cell_type"] == "code" and cell["source"].strip()
    ]


def page_blocks(page: Path) -> list[Block]:
    """Parse the blocks of the page at ``page`` (any path under the repository)."""
    page = Path(page).resolve()
    name = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    return parse_blocks(page.read_text(encoding="utf-8"), str(name))


def _include_origin(target: str) -> tuple[Path, int]:
    """The file an include reads and the line its text starts after (for tracebacks)."""
    path, _, section = target.partition(":")
    file = ROOT / path
    if not section:
        return file, 0
    if section[0].isdigit():  # a line range, "path:12:30"
        return file, int(section.split(":")[0]) - 1
    marker = re.compile(rf"-8<-\s*\[\s*start\s*:\s*{re.escape(section)}\s*\]")
    for number, line in enumerate(file.read_text(encoding="utf-8").split("\n"), start=1):
        if marker.search(line):
            return file, number
    return file, 0


def _namespace_for(block: Block, page_namespace: dict) -> tuple[dict, str, int]:
    """Where a block runs: its namespace, the file name it is compiled under, its line offset."""
    if block.in_notebook:
        linecache.cache[block.filename] = (len(block.code), None, block.code.splitlines(True), "")
        return page_namespace, block.filename, 0
    if block.include is None:
        return page_namespace, block.filename, block.line
    file, offset = _include_origin(block.include)
    if block.is_listing:
        module = importlib.import_module(".".join(file.relative_to(ROOT).with_suffix("").parts))
        return dict(vars(module)), str(file), offset
    if block.is_whole_snippet:
        return {"__name__": "__main__", "__file__": str(file)}, str(file), offset
    return page_namespace, str(file), offset


FIGURE_DPI = 200  # pixels per inch saved; the page shows figures at half that (100 CSS px/inch)
MAX_FIGURE_INCHES = 6.9  # the text column of a laptop screen is about 690 CSS px wide


def _take_figures() -> list[dict]:
    """Save every open matplotlib figure as a base64 PNG (with its titles as alt text), close it.

    Figures are saved at ``FIGURE_DPI`` for sharp display on high-density screens and shown at
    half their pixel size, so a figure as wide as ``MAX_FIGURE_INCHES`` fills a laptop's text
    column with its fonts at their nominal size.
    """
    if "matplotlib.pyplot" not in sys.modules:
        return []
    import matplotlib.pyplot as plt

    images = []
    for number in plt.get_fignums():
        figure = plt.figure(number)
        titles = [figure.get_suptitle()] + [axes.get_title() for axes in figure.axes]
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        png = buffer.getvalue()
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        images.append(
            {
                "png": base64.b64encode(png).decode("ascii"),
                "alt": "; ".join(t for t in titles if t) or "Figure drawn by the code above",
                "inches": [round(v, 2) for v in figure.get_size_inches().tolist()],
                "width": width,
                "height": height,
            }
        )
    plt.close("all")
    return images


@contextlib.contextmanager
def _page_environment(page: str):
    """Run in a scratch directory, with a non-interactive matplotlib, restoring state after."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    old_cwd, old_argv = os.getcwd(), sys.argv
    with tempfile.TemporaryDirectory(prefix="dlref-page-") as scratch, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
        os.chdir(scratch)
        sys.argv = [page]
        try:
            yield
        finally:
            os.chdir(old_cwd)
            sys.argv = old_argv
            _take_figures()


PAGE_THREADS = 1  # torch's CPU threads while a page runs: its numbers do not depend on the machine


@contextlib.contextmanager
def _threads(count: int):
    """Run torch's CPU kernels on ``count`` threads, restoring the previous number after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute_blocks(blocks: list[Block]) -> list[BlockOutput]:
    """Execute blocks in order in one page namespace; raise ``BlockError`` at the first failure.

    Torch runs on ``PAGE_THREADS`` CPU threads, so a page prints the same numbers on a laptop, on
    a 64-core server and in the suite's parallel workers (a reader's run with more threads may
    differ in the last digits).
    """
    outputs = []
    page = blocks[0].page if blocks else ""
    namespace = {"__name__": "__main__", "__file__": str(ROOT / page)}
    with _page_environment(page), _threads(PAGE_THREADS):
        for block in blocks:
            target, filename, offset = _namespace_for(block, namespace)
            stdout = io.StringIO()
            try:
                code = compile("\n" * offset + block.code, filename, "exec")
                with contextlib.redirect_stdout(stdout):
                    exec(code, target)  # noqa: S102 - executing the page is the point
            except BaseException as exc:  # noqa: BLE001 - reported with the page and line
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise BlockError(block, exc) from exc
            outputs.append(BlockOutput(block.line, stdout.getvalue(), _take_figures()))
    return outputs


def _source_fingerprint() -> str:
    """A hash of everything a page's code can import from this repository."""
    digest = hashlib.sha256()
    for folder in ("dlref", "snippets"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _device_name() -> str:
    from dlref import get_device

    return get_device().type


def _versions() -> dict[str, str]:
    """The versions a run depends on beyond the repository: torch's and dlref's."""
    import torch

    from dlref import __version__

    return {"torch": torch.__version__, "dlref": __version__}


def commit(*paths: str) -> str:
    """The repository's commit, with "+" if any of ``paths`` (or, with none, any file) has edits.

    Empty outside a git checkout (e.g. a copy of the sources without ``.git``).
    """

    def git(*arguments: str) -> str:
        result = subprocess.run(
            ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    head = git("rev-parse", "--short=10", "HEAD")
    edited = git("status", "--porcelain", "--", *paths)
    return head + ("+" if head and edited else "")


def cache_key(blocks: list[Block]) -> str:
    """The key of a page run: its expanded code, the repository's code, the device, torch's
    version and the store's format. Outputs from another torch or device are never reused."""
    digest = hashlib.sha256(
        f"{CACHE_FORMAT}:{_device_name()}:{_versions()['torch']}:{_source_fingerprint()}".encode()
    )
    for block in blocks:
        digest.update(block.code.encode())
    return digest.hexdigest()[:32]


def _cpu_time() -> float:
    """CPU seconds used so far by this process and the child processes it has waited for (a
    page that launches ``torchrun`` pays for its workers too)."""
    children = os.times()  # in clock ticks: too coarse for this process's own short runs
    return time.process_time() + children.children_user + children.children_system


def run_page(page: Path) -> PageRun:
    """Execute every Python block of ``page`` and store the result in the cache.

    Raises:
        BlockError: If a block raises; the message names the page and the block's line.
    """
    blocks = page_blocks(page)
    start, cpu_start = time.perf_counter(), _cpu_time()
    outputs = execute_blocks(blocks)
    seconds, cpu_seconds = time.perf_counter() - start, _cpu_time() - cpu_start
    name = blocks[0].page if blocks else str(page)
    run = PageRun(
        name,
        cache_key(blocks),
        _device_name(),
        seconds,
        outputs,
        cpu_seconds=cpu_seconds,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        commit=commit(name, "dlref", "snippets"),
        **_versions(),
    )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE_DIR / f"{run.key}.json").write_text(json.dumps(asdict(run)), encoding="utf-8")
    return run


def cached_run(page: Path) -> PageRun | None:
    """The stored run of ``page``'s current code, or ``None`` if it has not run since it changed."""
    file = CACHE_DIR / f"{cache_key(page_blocks(page))}.json"
    if not file.exists():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    data["outputs"] = [BlockOutput(**output) for output in data["outputs"]]
    return PageRun(**data)
