"""Start a new topic page from the skeleton: ``python -m hooks.scaffold section/topic``.

``make page NAME=architectures/attention`` runs it. It

- refuses a name that is not ``section/topic`` in lowercase words joined by hyphens, a section
  that is not one of the roadmap's, and a page that exists already (or is in ``nav`` already);
- writes ``docs/<section>/<topic>.md`` from ``templates/page.md``, its title made from the topic
  (``attention-and-transformers`` -> "Attention and transformers");
- adds the page at the end of its section in the ``nav`` of ``mkdocs.yml``, creating the section
  where the roadmap puts it when it has no page yet. It edits the text of the file, line by line,
  so the comments in it stay;
- prints what it did and the commands to run next.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path("templates") / "page.md"
TITLE_PLACEHOLDER = "{{ title }}"

# The roadmap's sections, in the order the site shows them: folder under docs/ -> title in nav.
SECTIONS = {
    "foundations": "Foundations",
    "architectures": "Architectures",
    "training": "Training",
    "projects": "Projects",
    "see-also": "See also",
}

_WORDS = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_NAME = re.compile(rf"(?P<section>{_WORDS})/(?P<topic>{_WORDS})")
_ITEM = re.compile(r"^(?P<indent> *)- (?P<title>[^:#]+?):(?P<value>.*)$")
_TOP_LEVEL_KEY = re.compile(r"^[A-Za-z_][\w-]*:")


class ScaffoldError(ValueError):
    """The page cannot be made as asked; the message says why and what to do instead."""


@dataclass(frozen=True)
class Scaffolded:
    """What ``scaffold`` did."""

    page: Path  # the new page, relative to the root
    title: str
    section: str  # its section's title in nav
    new_section: bool  # whether the section was added to nav with this page


def title_of(topic: str) -> str:
    """A topic's page title: ``batch-normalization`` -> "Batch normalization"."""
    words = topic.replace("-", " ")
    return words[0].upper() + words[1:]


def _parse_name(name: str) -> tuple[str, str]:
    match = _NAME.fullmatch(name or "")
    if match is None:
        raise ScaffoldError(
            f"page name {name!r} is not section/topic in lowercase words joined by hyphens, "
            "for example architectures/attention-and-transformers"
        )
    section, topic = match["section"], match["topic"]
    if section not in SECTIONS:
        raise ScaffoldError(
            f"{section!r} is not a section of the roadmap; use one of: {', '.join(SECTIONS)}"
        )
    return section, topic


class _Nav:
    """The ``nav`` block of ``mkdocs.yml``'s lines: its entries, found by their text."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        top = next((i for i, line in enumerate(lines) if line.rstrip() == "nav:"), None)
        if top is None:
            raise ScaffoldError("mkdocs.yml has no `nav:` block to add the page to")
        self.start = top + 1
        self.end = next(
            (i for i in range(self.start, len(lines)) if _TOP_LEVEL_KEY.match(lines[i])),
            len(lines),
        )
        indents = [
            len(item["indent"]) for line in self.body() if (item := _ITEM.match(line)) is not None
        ]
        if not indents:
            raise ScaffoldError("mkdocs.yml's nav has no entries")
        self.indent = min(indents)  # of the top-level entries
        deeper = [indent for indent in indents if indent > self.indent]
        self.child_indent = min(deeper) if deeper else self.indent + 4

    def body(self) -> list[str]:
        return self.lines[self.start : self.end]

    def _find(self, pattern: str) -> int | None:
        regex = re.compile(pattern)
        return next((i for i in range(self.start, self.end) if regex.match(self.lines[i])), None)

    def entry(self, name: str) -> int | None:
        """The line of the top-level entry ``- name:``."""
        return self._find(rf"^ {{{self.indent}}}- {re.escape(name)}:\s*$")

    def placeholder(self, name: str) -> int | None:
        """The line of a commented-out top-level entry ``# - name: ...``."""
        return self._find(rf"^ {{{self.indent}}}#\s*- {re.escape(name)}:")

    def after_children(self, line: int) -> int:
        """The line after the last child of the entry at ``line``."""
        last = line
        for i in range(line + 1, self.end):
            text = self.lines[i]
            if not text.strip():
                continue
            if len(text) - len(text.lstrip()) <= self.indent:
                break
            last = i
        return last + 1

    def where_section_goes(self, section: str) -> int:
        """The line a section that is not in nav yet is inserted at, in the roadmap's order."""
        order = list(SECTIONS.values())
        position = order.index(section)
        line = self.placeholder(section)
        if line is not None:  # right under its placeholder comment
            return line + 1
        for name in order[position + 1 :]:  # before the next roadmap section, or its placeholder
            for line in (self.entry(name), self.placeholder(name)):
                if line is not None:
                    return line
        for name in reversed(order[:position]):  # after the previous one
            line = self.entry(name)
            if line is not None:
                return self.after_children(line)
            line = self.placeholder(name)
            if line is not None:
                return line + 1
        for name in ("Notation", "API reference"):  # no roadmap section at all: before these
            line = self.entry(name)
            if line is not None:
                return line
        return self.end


def add_to_nav(text: str, section: str, title: str, path: str) -> tuple[str, bool]:
    """``mkdocs.yml``'s text with ``- title: path`` at the end of ``section`` in ``nav``.

    A section that is not in ``nav`` yet is added where the roadmap puts it: under its
    commented-out placeholder (``# - Architectures: ...``) if there is one, otherwise before the
    next roadmap section in ``nav``, or after the previous one. Comments stay where they are.

    Args:
        text: The text of ``mkdocs.yml``.
        section: The section's title in nav, one of ``SECTIONS``' values.
        title: The page's title in nav.
        path: The page's path under ``docs/``.

    Returns:
        The new text, and whether the section was created.

    Raises:
        ScaffoldError: If ``path`` is in ``nav`` already, or ``nav`` cannot be found.
    """
    lines = text.split("\n")
    nav = _Nav(lines)
    if any(re.search(rf":\s*{re.escape(path)}\s*$", line) for line in nav.body()):
        raise ScaffoldError(f"{path} is in the nav of mkdocs.yml already")
    child = " " * nav.child_indent + f"- {title}: {path}"
    existing = nav.entry(section)
    if existing is not None:
        at = nav.after_children(existing)
        lines[at:at] = [child]
        return "\n".join(lines), False
    at = nav.where_section_goes(section)
    lines[at:at] = [" " * nav.indent + f"- {section}:", child]
    return "\n".join(lines), True


def _check_nav(text: str, section: str, title: str, path: str) -> None:
    """Make sure the edited mkdocs.yml parses and lists the page under its section."""
    from mkdocs.utils.yaml import yaml_load

    try:
        nav = yaml_load(text).get("nav", [])
    except Exception as exc:  # noqa: BLE001 - any parse error means the edit went wrong
        raise ScaffoldError(
            f"editing nav would break mkdocs.yml ({exc}); add the page by hand"
        ) from exc
    pages = next(
        (entry[section] for entry in nav if isinstance(entry, dict) and section in entry), []
    )
    if {title: path} not in pages:
        raise ScaffoldError(f"could not add {path} under {section} in nav; add it by hand")


def scaffold(name: str, root: Path = ROOT) -> Scaffolded:
    """Write ``docs/<section>/<topic>.md`` from the template and add it to ``nav``.

    Args:
        name: ``section/topic``, for example ``architectures/attention``.
        root: The repository root (a copy of it, in the tests).

    Raises:
        ScaffoldError: For a bad name, an unknown section or a page that exists; nothing is
            written then.
    """
    section, topic = _parse_name(name)
    relative = Path("docs") / section / f"{topic}.md"
    page = root / relative
    if page.exists():
        raise ScaffoldError(f"{relative} exists already; edit it, or choose another name")
    title = title_of(topic)
    template = (root / TEMPLATE).read_text(encoding="utf-8")
    if TITLE_PLACEHOLDER not in template:
        raise ScaffoldError(f"{TEMPLATE} has no {TITLE_PLACEHOLDER} placeholder for the title")
    config = root / "mkdocs.yml"
    path = f"{section}/{topic}.md"
    nav_text, new_section = add_to_nav(
        config.read_text(encoding="utf-8"), SECTIONS[section], title, path
    )
    _check_nav(nav_text, SECTIONS[section], title, path)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(template.replace(TITLE_PLACEHOLDER, title), encoding="utf-8")
    config.write_text(nav_text, encoding="utf-8")
    return Scaffolded(relative, title, SECTIONS[section], new_section)


def report(done: Scaffolded) -> str:
    """What was done, and what to run next."""
    where = "as a new section" if done.new_section else "at the end of the section"
    return "\n".join(
        [
            f'Wrote {done.page} ("{done.title}") from {TEMPLATE}.',
            f"Added it to nav in mkdocs.yml under {done.section} ({where}).",
            "",
            "Next: replace every 'Replace this ...' paragraph (CONTRIBUTING.md has the anatomy",
            "of a page), link the page from docs/learning-path.md, and run:",
            "",
            f"  its code:         .venv/bin/python -m pytest {done.page}",
            "  a preview:        make serve   (http://127.0.0.1:8000/dlref/, reloads on edits)",
            "  the whole suite:  make test",
        ]
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(
            "usage: python -m hooks.scaffold section/topic  (or: make page NAME=section/topic)\n"
            f"sections: {', '.join(SECTIONS)}",
            file=sys.stderr,
        )
        return 2
    try:
        done = scaffold(argv[0])
    except ScaffoldError as exc:
        print(f"cannot make the page: {exc}", file=sys.stderr)
        return 1
    print(report(done))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
