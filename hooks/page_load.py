"""MkDocs hook: what a page makes the browser download and do before the reader sees it.

Measured by ``python -m tests.site.audit`` (``make audit``: Lighthouse and axe-core on the built
site, served as a static host serves it). Once a page's HTML is final (``on_post_page``, after
``hooks/math.py`` has rendered its math):

- GLightbox's script moves from ``<head>`` (where mkdocs-glightbox puts it, and where it holds back
  the first paint) to the end of the body, just before the script that starts it: the lightbox
  only acts on a click.
- A page whose opening (before its first section heading) holds a formula preloads KaTeX's upright
  and italic fonts: the formula is laid out with them from the first paint, instead of once with
  a fallback font and again, shifting the text around it, when the fonts arrive.
- Material's start-up restyles the whole page twice instead of five or six times (measured in
  Chromium's invalidation tracking; ``tests/site/test_page_load.py`` watches for the old causes):
  - The bundle swaps the root's class ``no-js`` for ``js`` and the focus-visible polyfill adds
    ``js-focus-visible``; any change to the root's class attribute restyles every element (the
    stylesheet has rules such as ``table:not([class]) td``). Instant navigation makes every
    relative link absolute, and a stylesheet link changed restyles the whole page.
    ``hooks/page_head.js``, at the end of the head, makes all three changes before the body is
    parsed, when they cost nothing, and leaves the bundle nothing to change.
  - After the build, the palette stylesheet loses its rule for ``[data-md-color-switching]`` (no
    transitions while the palette changes). Material sets that attribute on the body at every
    page load and removes it a frame later, and a rule on the body's descendants makes each of
    the two restyle the whole page. Without it, switching to dark mode fades some colours over a
    quarter of a second.
  - The two restyles left come from the palette's ``<meta name="color-scheme">``, which the
    bundle adds and then fills in: Chromium restyles the whole document at every change to such
    a tag, even to the value it had.
- Every code block can take the keyboard's focus from the start (``tabindex="0"``), so a reader
  without a mouse can scroll it sideways. Material gives a block that overflows its ``tabindex``
  when it sets the block up, which ``content.lazy`` (``mkdocs.yml``) puts off until the block
  scrolls into view; Material then takes it away again from a block that fits, or on a touch
  screen.
- Code loses the Pygments ``<span>`` around names and whitespace (``n``, ``w``): Material draws a
  name in the colour of plain code and whitespace in none, so the page looks the same with a
  fifth fewer elements (6,843 to 5,525 on the heaviest topic page), and each time the browser
  restyles the page it has less to do.
- A notebook page keeps, of the stylesheets mkdocs-jupyter inlines in it (the whole of
  JupyterLab's, 0.58 MB, in every notebook page), only the rules whose classes and ids occur on
  the page or are added by Material's script (``md-``), and the custom properties they use.
"""

from __future__ import annotations

import re
from pathlib import Path

import tinycss2

GLIGHTBOX_SCRIPT = re.compile(r'<script src="[^"]*assets/javascripts/glightbox\.min\.js"></script>')
GLIGHTBOX_INIT = '<script id="init-glightbox">'
KATEX_CSS = re.compile(r'<link rel="stylesheet" href="([^"]*)katex\.min\.css">')
KATEX_PRELOADED = ("KaTeX_Main-Regular.woff2", "KaTeX_Math-Italic.woff2")
NOTEBOOK = '<div class="jupyter-wrapper">'
RUNTIME_CLASS_PREFIX = "md-"  # Material's script adds classes of its own to the page

CODE_BLOCK = re.compile(r"(<pre[^>]*>(?:<span></span>)?)<code>")  # Material's block: pre > code
PLAIN_TOKEN = re.compile(r'<span class="[nw]">([^<]*)</span>')  # a name or whitespace in code
HEAD_SCRIPT = (Path(__file__).parent / "page_head.js").read_text(encoding="utf-8")
COLOR_SWITCHING_RULE = re.compile(r"\[data-md-color-switching\][^{}]*\{[^{}]*\}")

_STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
_CLASS_ATTRIBUTE = re.compile(r'\sclass="([^"]*)"')
_ID_ATTRIBUTE = re.compile(r'\sid="([^"]*)"')
_CLASS_OR_ID = re.compile(r"([.#])(-?[_a-zA-Z][\w-]*)")
_NOT = re.compile(r":not\((?:[^()]|\([^()]*\))*\)")
_ATTRIBUTE_SELECTOR = re.compile(r"\[[^\]]*\]")
_VAR = re.compile(r"var\(\s*(--[\w-]+)")


def move_glightbox_script(html: str) -> str:
    """GLightbox's script moved from the head to just before the script that starts it."""
    script = GLIGHTBOX_SCRIPT.search(html)
    start = html.find(GLIGHTBOX_INIT)
    if script is None or start < script.end():
        return html
    tag = script[0]
    html = html[: script.start()] + html[script.end() :]
    return html.replace(GLIGHTBOX_INIT, tag + GLIGHTBOX_INIT, 1)


def preload_katex_fonts(html: str) -> str:
    """Preload KaTeX's main fonts where a formula is in the page's opening (see the docstring)."""
    article = html.find("<article")
    heading = html.find("<h2", article)
    opening = html[article : heading if heading >= 0 else len(html)]
    stylesheet = KATEX_CSS.search(html)
    if article < 0 or 'class="katex"' not in opening or stylesheet is None:
        return html
    fonts = "".join(
        f'<link rel="preload" href="{stylesheet[1]}fonts/{font}" as="font" type="font/woff2"'
        " crossorigin>"
        for font in KATEX_PRELOADED
    )
    return html[: stylesheet.start()] + fonts + html[stylesheet.start() :]


def add_head_script(html: str) -> str:
    """The page with ``hooks/page_head.js`` at the end of its head."""
    return html.replace("</head>", f"<script>{HEAD_SCRIPT}</script></head>", 1)


def focusable_code(html: str) -> str:
    """The page with each code block focusable (see the module's docstring)."""
    return CODE_BLOCK.sub(r'\1<code tabindex="0">', html)


def unwrap_plain_tokens(html: str) -> str:
    """The page with each name and whitespace token of its code as bare text (see the module's
    docstring)."""
    return PLAIN_TOKEN.sub(r"\1", html)


def drop_color_switching_rule(css: str) -> str:
    """Material's palette stylesheet without its ``[data-md-color-switching]`` rule (see the
    module's docstring)."""
    return COLOR_SWITCHING_RULE.sub("", css)


def _selectors(prelude: str) -> list[str]:
    """A selector list split at its top-level commas."""
    selectors, depth, current = [], 0, []
    for char in prelude:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            selectors.append("".join(current))
            current = []
        else:
            current.append(char)
    selectors.append("".join(current))
    return [selector.strip() for selector in selectors if selector.strip()]


def _may_match(selector: str, classes: set[str], ids: set[str]) -> bool:
    """Whether every class and id the selector requires is on the page (not counting those in
    ``:not()`` or attribute selectors); a selector with escapes is kept."""
    if "\\" in selector:
        return True
    required = _ATTRIBUTE_SELECTOR.sub("", _NOT.sub("", selector))
    for kind, name in _CLASS_OR_ID.findall(required):
        if kind == "." and name not in classes and not name.startswith(RUNTIME_CLASS_PREFIX):
            return False
        if kind == "#" and name not in ids:
            return False
    return True


def _pruned_rules(rules: list, classes: set[str], ids: set[str]) -> list[tuple[str, object]]:
    """``(prelude, declarations)`` for the style rules that may apply, ``(prelude, [rules])`` for
    the conditional groups (``@media``, ``@supports``) that still hold one, ``("", rule)`` for
    other at-rules (``@charset``, ``@keyframes``, ``@font-face``), kept as they are."""
    kept: list[tuple[str, object]] = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = _selectors(tinycss2.serialize(rule.prelude))
            selectors = [s for s in selectors if _may_match(s, classes, ids)]
            if selectors:
                declarations = tinycss2.parse_blocks_contents(
                    rule.content, skip_comments=True, skip_whitespace=True
                )
                kept.append((",".join(selectors), declarations))
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports"):
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            group = _pruned_rules(inner, classes, ids)
            if group:
                kept.append((f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}", group))
        elif rule.type == "at-rule":
            kept.append(("", rule))
    return kept


def _declarations(kept: list[tuple[str, object]]):
    for prelude, body in kept:
        if prelude.startswith("@"):
            yield from _declarations(body)
        elif prelude:
            yield from (d for d in body if d.type == "declaration")


def _used_properties(kept: list[tuple[str, object]], elsewhere: str) -> set[str]:
    """The custom properties that the kept rules (or ``elsewhere``) use, directly or through
    other custom properties."""
    definitions: dict[str, list[str]] = {}
    used = set(_VAR.findall(elsewhere))
    for declaration in _declarations(kept):
        value = tinycss2.serialize(declaration.value)
        if declaration.name.startswith("--"):
            definitions.setdefault(declaration.name, []).append(value)
        else:
            used |= set(_VAR.findall(value))
    pending = list(used)
    while pending:
        for value in definitions.get(pending.pop(), []):
            new = set(_VAR.findall(value)) - used
            used |= new
            pending += new
    return used


def _serialized(kept: list[tuple[str, object]], used: set[str]) -> str:
    parts = []
    for prelude, body in kept:
        if not prelude:
            parts.append(tinycss2.serialize([body]))
        elif prelude.startswith("@"):
            inner = _serialized(body, used)
            if inner:
                parts.append(f"{prelude.strip()}{{{inner}}}")
        else:
            declarations = [
                f"{d.name}:{tinycss2.serialize(d.value).strip()}"
                + ("!important" if d.important else "")
                for d in body
                if d.type == "declaration" and (not d.name.startswith("--") or d.name in used)
            ]
            if declarations:
                parts.append(f"{prelude}{{{';'.join(declarations)}}}")
    return "".join(parts)


def prune_stylesheets(html: str, elsewhere: str = "") -> str:
    """The page with each ``<style>`` of its article cut to the rules that may apply to it.

    Args:
        html: A page.
        elsewhere: Other CSS of the site, whose uses of custom properties count as uses.
    """
    article = html.find("<article")
    if article < 0:
        return html
    classes = {name for value in _CLASS_ATTRIBUTE.findall(html) for name in value.split()}
    ids = set(_ID_ATTRIBUTE.findall(html))
    head, body = html[:article], html[article:]
    styles = list(_STYLE.finditer(body))
    kept = [
        _pruned_rules(
            tinycss2.parse_stylesheet(style[2], skip_comments=True, skip_whitespace=True),
            classes,
            ids,
        )
        for style in styles
    ]
    outside = _STYLE.sub("", html) + elsewhere  # inline styles and the site's own stylesheets
    used = _used_properties([rule for sheet in kept for rule in sheet], outside)
    for style, rules in zip(reversed(styles), reversed(kept), strict=True):
        css = _serialized(rules, used)
        replacement = f"{style[1]}{css}{style[3]}" if css else ""
        body = body[: style.start()] + replacement + body[style.end() :]
    return head + body


_STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="(?![a-z]+:)([^"]+\.css)"')


def _linked_css(html: str, page_file: Path) -> str:
    """The text of the site's stylesheets that a page links (copied to the site before pages)."""
    texts = []
    for href in _STYLESHEET_LINK.findall(html):
        path = page_file.parent / href
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8"))
    return "\n".join(texts)


def on_post_page(output, page, config):
    output = add_head_script(output)
    output = move_glightbox_script(output)
    output = unwrap_plain_tokens(output)
    output = focusable_code(output)
    output = preload_katex_fonts(output)
    if NOTEBOOK in output:
        page_file = Path(config["site_dir"]) / page.file.dest_uri
        output = prune_stylesheets(output, _linked_css(output, page_file))
    return output


def on_post_build(config):
    for sheet in (Path(config["site_dir"]) / "assets" / "stylesheets").glob("palette.*.css"):
        css = sheet.read_text(encoding="utf-8")
        sheet.write_text(drop_color_switching_rule(css), encoding="utf-8")
