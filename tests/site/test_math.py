"""hooks/math.py renders each formula with KaTeX at build time, where auto-render found it."""

import markdown
import pytest
from mkdocs.exceptions import PluginError

from hooks.math import KatexRenderer, render_math


@pytest.fixture(scope="module")
def renderer():
    katex = KatexRenderer()
    yield katex
    katex.close()


def page(body: str) -> str:
    return f"<html><head><title>$x$ \\(y\\)</title></head><body>{body}</body></html>"


def test_inline_and_displayed_math_render_inside_their_arithmatex_element(renderer):
    prose = markdown.markdown(
        "Inline \\(a < b\\), `\\(code\\)`.\n\n$$\n\\sum_i x_i\n$$",
        extensions=["pymdownx.arithmatex"],
        extension_configs={"pymdownx.arithmatex": {"generic": True}},
    )
    html = render_math(page(prose), "a.md", renderer)

    inline = renderer.render("a < b", display=False, scope="a.md")
    assert f'<span class="arithmatex"><span>{inline}</span></span>' in html
    assert '<annotation encoding="application/x-tex">a &lt; b</annotation>' in html
    assert '<div class="arithmatex"><span><span class="katex-display" tabindex="0">' in html
    assert html.count('class="katex"') == 2
    assert "<code>\\(code\\)</code>" in html  # code is left alone, and so is the head
    assert "<title>$x$ \\(y\\)</title>" in html


def test_a_notebook_renders_its_markdown_cells_math_but_not_its_code(renderer):
    notebook = (
        '<div class="jupyter-wrapper"><script>var cost = "$1 $2";</script>'
        '<div class="jp-Cell jp-MarkdownCell"><p>Rows $i$ of $M$ cost \\$5 and \\$6:</p>'
        "<p>$$\nP_c = \\frac{M_{cc}}{\\sum_i M_{ic}}\n$$</p></div>"
        '<div class="jp-Cell jp-CodeCell"><pre>print("$x$")</pre>'
        '<div class="jp-OutputArea"><p>$y$</p></div></div></div>'
    )
    html = render_math(page(notebook), "n.ipynb", renderer)

    assert html.count('class="katex"') == 3  # i, M and the displayed P_c
    assert html.count('class="katex-display" tabindex="0"') == 1
    assert "cost \\$5 and \\$6:" in html  # escaped dollars are text
    for untouched in ['var cost = "$1 $2";', 'print("$x$")', "<p>$y$</p>"]:
        assert untouched in html


def test_a_formula_katex_cannot_parse_fails_the_build_naming_page_and_formula(renderer):
    bad = '<p>See <span class="arithmatex">\\(\\frac{a}\\)</span>.</p>'
    with pytest.raises(PluginError, match=r"bad\.md: .*inline formula '\\\\frac\{a\}'.*KaTeX"):
        render_math(page(bad), "bad.md", renderer)


def test_one_node_process_renders_every_formula_until_closed(renderer):
    assert KatexRenderer().pid is None  # started only when there is math
    renderer.render("x", display=False, scope="a.md")
    first = renderer.pid
    for tex in ["y", "\\alpha", "\\frac{1}{2}"]:
        renderer.render(tex, display=True, scope="b.md")
    assert renderer.pid == first
    renderer.close()
    assert renderer.pid is None
    renderer.render("z", display=False, scope="c.md")  # the next build starts a new one
    assert renderer.pid not in (None, first)
