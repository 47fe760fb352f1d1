"""hooks/page_load.py: what a page downloads and does before its first paint, and how often the
browser restyles the whole page while Material's script starts."""

import pytest

from hooks.page_load import (
    add_head_script,
    drop_color_switching_rule,
    focusable_code,
    move_glightbox_script,
    preload_katex_fonts,
    prune_stylesheets,
    unwrap_plain_tokens,
)
from tests.site.audit import page_types
from tests.site.browser import offline_page, serve

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


def test_names_and_whitespace_in_code_lose_their_spans_and_other_tokens_keep_theirs():
    code = (
        '<code><span class="n">x</span><span class="w"> </span><span class="o">=</span>'
        '<span class="w"> </span><span class="nb">len</span><span class="p">(</span>'
        '<span class="n">items</span><span class="p">)</span></code>'
    )
    assert unwrap_plain_tokens(code) == (
        '<code>x <span class="o">=</span> <span class="nb">len</span><span class="p">(</span>'
        'items<span class="p">)</span></code>'
    )


def test_code_blocks_take_the_keyboard_focus_before_material_sets_them_up():
    block = '<div class="highlight"><pre><span></span><code>x = 1\n</code></pre></div>'
    inline = "<p>Call <code>f</code>.</p>"
    assert focusable_code(block + inline) == (
        '<div class="highlight"><pre><span></span><code tabindex="0">x = 1\n</code></pre></div>'
        + inline
    )


def test_the_palette_stylesheet_loses_only_its_rule_for_switching():
    rule = (
        "[data-md-color-switching] *,[data-md-color-switching] :after,"
        "[data-md-color-switching] :before{transition-duration:0s!important}"
    )
    css = "[data-md-color-scheme=slate]{--md-typeset-a-color:#5e8bde}" + rule + ".x{color:red}"
    assert drop_color_switching_rule(css) == (
        "[data-md-color-scheme=slate]{--md-typeset-a-color:#5e8bde}.x{color:red}"
    )


def test_the_head_script_comes_last_in_the_head():
    page = f"<html>{HEAD}<body><p>x</p></body></html>"
    added = add_head_script(page)
    head = added[: added.find("</head>")]
    assert head.endswith("</script>")
    assert head.count("<script>") == 1 and "link.href = link.href" in head
    assert added[added.find("</head>") :] == page[page.find("</head>") :]


def _style_invalidations(page, url: str) -> list[tuple[str, str]]:
    """Load ``url`` and wait for Material's script to start; what made the browser restyle
    elements, as ``(element, why)``: Chromium's invalidation tracking."""
    page.goto("about:blank")  # nothing from a page before it in the trace
    session = page.context.new_cdp_session(page)
    events, finished = [], []
    session.on("Tracing.dataCollected", lambda data: events.extend(data["value"]))
    session.on("Tracing.tracingComplete", lambda _: finished.append(True))
    categories = "devtools.timeline,disabled-by-default-devtools.timeline.invalidationTracking"
    session.send("Tracing.start", {"categories": categories, "transferMode": "ReportEvents"})
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(1000)  # Material's last change at start-up waits for an animation frame
    session.send("Tracing.end")
    while not finished:
        page.wait_for_timeout(50)
    return [
        (data["nodeName"], data.get("changedAttribute") or data.get("reason") or "")
        for event in events
        if event.get("name", "").endswith("InvalidationTracking")
        and "nodeName" in (data := event["args"].get("data", {}))
    ]


@pytest.mark.site
def test_material_starting_up_does_not_restyle_the_whole_page_for_classes_links_or_transitions(
    built_site,
):
    """Each of these restyled the heaviest topic page whole (hooks/page_load.py): the bundle
    changing the root's classes, instant navigation rewriting the stylesheet links, and the
    palette's ``data-md-color-switching`` with its rule for every element under the body."""
    url = page_types(built_site.directory)["topic (heaviest)"]
    with serve(built_site.directory) as base_url, offline_page(base_url) as (page, blocked):
        page.set_viewport_size({"width": 390, "height": 800})
        invalidations = _style_invalidations(page, base_url + url)
    assert not blocked
    assert invalidations, "no invalidation was traced: is the tracing category still there?"
    root = [
        why for element, why in invalidations if element.startswith("HTML") and "subtree" in why
    ]
    assert not root, f"/{url}: a change to the root's class restyled the whole page: {root}"
    stylesheets = [why for element, why in invalidations if element.startswith("LINK")]
    assert not stylesheets, f"/{url}: a <link> changed after the page was styled: {stylesheets}"
    body = [why for element, why in invalidations if element == "BODY" and "subtree" in why]
    assert not body, f"/{url}: a change to the <body> restyled everything in it: {body}"
