"""Every topic page ends with checked exercises, and every check is used and passes its solution.

``tests/dlref/exercises/`` proves that each check fails a blank stub and typical wrong answers
with a useful hint. Here, on the pages: each exercise has a solution on its page, each
solution calls a check of ``dlref.exercises`` and the page run shows that it printed ``Correct``,
and no check is left unused.
"""

from __future__ import annotations

import re

import pytest

import dlref.exercises
from hooks import pages
from hooks.scaffold import SECTIONS
from tests.site.page_harness import page_files

# A topic page is a page in a folder of the roadmap's sections (foundations/, architectures/, ...).
# Markdown topic pages: a notebook page has no folded solutions to hold its exercises.
TOPIC_PAGES = [
    page for page in page_files() if page.parent.name in SECTIONS and page.suffix == ".md"
]
_SOLUTION = re.compile(r'^\s*\?\?\? success "Solution"\s*$')
_EXERCISE = re.compile(r"^### \d+\. \S")
CHECKS = {
    name: getattr(dlref.exercises, name)
    for name in dlref.exercises.__all__
    if name.startswith("check_")
}


def solutions(page) -> list[pages.Block]:
    """The blocks of a page that sit in a ``??? success "Solution"`` admonition."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found = []
    for block in pages.page_blocks(page):
        above = [line for line in lines[: block.line - 1] if line.strip()]
        if block.indent and above and _SOLUTION.match(above[-1]):
            found.append(block)
    return found


@pytest.mark.parametrize("page", TOPIC_PAGES, ids=lambda path: path.stem)
def test_each_topic_page_has_two_to_four_exercises_with_a_solution_each(page):
    lines = page.read_text(encoding="utf-8").split("\n")
    assert "## Exercises" in lines, f"{page.name}: no Exercises section"
    start = lines.index("## Exercises") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    exercises = [line for line in lines[start:end] if _EXERCISE.match(line)]
    assert 2 <= len(exercises) <= 4, f"{page.name}: {len(exercises)} exercises"
    in_section = [block for block in solutions(page) if start < block.line <= end]
    assert len(in_section) == len(exercises), f"{page.name}: a solution per exercise"


@pytest.mark.site  # after the pages ran: it reads their runs
def test_every_solution_passes_its_check(page_runs):
    used = set()
    for page in TOPIC_PAGES:
        relative = str(page.relative_to(pages.ROOT))
        outputs = {output.line: output for output in page_runs[relative].outputs}
        for block in solutions(page):
            called = {name for name in CHECKS if re.search(rf"\b{name}\(", block.code)}
            assert called, f"{block.location}: the solution calls no check of dlref.exercises"
            assert outputs[block.line].stdout.count("Correct:") >= len(called), (
                f"{block.location}: the solution did not print Correct for {sorted(called)}"
            )
            used |= called
    assert used == set(CHECKS), f"checks no page uses: {sorted(set(CHECKS) - used)}"
