r"""MkDocs hook: render the site's math with KaTeX at build time, so pages ship no math JavaScript.

pymdownx.arithmatex (generic) marks a Markdown page's math up as
``<span class="arithmatex">\(...\)</span>`` and ``<div class="arithmatex">\[...\]</div>``; a
notebook page (mkdocs-jupyter) keeps its Markdown cells' math as ``$...$`` and ``$$...$$``. Once a
page's HTML is final (``on_post_page``), each formula is rendered by KaTeX in Node
(``hooks/katex-render.mjs``) and put where its TeX was, as KaTeX's auto-render did in the browser:
the same delimiters, options and places (``\(`` and ``\[`` anywhere in the body; ``$`` and ``$$``
also in a notebook, except in its code cells and their outputs; never in code, scripts or styles),
each formula in its own ``<span>``, the arithmatex element and its class kept. One difference: an
escaped ``\$`` never opens a formula. A displayed formula can be focused with the keyboard, since
a wide one scrolls sideways on a phone.

A formula KaTeX cannot parse fails the build, naming the page and the formula.

One Node process serves the whole build: started with the first formula, closed after the build.
Search is unaffected: the search plugin reads each page before this hook runs, and
``hooks/search_text.py`` turns the TeX it finds into plain text.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from mkdocs.exceptions import PluginError

SCRIPT = Path(__file__).with_name("katex-render.mjs")
log = logging.getLogger("mkdocs.hooks.math")


@dataclass(frozen=True)
class Delimiter:
    """How a formula is marked in text: ``\\(`` and ``\\)``, say, and whether it is displayed."""

    left: str
    right: str
    display: bool


@dataclass(frozen=True)
class Formula:
    """A formula found in text: its TeX, and whether it is displayed (in its own block)."""

    tex: str
    display: bool


# What auto-render was given: \( \[ on the whole page, and $$ $ as well inside a notebook.
BODY = (Delimiter("\\(", "\\)", False), Delimiter("\\[", "\\]", True))
NOTEBOOK = (Delimiter("$$", "$$", True), Delimiter("$", "$", False), *BODY)
IGNORED_TAGS = {"script", "noscript", "style", "textarea", "pre", "code", "option"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VOID_TAGS |= {"track", "wbr", "param"}
_ATTRIBUTES = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_TOKEN = re.compile(  # everything in an HTML page that is not text
    rf"<!--.*?-->|<(script|style|textarea)\b{_ATTRIBUTES}>.*?</\1\s*>"
    rf"|<(?P<closing>/)?(?P<name>[A-Za-z][^\s/>]*){_ATTRIBUTES}>|<![^>]*>",
    re.S | re.I,
)
_CLASS = re.compile(r"""\sclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_DISPLAY = '<span class="katex-display">'


class KatexError(Exception):
    """KaTeX could not render a formula, or its Node process could not run."""


class KatexRenderer:
    """One Node process running ``hooks/katex-render.mjs``, started when first asked to render."""

    def __init__(self, script: Path = SCRIPT):
        self.script = script
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        """The Node process's id, or None while none is running."""
        return self._process.pid if self._process else None

    def render(self, tex: str, display: bool, scope: str) -> str:
        """KaTeX's HTML for ``tex``; formulas of one ``scope`` share the macros ``\\gdef`` makes.

        Raises:
            KatexError: With KaTeX's message, if it cannot parse ``tex``.
        """
        process = self._start()
        request = json.dumps({"tex": tex, "display": display, "scope": scope})
        try:
            process.stdin.write(request + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            pass  # the answer below is empty, and says why
        line = process.stdout.readline()
        if not line:
            stderr = process.stderr.read() if process.poll() is not None else ""
            self.close()
            raise KatexError(f"the KaTeX renderer (node {self.script.name}) stopped: {stderr}")
        answer = json.loads(line)
        for warning in answer.get("warnings", []):
            log.debug("KaTeX, %r: %s", tex, warning)
        if "error" in answer:
            raise KatexError(answer["error"])
        return answer["html"]

    def _start(self) -> subprocess.Popen[str]:
        if self._process is None:
            node = shutil.which("node")
            if node is None:
                raise KatexError("Node.js (`node`) is not on PATH: the build renders math with it")
            self._process = subprocess.Popen(
                [node, str(self.script)],
                cwd=self.script.parent,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        return self._process

    def close(self) -> None:
        """End the Node process (the next render starts a new one)."""
        process, self._process = self._process, None
        if process is not None:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()


def _end_of_math(text: str, right: str, start: int) -> int:
    """Where ``right`` closes the formula begun before ``start`` (outside braces), or -1."""
    index, braces = start, 0
    while index < len(text):
        if braces <= 0 and text.startswith(right, index):
            return index
        if text[index] == "\\":
            index += 1
        elif text[index] == "{":
            braces += 1
        elif text[index] == "}":
            braces -= 1
        index += 1
    return -1


def split_math(text: str, delimiters: tuple[Delimiter, ...]) -> list[str | Formula]:
    r"""``text`` cut into plain strings and formulas, as KaTeX's auto-render cuts it.

    ``$`` delimiters preceded by a backslash (``\$``) are text.
    """
    left = re.compile(
        "|".join(
            (r"(?<!\\)" if d.left.startswith("$") else "") + re.escape(d.left) for d in delimiters
        )
    )
    pieces: list[str | Formula] = []
    at = 0
    while opening := left.search(text, at):
        delimiter = next(d for d in delimiters if text.startswith(d.left, opening.start()))
        end = _end_of_math(text, delimiter.right, opening.start() + len(delimiter.left))
        if end == -1:
            break
        if opening.start() > at:
            pieces.append(text[at : opening.start()])
        pieces.append(Formula(text[opening.start() + len(delimiter.left) : end], delimiter.display))
        at = end + len(delimiter.right)
    if at < len(text):
        pieces.append(text[at:])
    return pieces


class OpenElements:
    """The elements open at a point of an HTML page, followed tag by tag.

    Each closing tag closes the latest open element of its name, so an element whose closing
    tag HTML leaves out (``<p>``, ``<li>``) stays open: harmless, as only the places below count.
    """

    def __init__(self):
        self._classes_by_tag: dict[str, list[list[str]]] = defaultdict(list)
        self._classes: Counter[str] = Counter()

    def follow(self, tag: re.Match[str]) -> None:
        """Open or close the element of a ``_TOKEN`` match that is a tag (ignore the others)."""
        name = (tag["name"] or "").lower()
        if not name or name in VOID_TAGS or tag[0].endswith("/>"):
            return  # a comment, doctype, void element or a script/style/textarea with its text
        if tag["closing"]:
            if self._classes_by_tag[name]:
                self._classes.subtract(self._classes_by_tag[name].pop())
            return
        found = _CLASS.search(tag[0]) if "class" in tag[0] else None
        classes = next(group for group in found.groups() if group is not None) if found else ""
        self._classes_by_tag[name].append(classes.split())
        self._classes.update(self._classes_by_tag[name][-1])

    def delimiters(self) -> tuple[Delimiter, ...]:
        """Which delimiters mark math in text here (none outside the body or inside code)."""
        if not self._classes_by_tag["body"] or any(self._classes_by_tag[t] for t in IGNORED_TAGS):
            return ()
        if self._classes["jupyter-wrapper"] > 0 and not (
            self._classes["jp-CodeCell"] > 0 or self._classes["arithmatex"] > 0
        ):
            return NOTEBOOK
        return BODY


def render_math(html_text: str, page: str, renderer: KatexRenderer) -> str:
    """``html_text`` (a whole page) with each formula replaced by KaTeX's HTML.

    Raises:
        PluginError: Naming ``page`` and the formula, if KaTeX cannot render one.
    """

    def rendered(formula: Formula) -> str:
        try:
            markup = renderer.render(formula.tex, formula.display, scope=page)
        except KatexError as error:
            kind = "displayed" if formula.display else "inline"
            raise PluginError(
                f"{page}: KaTeX cannot render the {kind} formula {formula.tex!r}: {error}"
            ) from None
        if formula.display:  # a wide equation scrolls: the keyboard can reach it
            markup = markup.replace(_DISPLAY, _DISPLAY[:-1] + ' tabindex="0">', 1)
        return f"<span>{markup}</span>"

    def text_with_math(raw: str) -> str:
        delimiters = elements.delimiters() if "\\" in raw or "$" in raw else ()
        pieces = split_math(html.unescape(raw), delimiters) if delimiters else []
        if all(isinstance(piece, str) for piece in pieces):
            return raw
        return "".join(
            rendered(piece) if isinstance(piece, Formula) else html.escape(piece, quote=False)
            for piece in pieces
        )

    out: list[str] = []
    elements = OpenElements()
    at = 0
    for token in _TOKEN.finditer(html_text):
        out += [text_with_math(html_text[at : token.start()]), token[0]]
        elements.follow(token)
        at = token.end()
    out.append(text_with_math(html_text[at:]))
    return "".join(out)


_RENDERER = KatexRenderer()


def on_post_page(output, page, config):
    """The page's final HTML, its math rendered."""
    return render_math(output, page.file.src_uri, _RENDERER)


def on_post_build(config):
    """The build is over: end its Node process (``mkdocs serve`` starts one per rebuild)."""
    _RENDERER.close()


def on_build_error(error):
    _RENDERER.close()


def on_shutdown():
    _RENDERER.close()
