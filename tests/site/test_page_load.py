"""hooks/page_load.py: what a page downloads and does before its first paint."""

from hooks.page_load import move_glightbox_script, preload_katex_fonts, prune_stylesheets

HEAD = (
    '<head><link rel="stylesheet" href="../assets/katex/katex.min.css">'
    '<script src="../assets/javascripts/glightbox.min.js"></script></head>'
)


def test_the_lightbox_script_moves_from_the_head_to_before_the_script_that_starts_it():
    page = f'<html>{HEAD}<body><p>x</p><script id="init-glightbox">GLightbox()</script></body>'
    moved = move_glightbox_script(page)
    assert "glightbox.min.js" not in moved[: moved.find("</head>")]
    assert '<script src="../assets/javascripts/glightbox.min.js"></script><script id="init' in moved
    assert moved.count("glightbox.min.js") == 1
    no_init = f"<html>{HEAD}<body></body>"
    assert move_glightbox_script(no_init) == no_init  # nothing would start it: left as it is


def test_katex_fonts_are_preloaded_only_where_the_page_opens_with_math():
    formula = '<span class="katex">x</span>'
    opening = f"<html>{HEAD}<body><article><h1>T</h1><p>{formula}</p><h2>A</h2></article></body>"
    preloaded = preload_katex_fonts(opening)
    assert preloaded.count('rel="preload"') == 2
    assert (
        '<link rel="preload" href="../assets/katex/fonts/KaTeX_Main-Regular.woff2" as="font" '
        'type="font/woff2" crossorigin><link rel="preload" href="../assets/katex/fonts/'
        'KaTeX_Math-Italic.woff2" as="font" type="font/woff2" crossorigin><link rel="stylesheet"'
    ) in preloaded
    later = f"<html>{HEAD}<body><article><h1>T</h1><p>x</p><h2>A</h2>{formula}</article></body>"
    assert preload_katex_fonts(later) == later


def test_a_notebook_page_keeps_the_css_that_can_apply_to_it():
    css = (
        "@charset 'UTF-8';"
        ".jupyter-wrapper{--jp-used:1px;--jp-chain:var(--jp-used);--jp-unused:2px}"
        ".jp-Cell{margin:var(--jp-chain)}"
        ".jp-Absent,.jp-Cell .jp-Absent{color:red}"
        ".jp-Absent,.jp-Cell:hover{color:blue}"
        "#nowhere{color:red}"
        ".jp-Cell:not(.jp-Absent){padding:0}"
        "table{width:max-content}"
        ".md-clipboard .jp-Cell{color:green}"
        "@media (max-width:10px){.jp-Absent{color:red}}"
        "@media print{.jp-Cell{color:black}}"
        "@keyframes spin{to{transform:rotate(1turn)}}"
        ".jp-Input{color:var(--jp-from-elsewhere)}"
        ".jupyter-wrapper{--jp-from-elsewhere:red;--jp-inline:blue}"
    )
    page = (
        '<html><head><style id="keep">.x{}</style></head><body><article>'
        f'<style type="text/css">{css}</style><div class="jupyter-wrapper">'
        '<div class="jp-Cell jp-Input" style="color: var(--jp-inline)">x</div></div>'
        "</article></body></html>"
    )
    pruned = prune_stylesheets(page)
    kept = pruned[pruned.find("<article") :]
    assert '<style id="keep">.x{}</style>' in pruned  # the head is not the notebook's
    for present in (
        "@charset",
        "--jp-used:1px",
        "--jp-chain:var(--jp-used)",
        ".jp-Cell{margin:var(--jp-chain)}",
        ".jp-Cell:hover{color:blue}",
        ".jp-Cell:not(.jp-Absent){padding:0}",
        "table{width:max-content}",
        ".md-clipboard .jp-Cell{color:green}",  # Material's classes come with its script
        "@media print{.jp-Cell{color:black}}",
        "@keyframes spin",
        "--jp-from-elsewhere:red",
        "--jp-inline:blue",  # used by the page's inline style
    ):
        assert present in kept, present
    for absent in ("--jp-unused", "color:red", "max-width:10px", "jp-Absent,"):
        assert absent not in kept, absent
