"""Notebooks for readers: a Markdown page as a notebook, and a notebook page as the site shows it.

A Markdown page with ``notebook: true`` becomes a notebook: prose becomes Markdown cells, code
blocks code cells.

The code cells are the blocks the harness executes, in the same order, so the notebook runs
exactly as the page did. A block that only includes a piece of ``dlref`` is shown for reading
(a Markdown cell with the code), since in a notebook it is imported, not redefined. The first
cell installs ``dlref`` from the site where it is not installed yet (Colab, a fresh Jupyter), and
an exercise's solution (a block in a collapsed ``??? success "Solution"`` admonition) becomes a
code cell after a "Solution" line.

A notebook page (``docs/**/*.ipynb``, committed without outputs) is served twice: as the page,
rendered by mkdocs-jupyter from a copy whose outputs are what the harness's run printed and drew
(``rendered_notebook``), and as a download that starts with the install cell
(``notebook_page_download``).
"""

from __future__ import annotations

import json
import re

from hooks.pages import Block, BlockOutput, PageRun, notebook_cells, parse_blocks

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_TITLE = re.compile(r'\s+title="[^"]*"')
_SOLUTION = re.compile(r'^[ \t]*\?\?\?\+?[ \t]+\w+(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$')
_SITE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z]+:)[^)\s]*\)")  # [text](page.md#anchor)


def _markdown_cell(text: str) -> dict:
    """A Markdown cell; links to other pages of the site keep their text (they would be dead)."""
    return {
        "cell_type": "markdown",
        "metadata": {},
        "source": _SITE_LINK.sub(r"\1", text.strip("\n")),
    }


def _code_cell(code: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": code,
    }


def install_cell(install_command: str) -> dict:
    """A first cell that installs ``dlref`` with the site's command, only where it is missing."""
    arguments = ", ".join(f'"{word}"' for word in install_command.split()[1:])
    return _code_cell(
        "# Install dlref (and PyTorch with it) unless this environment has it already.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("dlref") is None:\n'
        f'    subprocess.check_call([sys.executable, "-m", "pip", {arguments}])'
    )


def _solution_opening(prose_lines: list[str]) -> int | None:
    """The index of the ``??? success "Solution"`` line a block sits in, if it is the last."""
    for index in range(len(prose_lines) - 1, -1, -1):
        if prose_lines[index].strip():
            return index if _SOLUTION.match(prose_lines[index]) else None
    return None


def runs_as_code(block: Block) -> bool:
    """Whether a page block becomes a code cell (everything but listings of ``dlref``)."""
    return not block.is_listing


def page_to_notebook(markdown: str, page: str, install_command: str) -> dict:
    """Build an nbformat-4 notebook from a page's Markdown.

    Args:
        markdown: The page source, with or without YAML front matter.
        page: The page's path, for error messages.
        install_command: The ``pip install ...`` line of the site, for the first cell.

    Returns:
        The notebook as a JSON-serialisable dict.

    Raises:
        ValueError: If a code block sits inside an admonition or tab other than an exercise's
            solution: a notebook has no place for it, so notebook pages keep their code at the
            top level.
    """
    markdown = _FRONT_MATTER.sub("", markdown)
    lines = markdown.split("\n")
    cells, start = [install_cell(install_command)], 0
    for block in parse_blocks(markdown, page):
        prose_lines = lines[start : block.line - 1]
        opening = _solution_opening(prose_lines) if block.indent else None
        if opening is not None:
            title = _SOLUTION.match(prose_lines[opening])["title"] or "Solution"
            prose_lines[opening] = f"**{title}** (try the exercise first):"
        prose = "\n".join(prose_lines)
        if block.indent and runs_as_code(block) and opening is None:
            raise ValueError(
                f"{block.location}: a notebook page keeps its code blocks at the top level, "
                "not inside an admonition or tab"
            )
        if runs_as_code(block):
            if prose.strip():
                cells.append(_markdown_cell(prose))
            cells.append(_code_cell(block.code))
        else:
            fence = _TITLE.sub("", lines[block.line - 1])
            cells.append(_markdown_cell(f"{prose}\n\n{fence}\n{block.code}\n```"))
        start = block.end_line
    if "\n".join(lines[start:]).strip():
        cells.append(_markdown_cell("\n".join(lines[start:])))
    return _notebook(cells)


def _notebook(cells: list[dict]) -> dict:
    """An nbformat-4 notebook of ``cells``, each given an id, for a Python 3 kernel."""
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _json(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def notebook_json(markdown: str, page: str, install_command: str) -> str:
    return _json(page_to_notebook(markdown, page, install_command))


def notebook_page_download(text: str, install_command: str) -> str:
    """A notebook page as readers download it: the install cell first, then its cells, no outputs.

    Links to other pages of the site keep only their text, as in a page's notebook.
    """
    cells = [install_cell(install_command)]
    for cell in notebook_cells(text):
        if cell["cell_type"] == "markdown":
            cells.append(_markdown_cell(cell["source"]))
        elif cell["cell_type"] == "code":
            cells.append(_code_cell(cell["source"]))
    return _json(_notebook(cells))


def _outputs(output: BlockOutput) -> list[dict]:
    """Jupyter outputs for what one cell printed (a stream) and drew (PNG images)."""
    outputs = []
    if output.stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": output.stdout})
    for figure in output.figures:
        size = {"width": figure["width"] // 2, "height": figure["height"] // 2}  # 100 px/inch
        outputs.append(
            {
                "output_type": "display_data",
                "data": {"image/png": figure["png"], "text/plain": figure["alt"]},
                "metadata": {"image/png": size},
            }
        )
    return outputs


def rendered_notebook(text: str, blocks: list[Block], run: PageRun | None) -> str:
    """A notebook page as the site shows it: each code cell with what the run printed and drew.

    Committed outputs never reach the site: every output comes from ``run`` (none without one).
    """
    notebook = json.loads(text)
    outputs = (
        {block.line: output for block, output in zip(blocks, run.outputs, strict=True)}
        if run
        else {}
    )
    for number, cell in enumerate(notebook["cells"], start=1):
        if cell["cell_type"] == "code":
            cell["outputs"] = _outputs(outputs[number]) if number in outputs else []
            cell["execution_count"] = None
    return _json(notebook)
