"""Pages marked ``notebook: true`` come as notebooks holding exactly the code the harness ran."""

import json
import re
import textwrap

import nbformat
import pytest
from mkdocs.utils.meta import get_data

from hooks import notebook, pages
from tests.site.page_harness import page_files
from tests.site.site_build import html_page_for

NOTEBOOK_PAGES = [  # pages offered as notebooks: notebook pages, and Markdown pages that ask
    page
    for page in page_files()
    if page.suffix == ".ipynb" or get_data(page.read_text(encoding="utf-8"))[1].get("notebook")
]
NOTEBOOK_SOURCES = [page for page in page_files() if page.suffix == ".ipynb"]

PAGE = textwrap.dedent(
    """\
    ---
    notebook: true
    ---
    # A page

    Intro with $x^2$, after [backpropagation](foundations/backpropagation.md#the-idea), see
    [PyTorch](https://pytorch.org/docs).

    ```python
    import math
    ```

    ```python title="dlref/activations.py"
    --8<-- "dlref/activations.py:sigmoid"
    ```

    ```python
    print(math.pi)
    ```

    ## Next
    """
)


INSTALL = "pip install https://example.org/dist/dlref-0.1.0-py3-none-any.whl"


def test_prose_becomes_markdown_cells_and_blocks_code_cells():
    install, *cells = notebook.page_to_notebook(PAGE, "docs/a.md", INSTALL)["cells"]
    assert install["cell_type"] == "code"
    assert [cell["cell_type"] for cell in cells] == [
        "markdown",
        "code",
        "markdown",
        "code",
        "markdown",
    ]
    assert cells[0]["source"] == (
        "# A page\n\nIntro with $x^2$, after backpropagation, see\n[PyTorch](https://pytorch.org/docs)."
    )
    assert cells[1]["source"] == "import math"
    assert cells[2]["source"].startswith("```python\ndef sigmoid(x: torch.Tensor) -> torch.Tensor:")
    assert cells[3]["source"] == "print(math.pi)"
    assert cells[4]["source"] == "## Next"


def test_the_first_cell_installs_dlref_from_the_site_only_where_it_is_missing(tmp_path):
    cell = notebook.page_to_notebook(PAGE, "docs/a.md", INSTALL)["cells"][0]["source"]
    assert 'if importlib.util.find_spec("dlref") is None:' in cell
    assert '"install", "https://example.org/dist/dlref-0.1.0-py3-none-any.whl"' in cell
    exec(compile(cell, "install-cell", "exec"), {})  # dlref is installed here: a no-op


def test_an_exercise_solution_becomes_a_code_cell_after_a_solution_line():
    page = (
        '# A\n\n### 1. Square\n\nWrite it.\n\n??? success "Solution"\n\n'
        "    ```python\n    x = 2 ** 2\n    ```\n"
    )
    cells = notebook.page_to_notebook(page, "docs/a.md", INSTALL)["cells"]
    assert cells[1]["source"].endswith("Write it.\n\n**Solution** (try the exercise first):")
    assert cells[2] == {**cells[2], "cell_type": "code", "source": "x = 2 ** 2"}


def test_code_inside_another_admonition_is_refused():
    page = "# A\n\n!!! note\n\n    ```python\n    x = 1\n    ```\n"
    with pytest.raises(ValueError, match=r"docs/a.md:5: a notebook page keeps its code blocks"):
        notebook.page_to_notebook(page, "docs/a.md", INSTALL)


def test_there_is_a_notebook_page():
    assert NOTEBOOK_PAGES, "the hands-on pages should be offered as notebooks"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda path: path.name)
def test_notebook_is_valid_and_holds_the_code_the_harness_ran(page):
    text = page.read_text(encoding="utf-8")
    document = nbformat.reads(notebook.notebook_json(text, page.name, INSTALL), as_version=4)
    nbformat.validate(document)
    install, *code_cells = [cell.source for cell in document.cells if cell.cell_type == "code"]
    executed = [block.code for block in pages.page_blocks(page) if notebook.runs_as_code(block)]
    assert code_cells == executed
    assert "find_spec" in install


@pytest.mark.site
@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda path: path.name)
def test_site_serves_the_notebook_it_links(page, built_site):
    html_file = html_page_for(page, built_site.directory)
    html = html_file.read_text(encoding="utf-8")
    name = f"{page.stem}.ipynb"
    assert f'download="" href="{name}"' in html
    served = json.loads((html_file.parent / name).read_text(encoding="utf-8"))
    assert served["nbformat"] == 4


@pytest.mark.site
@pytest.mark.parametrize("page", NOTEBOOK_SOURCES, ids=lambda path: path.stem)
def test_a_notebook_page_shows_its_figures_from_files_and_only_the_css_it_uses(page, built_site):
    """Neither its images nor JupyterLab's whole stylesheet are inlined (hooks/page_load.py)."""
    html_file = html_page_for(page, built_site.directory)
    html = html_file.read_text(encoding="utf-8")
    assert "data:image/png" not in html
    images = re.findall(r'<img [^>]*src="([^"]+\.png)"', html)
    assert images, f"{page.name} shows no figure"
    for src in images:
        assert (html_file.parent / src).is_file(), f"{page.name}: {src} is not on the site"
    assert html.count('loading="lazy"') >= len(images)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert sum(map(len, styles)) < 60_000, "JupyterLab's stylesheet should be cut to what is used"
    assert ".jp-OutputArea" in "".join(styles)


@pytest.mark.parametrize("page", NOTEBOOK_SOURCES, ids=lambda path: path.stem)
def test_notebook_pages_are_committed_without_outputs(page):
    """What a notebook page shows comes from the harness's run, never from a committed output."""
    for number, cell in enumerate(pages.notebook_cells(page.read_text(encoding="utf-8")), 1):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{page.name}, cell {number}: clear its outputs"
            assert cell.get("execution_count") is None, f"{page.name}, cell {number}: count"


def test_a_notebook_page_is_rendered_with_the_outputs_of_its_run():
    text = json.dumps(
        {
            "cells": [
                {"cell_type": "markdown", "metadata": {}, "source": "# A"},
                {
                    "cell_type": "code",
                    "metadata": {},
                    "execution_count": 3,
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": "stale\n"}],
                    "source": "print(6 * 7)",
                },
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    blocks = pages.parse_blocks(text, "docs/a.ipynb")
    run = pages.PageRun("docs/a.ipynb", "key", "cpu", 0.1, pages.execute_blocks(blocks))
    cell = json.loads(notebook.rendered_notebook(text, blocks, run))["cells"][1]
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    assert cell["execution_count"] is None
    unrun = json.loads(notebook.rendered_notebook(text, blocks, None))["cells"][1]
    assert unrun["outputs"] == []  # without a run, nothing: never the committed "stale"
    download = json.loads(notebook.notebook_page_download(text, INSTALL))
    assert "find_spec" in download["cells"][0]["source"]
    assert download["cells"][2] == {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": "print(6 * 7)",
        "id": "cell-2",
    }
