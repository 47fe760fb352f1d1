"""MkDocs hook: run each page's code, show what it printed and drew, and serve KaTeX locally.

``DLREF_EXECUTE`` chooses what the build does with a page's code:

- ``auto`` (default): reuse the stored run of the page's current code (written by the tests or an
  earlier build), and execute the page only when its code, ``dlref`` or ``snippets`` changed.
  Editing prose re-runs nothing, so ``mkdocs serve`` stays quick.
- ``always``: execute every page, ignoring stored runs.
- ``never``: execute nothing and show no outputs (a quick look at layout and prose).

A block that raises fails the build with the page and the line of the block.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from mkdocs.utils.meta import get_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hooks import notebook, pages  # noqa: E402 - needs the repository on the path first

MODES = ("auto", "always", "never")
KATEX = pages.ROOT / "node_modules" / "katex" / "dist"
KATEX_FILES = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]


def _mode() -> str:
    mode = os.environ.get("DLREF_EXECUTE", "auto")
    if mode not in MODES:
        raise PluginError(f"DLREF_EXECUTE must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def on_config(config):
    _mode()
    if not (KATEX / "katex.min.js").exists():
        raise PluginError(
            f"KaTeX is missing from {KATEX}: run `npm ci` (make does it) to install it locally"
        )
    return config


def on_files(files, config):
    """Serve KaTeX (script, stylesheet, auto-render and its woff2 fonts) from the site itself."""
    names = KATEX_FILES + [
        f"fonts/{font.name}" for font in sorted((KATEX / "fonts").glob("*.woff2"))
    ]
    for name in names:
        files.append(
            File(
                name,
                src_dir=str(KATEX),
                dest_dir=str(Path(config["site_dir"]) / "assets" / "katex"),
                use_directory_urls=False,
            )
        )
    _add_notebooks(files, config)
    return files


def _notebook_uri(src_uri: str) -> str:
    """Where a page's notebook is served: beside the page, named after it."""
    path = Path(src_uri)
    folder = path.parent if path.stem == "index" else path.with_suffix("")
    return str(folder / f"{path.stem}.ipynb")


def _add_notebooks(files, config):
    """Generate a notebook for every page whose front matter says ``notebook: true``."""
    for page_file in list(files.documentation_pages()):
        text = Path(page_file.abs_src_path).read_text(encoding="utf-8")
        if get_data(text)[1].get("notebook"):
            try:
                content = notebook.notebook_json(text, page_file.src_uri)
            except ValueError as exc:
                raise PluginError(str(exc)) from exc
            files.append(File.generated(config, _notebook_uri(page_file.src_uri), content=content))


def _output_markdown(output: pages.BlockOutput, indent: str) -> list[str]:
    """Markdown for what one block printed (a text block) and drew (images), at its indent."""
    lines = []
    if output.stdout.strip():
        fence = "````"
        lines += ["", f'{fence}text title="Output"', *output.stdout.rstrip("\n").split("\n"), fence]
    for figure in output.figures:
        alt = figure["alt"].replace("[", "(").replace("]", ")")
        lines += ["", f"![{alt}](data:image/png;base64,{figure['png']}){{ .dlref-figure }}"]
    return [indent + line if line else line for line in lines]


def on_page_markdown(markdown, page, config, files):
    path = Path(page.file.abs_src_path)
    try:
        blocks = pages.parse_blocks(markdown, str(path.relative_to(pages.ROOT)))
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    mode = _mode()
    if not blocks or mode == "never":
        return markdown
    run = pages.cached_run(path) if mode == "auto" else None
    if run is None:
        try:
            run = pages.run_page(path)
        except pages.BlockError as exc:
            raise PluginError(str(exc)) from exc
    lines = markdown.split("\n")
    # Insert from the last block up, so earlier line numbers stay valid.
    for block, output in reversed(list(zip(blocks, run.outputs, strict=True))):
        lines[block.end_line : block.end_line] = _output_markdown(output, block.indent)
    note = (
        f'<p class="dlref-runinfo">Every code block on this page ran, top to bottom in one '
        f"session, when this site was built: {run.seconds:.1f} s on {run.device.upper()}.</p>"
    )
    if page.meta.get("notebook"):
        name = Path(_notebook_uri(page.file.src_uri)).name
        note += (
            f'\n<p class="dlref-notebook"><a class="md-button" href="{name}" download>'
            "Download this page as a Jupyter notebook</a></p>"
        )
    heading = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1)
    lines.insert(heading + 1, "\n" + note + "\n")
    return "\n".join(lines)
