"""What pages show of ``dlref`` stays lean, and every module is documented where readers look.

- Every section marker in ``dlref/`` is shown by a page (or the page skeleton), and every section
  a page shows exists (the build checks that too, with ``check_paths``).
- A section a page shows reads like the math: it never has more docstring lines than code lines.
  The full math lives in the module's or class's docstring, on the API reference.
- Every module's docstring names, with a link, the page that explains it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import dlref
from hooks import pages

MARKER = re.compile(r"#\s*--8<--\s*\[(start|end):([\w-]+)\]")
INCLUDE = re.compile(r'--8<--\s*"(dlref/[\w/]+\.py):([\w-]+)"')
LINK = re.compile(r"\]\(([^)\s]+?\.md)(#[\w-]+)?\)")
SOURCES = sorted((pages.ROOT / "dlref").rglob("*.py"))
SHOWING = sorted(pages.DOCS.rglob("*.md")) + sorted((pages.ROOT / "templates").glob("*.md"))
# Modules for contributors rather than readers: explained in the contributor's guide.
FOR_CONTRIBUTORS = {"dlref.checks", "dlref.exercises.checking"}


def sections(source: Path) -> dict[str, tuple[int, int]]:
    """Each section of a file: its name and the numbers of its first and last line (from 1)."""
    starts: dict[str, int] = {}
    found: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        for kind, name in MARKER.findall(line):
            if kind == "start":
                starts[name] = number + 1
            else:
                found[name] = (starts.pop(name), number - 1)
    assert not starts, f"{source}: sections never ended: {sorted(starts)}"
    return found


def shown() -> set[tuple[str, str]]:
    """Every ``(file, section)`` a page or the page skeleton includes."""
    return {
        match for page in SHOWING for match in INCLUDE.findall(page.read_text(encoding="utf-8"))
    }


def docstring_lines(source: Path) -> set[int]:
    """The line numbers that belong to docstrings of the module, its classes and functions."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def count_lines(source: Path, first: int, last: int) -> tuple[int, int]:
    """The docstring lines and the code lines (not blank, not only a comment) of a line range."""
    text = source.read_text(encoding="utf-8").splitlines()
    documented = docstring_lines(source)
    docstring = code = 0
    for number in range(first, last + 1):
        stripped = text[number - 1].strip()
        if number in documented:
            docstring += 1
        elif stripped and not stripped.startswith("#"):
            code += 1
    return docstring, code


ALL_SECTIONS = [
    (str(source.relative_to(pages.ROOT)), name, span)
    for source in SOURCES
    for name, span in sections(source).items()
]
SHOWN = shown()


def test_every_section_marker_is_shown_by_a_page():
    unused = [f"{path}:{name}" for path, name, _ in ALL_SECTIONS if (path, name) not in SHOWN]
    assert not unused, f"section markers no page shows (remove them): {unused}"


def test_every_section_a_page_shows_exists():
    existing = {(path, name) for path, name, _ in ALL_SECTIONS}
    assert existing >= SHOWN, f"pages show sections that do not exist: {sorted(SHOWN - existing)}"


@pytest.mark.parametrize(
    ("path", "name", "span"),
    [entry for entry in ALL_SECTIONS if entry[:2] in SHOWN],
    ids=[f"{path}:{name}" for path, name, _ in ALL_SECTIONS if (path, name) in SHOWN],
)
def test_a_shown_section_has_no_more_docstring_than_code(path, name, span):
    docstring, code = count_lines(pages.ROOT / path, *span)
    assert docstring <= code, (
        f"{path}:{name} shows {docstring} docstring lines and {code} code lines: keep one line "
        "per docstring in the section and move the math to the module's or class's docstring"
    )


def modules() -> list[str]:
    """Every module of the package, the package itself included."""
    found = ["dlref"]
    for info in pkgutil.walk_packages(dlref.__path__, prefix="dlref."):
        found.append(info.name)
    return sorted(found)


def reference_directory(module: str) -> Path:
    """The folder of the API reference page that shows ``module`` (links resolve from there)."""
    parts = module.split(".")[1:]
    while parts:
        page = pages.DOCS / "reference" / Path(*parts).with_suffix(".md")
        if page.exists():
            return page.parent
        parts = parts[:-1]
    return pages.DOCS / "reference"


@pytest.mark.parametrize("module", modules())
def test_each_module_docstring_names_the_page_that_explains_it(module):
    docstring = importlib.import_module(module).__doc__ or ""
    if module in FOR_CONTRIBUTORS:
        assert "CONTRIBUTING.md" in docstring, f"{module}: point to the contributor's guide"
        return
    links = [target for target, _ in LINK.findall(docstring)]
    explained = [
        (reference_directory(module) / target).resolve()
        for target in links
        if "reference/" not in target
    ]
    assert explained, f"{module}: its docstring links no page, e.g. [Title](../section/page.md)"
    for page in explained:
        assert page.is_file() and page.is_relative_to(pages.DOCS), f"{module}: no page {page}"
