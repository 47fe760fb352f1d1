"""Turn a page into a Jupyter notebook: prose becomes Markdown cells, code blocks code cells.

The code cells are the blocks the harness executes, in the same order, so the notebook runs
exactly as the page did. A block that only includes a piece of ``dlref`` is shown for reading
(a Markdown cell with the code), since in a notebook it is imported, not redefined.
"""

from __future__ import annotations

import json
import re

from hooks.pages import Block, parse_blocks

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_TITLE = re.compile(r'\s+title="[^"]*"')
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


def runs_as_code(block: Block) -> bool:
    """Whether a page block becomes a code cell (everything but includes of ``dlref`` pieces)."""
    return block.include is None or not block.include.startswith("dlref/")


def page_to_notebook(markdown: str, page: str) -> dict:
    """Build an nbformat-4 notebook from a page's Markdown.

    Args:
        markdown: The page source, with or without YAML front matter.
        page: The page's path, for error messages.

    Returns:
        The notebook as a JSON-serialisable dict.

    Raises:
        ValueError: If a code block sits inside an admonition or tab: a notebook has no place
            for it, so notebook pages keep their code at the top level.
    """
    markdown = _FRONT_MATTER.sub("", markdown)
    lines = markdown.split("\n")
    cells, start = [], 0
    for block in parse_blocks(markdown, page):
        prose = "\n".join(lines[start : block.line - 1])
        if block.indent and runs_as_code(block):
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


def notebook_json(markdown: str, page: str) -> str:
    return json.dumps(page_to_notebook(markdown, page), indent=1, ensure_ascii=False) + "\n"
