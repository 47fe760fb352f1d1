"""``make page NAME=section/topic``: a new page from ``templates/page.md``, added to ``nav``.

Everything runs on a copy of ``docs/``, ``mkdocs.yml`` and ``templates/`` in a temporary folder;
the repository's own files are never touched. The scaffolded page must run as it is and meet
the rules every topic page meets (``test_exercises.py``), so a contributor starts from green.
"""

from __future__ import annotations

import re
import shutil

import pytest
from mkdocs.utils.yaml import yaml_load

from hooks import pages, scaffold
from tests.site import test_exercises
from tests.site.test_exercises import CHECKS, solutions

# A name no real page will have, so the test runs whatever pages the site has.
NAME = "architectures/scaffolded-by-the-test"
PAGE = "docs/architectures/scaffolded-by-the-test.md"
ANATOMY = [  # the page's sections, in order (CONTRIBUTING.md, "The anatomy of a topic page")
    "## The idea",
    "## The math",
    "## The implementation",
    "### Check it against PyTorch",
    "## Experiment",
    "## Pitfalls and practical defaults",
    "## Exercises",
    "## Key takeaways",
    "## References",
    "## Next",
]


def copy_of_the_site(destination):
    """What the scaffold reads and writes, copied: docs/, mkdocs.yml and templates/."""
    for folder in ("docs", "templates"):
        shutil.copytree(pages.ROOT / folder, destination / folder)
    shutil.copy(pages.ROOT / "mkdocs.yml", destination / "mkdocs.yml")
    return destination


def nav_of(root) -> list:
    return yaml_load((root / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]


def section_titles(nav: list) -> list[str]:
    return [next(iter(entry)) for entry in nav if isinstance(entry, dict)]


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    """A copy of the site with ``NAME`` scaffolded into it, and its mkdocs.yml from before."""
    root = copy_of_the_site(tmp_path_factory.mktemp("scaffold"))
    before = (root / "mkdocs.yml").read_text(encoding="utf-8")
    done = scaffold.scaffold(NAME, root=root)
    return root, done, before


def test_writes_the_page_from_the_template_with_its_title(scaffolded):
    root, done, _ = scaffolded
    assert done.page.as_posix() == PAGE
    text = (root / PAGE).read_text(encoding="utf-8")
    template = (pages.ROOT / "templates" / "page.md").read_text(encoding="utf-8")
    assert text.startswith("# Scaffolded by the test\n")
    assert text == template.replace("{{ title }}", "Scaffolded by the test")
    assert not re.search(r"\{\{\s*\w+\s*\}\}", text), "a placeholder the scaffold does not fill"
    assert not (pages.ROOT / PAGE).exists()


def test_adds_the_page_at_the_end_of_its_section_and_keeps_every_line(scaffolded):
    root, done, before = scaffolded
    assert done.section == "Architectures"
    assert done.new_section == ("Architectures" not in section_titles(yaml_load(before)["nav"]))
    nav = nav_of(root)
    titles = section_titles(nav)
    assert titles.index("Foundations") < titles.index("Architectures") < titles.index("Projects")
    (architectures,) = [entry["Architectures"] for entry in nav if "Architectures" in entry]
    assert architectures[-1] == {
        "Scaffolded by the test": "architectures/scaffolded-by-the-test.md"
    }
    after = (root / "mkdocs.yml").read_text(encoding="utf-8").split("\n")
    added = [line for line in after if line not in before.split("\n")]
    assert added[-1] == "      - Scaffolded by the test: architectures/scaffolded-by-the-test.md"
    assert len(added) == (2 if done.new_section else 1)
    assert [line for line in after if line not in added] == before.split("\n"), "lines lost"


NAV_WITH_PLACEHOLDERS = """\
site_name: x
nav:
  # The roadmap's sections, in order.
  - Home: index.md
  - Foundations:
      - F: foundations/f.md
  # - Architectures: CNNs, RNNs (architectures/)
  # - Training: transfer learning (training/)
  - Projects:
      - P: projects/p.md
  # - See also: papers (see-also/)
  - Notation: notation.md
"""


def test_a_new_section_goes_under_its_placeholder_comment():
    text, created = scaffold.add_to_nav(NAV_WITH_PLACEHOLDERS, "Training", "T", "training/t.md")
    assert created
    lines = text.split("\n")
    at = lines.index("  # - Training: transfer learning (training/)")
    assert lines[at + 1 : at + 3] == ["  - Training:", "      - T: training/t.md"]
    assert [line for line in lines if line not in lines[at + 1 : at + 3]] == (
        NAV_WITH_PLACEHOLDERS.split("\n")
    )
    text, created = scaffold.add_to_nav(text, "Training", "U", "training/u.md")
    assert not created
    assert yaml_load(text)["nav"][2] == {
        "Training": [{"T": "training/t.md"}, {"U": "training/u.md"}]
    }


def test_a_page_joins_the_end_of_an_existing_section(tmp_path):
    root = copy_of_the_site(tmp_path)
    done = scaffold.scaffold("foundations/weight-decay", root=root)
    assert not done.new_section and done.title == "Weight decay"
    (foundations,) = [entry["Foundations"] for entry in nav_of(root) if "Foundations" in entry]
    assert foundations[-1] == {"Weight decay": "foundations/weight-decay.md"}
    assert len(foundations) > 1


def test_sections_missing_from_nav_go_in_roadmap_order_without_placeholders():
    text = "site_name: x\nnav:\n  - Home: index.md\n  - Projects:\n      - P: projects/p.md\n"
    text += "  - Notation: notation.md\nplugins:\n  - search\n"
    text, created = scaffold.add_to_nav(text, "Training", "T", "training/t.md")
    assert created
    text, _ = scaffold.add_to_nav(text, "See also", "S", "see-also/s.md")
    text, _ = scaffold.add_to_nav(text, "Foundations", "F", "foundations/f.md")
    text, _ = scaffold.add_to_nav(text, "Training", "U", "training/u.md")
    nav = yaml_load(text)["nav"]
    assert section_titles(nav) == [
        "Home",
        "Foundations",
        "Training",
        "Projects",
        "See also",
        "Notation",
    ]
    assert nav[2] == {"Training": [{"T": "training/t.md"}, {"U": "training/u.md"}]}
    assert yaml_load(text)["plugins"] == ["search"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Architectures/attention", "not section/topic in lowercase words joined by hyphens"),
        ("architectures/self_attention", "not section/topic in lowercase words joined by hyphens"),
        ("architectures/attention/heads", "not section/topic in lowercase words joined by hyphens"),
        ("attention", "not section/topic in lowercase words joined by hyphens"),
        ("architectures/-attention", "not section/topic in lowercase words joined by hyphens"),
        ("", "not section/topic in lowercase words joined by hyphens"),
        (
            "chapters/attention",
            "'chapters' is not a section of the roadmap; use one of: foundations",
        ),
        ("foundations/backpropagation", "docs/foundations/backpropagation.md exists already"),
    ],
)
def test_refuses_a_bad_name_or_an_existing_page_and_writes_nothing(name, message, tmp_path):
    root = copy_of_the_site(tmp_path)
    before = (root / "mkdocs.yml").read_text(encoding="utf-8")
    pages_before = sorted((root / "docs").rglob("*.md"))
    with pytest.raises(scaffold.ScaffoldError, match=re.escape(message)):
        scaffold.scaffold(name, root=root)
    assert (root / "mkdocs.yml").read_text(encoding="utf-8") == before
    assert sorted((root / "docs").rglob("*.md")) == pages_before


def test_refuses_a_page_scaffolded_twice(scaffolded):
    root, _, _ = scaffolded
    with pytest.raises(scaffold.ScaffoldError, match="scaffolded-by-the-test.md exists already"):
        scaffold.scaffold(NAME, root=root)


def test_the_command_says_what_it_did_and_what_to_run_next(scaffolded, capsys):
    _, done, _ = scaffolded
    text = scaffold.report(done)
    assert f"Wrote {PAGE}" in text
    assert "under Architectures" in text
    for command in (
        f".venv/bin/python -m pytest {PAGE}",
        "make serve",
        "make test",
    ):
        assert command in text
    assert scaffold.main(["Not/A-Name"]) == 1
    assert "cannot make the page: page name 'Not/A-Name'" in capsys.readouterr().err
    assert scaffold.main([]) == 2
    assert "usage: python -m hooks.scaffold section/topic" in capsys.readouterr().err


def test_the_page_follows_the_anatomy(scaffolded):
    root, _, _ = scaffolded
    lines = (root / PAGE).read_text(encoding="utf-8").split("\n")
    headings = [line for line in lines if line.startswith("## ") or line.startswith("### Check")]
    found = [next((h for h in headings if h.startswith(part)), None) for part in ANATOMY]
    missing = [part for part, heading in zip(ANATOMY, found, strict=True) if heading is None]
    assert not missing, f"missing sections: {missing}"
    assert found == sorted(found, key=headings.index), f"sections out of order: {headings}"
    assert "[notation](../notation.md)" in "\n".join(lines[:10]), "prerequisites link notation"


def test_the_page_runs_and_meets_the_rules_of_a_topic_page(scaffolded):
    root, _, _ = scaffolded
    page = root / PAGE
    # The very test every topic page passes, on this page.
    test_exercises.test_each_topic_page_has_two_to_four_exercises_with_a_solution_each(page)
    blocks = pages.page_blocks(page)
    assert any(block.is_listing for block in blocks), "no listing of dlref"
    assert any("assert " in block.code and block.runs_in_page for block in blocks)
    outputs = {output.line: output for output in pages.execute_blocks(blocks)}
    figures = [figure for output in outputs.values() for figure in output.figures]
    assert figures, "no figure drawn"
    assert all(figure["inches"][0] <= pages.MAX_FIGURE_INCHES for figure in figures)
    for block in solutions(page):
        called = {name for name in CHECKS if re.search(rf"\b{name}\(", block.code)}
        assert called, f"{block.location}: the solution calls no check of dlref.exercises"
        assert outputs[block.line].stdout.count("Correct:") >= len(called), block.location
