"""The page harness itself: it finds every Python block, and a failure names the page and line."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hooks import pages


def parse(markdown: str) -> list[pages.Block]:
    return pages.parse_blocks(textwrap.dedent(markdown), "docs/page.md")


def test_finds_blocks_with_titles_braces_and_indentation():
    blocks = parse(
        """\
        # Title

        ```python
        a = 1
        ```

        ```python title="two.py" linenums="1"
        b = 2
        ```

        !!! note

            ```py
            c = 3
            ```

        ``` { .python .annotate }
        d = 4
        ```

        ```bash
        echo not python
        ```

        ~~~~python3
        e = "``` not a fence end"
        ~~~~
        """
    )
    assert [block.code for block in blocks] == [
        "a = 1",
        "b = 2",
        "c = 3",
        "d = 4",
        'e = "``` not a fence end"',
    ]
    assert [block.line for block in blocks] == [3, 7, 13, 17, 25]
    assert blocks[2].indent == "    "


def test_expands_includes_like_the_site():
    (block,) = parse(
        """\
        ```python
        --8<-- "dlref/activations.py:sigmoid"
        ```
        """
    )
    assert block.include == "dlref/activations.py:sigmoid"
    assert block.code.startswith("def sigmoid(x: torch.Tensor) -> torch.Tensor:")
    assert "--8<--" not in block.code


def test_rejects_pasted_output_and_unclosed_fences():
    with pytest.raises(ValueError, match=r"docs/page.md:1: pycon blocks show pasted output"):
        parse("```pycon\n>>> 1 + 1\n2\n```\n")
    with pytest.raises(ValueError, match=r"docs/page.md:2: code fence '```' is never closed"):
        parse("text\n```python\nx = 1\n")


def test_blocks_share_one_namespace_and_capture_output():
    blocks = parse(
        """\
        ```python
        x = 20
        ```

        ```python
        print(x + 22, __name__)
        ```
        """
    )
    outputs = pages.execute_blocks(blocks)
    assert [output.stdout for output in outputs] == ["", "42 __main__\n"]


def test_figures_are_captured_per_block():
    blocks = parse(
        """\
        ```python
        import matplotlib.pyplot as plt
        plt.plot([0, 1], [1, 0])
        plt.title("a line")
        plt.show()
        ```
        """
    )
    (output,) = pages.execute_blocks(blocks)
    assert len(output.figures) == 1
    assert output.figures[0]["alt"] == "a line"
    assert output.figures[0]["png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature


def run_pytest_on(page: Path) -> subprocess.CompletedProcess:
    """``python -m pytest PAGE`` with the page harness, as a contributor runs it."""
    command = [sys.executable, "-m", "pytest", "-p", "tests.site.page_harness", "-q"]
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", str(page)],
        cwd=pages.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_failing_block_fails_pytest_naming_page_and_line(tmp_path):
    page = tmp_path / "planted.md"
    page.write_text(
        "# Planted\n\n```python\nx = 1\n```\n\nProse.\n\n```python\ny = x + 1\nz = y / 0\n```\n"
    )
    result = run_pytest_on(page)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{page}:9: this code block failed" in result.stdout
    assert f'File "{page}", line 11' in result.stdout
    assert "ZeroDivisionError: division by zero" in result.stdout


def notebook(*cells: tuple[str, str]) -> str:
    """A notebook file's text: cells given as ``("markdown" | "code", source)``."""
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": source}
                | ({"outputs": [], "execution_count": None} if kind == "code" else {})
                for kind, source in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def test_a_notebook_page_runs_its_code_cells_in_one_namespace():
    text = notebook(("markdown", "# A"), ("code", "x = 2"), ("code", ""), ("code", "print(x + 1)"))
    blocks = pages.parse_blocks(text, "docs/a.ipynb")
    assert [(block.line, block.location) for block in blocks] == [
        (2, "docs/a.ipynb, cell 2"),
        (4, "docs/a.ipynb, cell 4"),
    ]  # the empty cell is not a block
    outputs = pages.execute_blocks(blocks)
    assert [output.stdout for output in outputs] == ["", "3\n"]


def test_a_failing_cell_fails_pytest_naming_the_notebook_and_the_cell(tmp_path):
    page = tmp_path / "planted.ipynb"
    page.write_text(
        notebook(
            ("markdown", "# Planted"),
            ("code", "x = 1"),
            ("code", "def broken():\n    return x / 0\n\n\nbroken()"),
        )
    )
    result = run_pytest_on(page)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{page}, cell 3: this cell ('def broken():') failed" in result.stdout
    assert f'File "{page}, cell 3", line 2, in broken' in result.stdout
    assert "return x / 0" in result.stdout  # the line of the cell, shown in the traceback
    assert "ZeroDivisionError: division by zero" in result.stdout


def test_shards_share_out_every_file_once_with_the_pages_dealt_evenly():
    from tests.site.page_harness import shard_files, shard_of

    files = [Path(f"docs/p{i}.md") for i in range(7)] + [Path(f"tests/t{i}.py") for i in range(5)]
    shares = [shard_files(files, k, 3) for k in (1, 2, 3)]
    assert sorted(f for share in shares for f in share) == sorted(files)
    assert [sum(f.suffix == ".md" for f in share) for share in shares] == [3, 2, 2]
    assert [len(share) for share in shares] == [4, 4, 4]
    assert shard_of("2/3") == (2, 3) and shard_of(None) is None
    for bad in ("0/3", "4/3", "1", "a/b"):
        with pytest.raises(pytest.UsageError, match="K/N"):
            shard_of(bad)
