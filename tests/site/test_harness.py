"""The page harness itself: it finds every Python block, and a failure names the page and line."""

import subprocess
import sys
import textwrap

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


def test_a_failing_block_fails_pytest_naming_page_and_line(tmp_path):
    page = tmp_path / "planted.md"
    page.write_text(
        "# Planted\n\n```python\nx = 1\n```\n\nProse.\n\n```python\ny = x + 1\nz = y / 0\n```\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.site.page_harness",
            "-q",
            "-p",
            "no:cacheprovider",
            str(page),
        ],
        cwd=pages.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{page}:9: this code block failed" in result.stdout
    assert f'File "{page}", line 11' in result.stdout
    assert "ZeroDivisionError: division by zero" in result.stdout
