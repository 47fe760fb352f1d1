"""MkDocs hook: run each page's code and show what it printed and drew; give readers the code.

For every page with Python blocks the build

- runs the page (or reuses the stored run of its current code, see ``DLREF_EXECUTE`` below) and
  inserts after each block what it printed and drew; figures become PNG files beside the page;
- puts under the title one install line for the wheel of ``dlref`` that the site serves
  (``hooks/install.py``), with the page's runnable code as a script to download or copy in one
  click (``hooks/script.py``), and its notebook where the front matter says ``notebook: true``;
- marks the blocks that show a section of ``dlref`` as source listings, labelled with their file
  and linked to the whole file on the API reference;
- says above each runnable block which names it takes from the blocks above it.

A notebook page (``docs/**/*.ipynb``, rendered by mkdocs-jupyter) runs the same way, cell by cell:
mkdocs-jupyter renders a copy of it whose outputs are what this run printed and drew (committed
outputs never reach the site), under the same install line, script and notebook download; its
figures are shown from PNG files beside the page, as on a Markdown page, not inlined in the HTML.

It also serves KaTeX's stylesheet and fonts from the site itself (``hooks/math.py`` renders the
math at build time), and keeps raw TeX out of search previews.

``DLREF_EXECUTE`` chooses what the build does with a page's code:

- ``auto`` (default): reuse the stored run of the page's current code (written by the tests or an
  earlier build), and execute the page only when its code, ``dlref`` or ``snippets`` changed.
  Editing prose re-runs nothing, so ``mkdocs serve`` stays quick.
- ``always``: execute every page, ignoring stored runs.
- ``never``: execute nothing and show no outputs (a quick look at layout and prose).

A block that raises fails the build with the page and the line of the block.
"""

from __future__ import annotations

import base64
import html
import json
import os
import posixpath
import re
import sys
from pathlib import Path

import markdown as python_markdown
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from mkdocs.utils.meta import get_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hooks import (  # noqa: E402 - path first
    github,
    install,
    notebook,
    pages,
    provenance,
    script,
    search_text,
)

MODES = ("auto", "always", "never")
KATEX = pages.ROOT / "node_modules" / "katex" / "dist"
KATEX_FILES = ["katex.min.css"]  # and its fonts: hooks/math.py renders the math at build time

COPY_ALL = "md-button dlref-copy-all"  # on_page_content gives this button the page's script
_RUNS: dict[str, pages.PageRun | None] = {}  # src_uri -> this build's run of the page
_NOTEBOOK_BLOCKS: dict[str, list[pages.Block]] = {}  # src_uri -> a notebook page's code cells
_PACKAGE: install.Package | None = None  # this build's package facts, read once in on_config
_BUILD_COMMIT = ""  # the commit the site is built from ("+" when the checkout has edits)
RENDERED_NOTEBOOKS = pages.ROOT / ".cache" / "notebook-pages"  # what mkdocs-jupyter renders
NO_ALT = 'alt="No description has been provided for this image"'  # nbconvert's default


def is_notebook(file: File) -> bool:
    """Whether a page is a Jupyter notebook (rendered by mkdocs-jupyter)."""
    return file.src_uri.endswith(".ipynb")


def _mode() -> str:
    mode = os.environ.get("DLREF_EXECUTE", "auto")
    if mode not in MODES:
        raise PluginError(f"DLREF_EXECUTE must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def on_config(config):
    _mode()
    if not (KATEX / "katex.min.css").exists():
        raise PluginError(
            f"KaTeX is missing from {KATEX}: run `npm ci` (make does it) to install it locally"
        )
    if not config.get("site_url"):
        raise PluginError("site_url must be set in mkdocs.yml: every install line is built from it")
    try:
        github.repository(config.get("repo_url"))
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    global _PACKAGE, _BUILD_COMMIT
    _PACKAGE = install.package()
    _BUILD_COMMIT = pages.commit()
    config["extra"]["dlref_version"] = _PACKAGE.version  # shown in every page's footer
    return config


def _page_file(uri: str) -> str:
    """Where a page's companion file is served: beside the page (``a/b.md`` -> ``a/b/<name>``)."""
    path = Path(uri)
    return str(path.parent if path.stem == "index" else path.with_suffix(""))


def companion_uri(src_uri: str, suffix: str) -> str:
    """The URI of a page's notebook (``.ipynb``) or script (``.py``), named after the page."""
    return posixpath.join(_page_file(src_uri), Path(src_uri).stem + suffix)


def _figure_uri(src_uri: str, line: int, number: int) -> str:
    return posixpath.join(_page_file(src_uri), f"{Path(src_uri).stem}-{line}-{number}.png")


def on_files(files, config):
    """Add what the site serves besides the pages: KaTeX, the wheel, each page's companions."""
    names = KATEX_FILES + [
        f"fonts/{font.name}" for font in sorted((KATEX / "fonts").glob("*.woff2"))
    ]
    for name in names:
        files.append(
            File(
                name,
                src_dir=str(KATEX),
                dest_dir=str(Path(config["site_dir"]) / "assets" / "katex"),
                use_directory_urls=False,
            )
        )
    wheel = install.build_wheel()
    files.append(
        File.generated(config, f"{install.WHEEL_DIR}/{wheel.name}", abs_src_path=str(wheel))
    )
    for page_file in list(files.documentation_pages()):
        _add_companions(page_file, files, config)
    return files


def _run(path: Path, blocks: list[pages.Block]) -> pages.PageRun | None:
    mode = _mode()
    if not blocks or mode == "never":
        return None
    run = pages.cached_run(path) if mode == "auto" else None
    if run is None:
        try:
            run = pages.run_page(path)
        except pages.BlockError as exc:
            raise PluginError(str(exc)) from exc
    return run


def _add_companions(page_file: File, files, config) -> None:
    """Run a page; add its figures, its script and (if asked for) its notebook to the site."""
    path = Path(page_file.abs_src_path)
    text = path.read_text(encoding="utf-8")
    try:
        blocks = pages.parse_blocks(text, str(path.relative_to(pages.ROOT)))
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    run = _run(path, blocks)
    _RUNS[page_file.src_uri] = run
    if is_notebook(page_file):  # mkdocs-jupyter renders the notebook with this run's outputs
        _NOTEBOOK_BLOCKS[page_file.src_uri] = blocks
        rendered = RENDERED_NOTEBOOKS / page_file.src_uri
        rendered.parent.mkdir(parents=True, exist_ok=True)
        rendered.write_text(notebook.rendered_notebook(text, blocks, run), encoding="utf-8")
        page_file.abs_src_path = str(rendered)
    for output in [] if run is None else run.outputs:  # a notebook page's too: see below
        for number, figure in enumerate(output.figures, start=1):
            uri = _figure_uri(page_file.src_uri, output.line, number)
            files.append(File.generated(config, uri, content=base64.b64decode(figure["png"])))
    if not script.has_runnable_code(blocks):
        return
    header = _script_header(page_file, config)
    files.append(
        File.generated(
            config,
            companion_uri(page_file.src_uri, ".py"),
            content=script.page_script(text, blocks, header),
        )
    )
    command = _PACKAGE.install_command(config["site_url"])
    if is_notebook(page_file):
        content = notebook.notebook_page_download(text, command)
    elif get_data(text)[1].get("notebook"):
        try:
            content = notebook.notebook_json(text, page_file.src_uri, command)
        except ValueError as exc:
            raise PluginError(str(exc)) from exc
    else:
        return
    files.append(
        File.generated(config, companion_uri(page_file.src_uri, ".ipynb"), content=content)
    )


def _page_url(page_file: File, config) -> str:
    return config["site_url"].rstrip("/") + "/" + page_file.url


def _script_header(page_file: File, config) -> str:
    package = _PACKAGE
    return (
        f"The runnable code of {_page_url(page_file, config)}\n"
        f"Install what it needs with one command ({package.support_note()}):\n"
        f"    {package.install_command(config['site_url'])}\n"
        f"then run it from any folder: python {Path(page_file.src_uri).stem}.py\n"
        "Source listings of dlref that the page shows are left out: the code imports them."
    )


def _relative(from_src_uri: str, to_uri: str) -> str:
    """A Markdown link from one page's source to another file of the site."""
    return posixpath.relpath(to_uri, posixpath.dirname(from_src_uri) or ".")


def reference_uri(listing: str) -> str:
    """The API reference page of the module a listing comes from.

    ``dlref/a/b.py`` -> ``reference/a/b.md``, ``dlref/a/__init__.py`` -> ``reference/a.md``; a
    module without a page of its own is documented on its package's page.
    """
    parts = list(Path(listing.split(":")[0]).relative_to("dlref").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    while parts and not (pages.DOCS / "reference" / Path(*parts).with_suffix(".md")).exists():
        parts.pop()
    return (
        posixpath.join("reference", *parts[:-1], f"{parts[-1]}.md")
        if parts
        else "reference/index.md"
    )


def _header(
    page, blocks: list[pages.Block], run: pages.PageRun | None, config, link=None
) -> list[str]:
    """The lines under the page's title: how to install, the code to take, how it was run.

    ``link`` turns the URI of a file of the site into a link from the page (by default, from the
    page's source, as Markdown links are written).
    """
    package = _PACKAGE
    src = page.file.src_uri
    link = link or (lambda uri: _relative(src, uri))
    lines = [
        '<div class="dlref-runbox" markdown>',
        "",
        f"**Run this page's code.** Install `dlref` with one command ({package.support_note()}):",
        "",
        "```bash",
        package.install_command(config["site_url"]),
        "```",
        "",
    ]
    if script.has_runnable_code(blocks):
        script_uri = companion_uri(src, ".py")
        buttons = [
            f"[Download the code]({link(script_uri)}){{ .md-button download }}",
            f'<button class="{COPY_ALL}" type="button">Copy all the code</button>',
        ]
        if page.meta.get("notebook") or is_notebook(page.file):
            notebook_uri = companion_uri(src, ".ipynb")
            colab = github.colab_url(config["repo_url"], notebook_uri)
            buttons += [
                f"[Download as a notebook]({link(notebook_uri)}){{ .md-button download }}",
                f"[Open in Colab]({colab}){{ .md-button }}",
            ]
        lines += [" ".join(buttons), ""]
    if run is not None and script.has_runnable_code(blocks):
        lines += [f'<p class="dlref-runinfo">{html.escape(provenance.verified_with(run))}</p>', ""]
        stale = provenance.stale_note(run, torch=_torch_version(), dlref=package.version)
        if stale:
            lines += [f'<p class="dlref-runinfo dlref-stale">{html.escape(stale)}</p>', ""]
    return lines + ["</div>", ""]


def _torch_version() -> str:
    import torch

    return torch.__version__


def _output_markdown(output: pages.BlockOutput, src_uri: str, indent: str) -> list[str]:
    """Markdown for what one block printed (a text block) and drew (figure files), at its indent."""
    lines = []
    if output.stdout.strip():
        fence = "````"
        lines += ["", f'{fence}text title="Output"', *output.stdout.rstrip("\n").split("\n"), fence]
    for number, figure in enumerate(output.figures, start=1):
        alt = figure["alt"].replace("[", "(").replace("]", ")")
        uri = _relative(src_uri, _figure_uri(src_uri, output.line, number))
        size = f'width="{figure["width"] // 2}" height="{figure["height"] // 2}"'
        lines += ["", f'![{alt}]({uri}){{ .dlref-figure {size} loading="lazy" }}']
    return [indent + line if line else line for line in lines]


def _listing_lines(block: pages.Block, src_uri: str, lines: list[str]) -> list[str]:
    """A listing's fence, marked and labelled as the source of its file, with a link to it."""
    file = block.include.split(":")[0]
    opening = f'{block.indent}``` {{ .python .dlref-listing title="{file}" }}'
    reference = _relative(src_uri, reference_uri(block.include))
    body = lines[block.line : block.end_line - 1]
    caption = (
        f"{block.indent}Source listing from `{file}`, for reading: the runnable code imports it. "
        f"[The whole file]({reference}#source)"
    )
    return [
        opening,
        *body,
        f"{block.indent}```",
        "",
        f"{caption}",
        f"{block.indent}{{ .dlref-listing-caption }}",
    ]


INSTALL_MARKER = "<!-- dlref:install -->"  # a page may show the install line anywhere


def _install_block(markdown: str, config) -> str:
    """Replace each install marker with the install command, as a block at the marker's indent."""
    command = _PACKAGE.install_command(config["site_url"])
    lines = []
    for line in markdown.split("\n"):
        if line.strip() == INSTALL_MARKER:
            indent = line[: len(line) - len(line.lstrip())]
            lines += [f"{indent}```bash", f"{indent}{command}", f"{indent}```"]
        else:
            lines.append(line)
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    if is_notebook(page.file):  # mkdocs-jupyter renders it; the header goes in on_page_content
        return markdown
    markdown = _install_block(markdown, config)
    path = Path(page.file.abs_src_path)
    try:
        blocks = pages.parse_blocks(markdown, str(path.relative_to(pages.ROOT)))
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    if not blocks:
        return markdown
    run = _RUNS.get(page.file.src_uri)
    # The run numbers blocks by their line in the file; here the front matter is already gone.
    outputs = dict(zip([b.line for b in blocks], run.outputs, strict=True)) if run else {}
    needs = script.needs(blocks)
    lines = markdown.split("\n")
    # Rewrite from the last block up, so earlier line numbers stay valid.
    for block in reversed(blocks):
        after = (
            _output_markdown(outputs[block.line], page.file.src_uri, block.indent)
            if block.line in outputs
            else []
        )
        if block.is_listing:
            replaced = _listing_lines(block, page.file.src_uri, lines)
        else:
            replaced = lines[block.line - 1 : block.end_line]
        lines[block.line - 1 : block.end_line] = replaced + after
        sentence = needs[block.line].sentence() if block.line in needs else ""
        if sentence:
            note = [f"{block.indent}{sentence}", f"{block.indent}{{ .dlref-needs }}", ""]
            lines[block.line - 1 : block.line - 1] = note
    # Under the title and the summary paragraph that follows it.
    heading = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1)
    start = next((i for i in range(heading + 1, len(lines)) if lines[i].strip()), heading)
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    if start >= len(lines) or lines[start].lstrip().startswith(("```", "#", "!!!", "???", ":::")):
        end = heading + 1
    lines[end:end] = ["", *_header(page, blocks, run, config)]
    return "\n".join(lines)


_PAGE_LINK = re.compile(r'href="(?![a-z]+:|#|/)([^"#]+\.(?:md|ipynb))(#[^"]*)?"')


def _page_links(html_text: str, page, files) -> str:
    """Turn a notebook's links to other pages (``../a/b.md#x``) into links to their URLs.

    MkDocs does this for Markdown pages; mkdocs-jupyter leaves a notebook's links as written.
    A link to a page that does not exist fails the build, as in a strict Markdown build.
    """

    def to_url(match: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), match[1]))
        file = files.get_file_from_path(target)
        if file is None:
            raise PluginError(f"{page.file.src_uri}: a link to {match[1]!r}, which is no page")
        return f'href="{file.url_relative_to(page.file)}{match[2] or ""}"'

    return _PAGE_LINK.sub(to_url, html_text)


def _notebook_page_content(html_text: str, page, config, files) -> str:
    """Put the install box under a notebook page's summary; give its figures their alt text and
    show them from the figure files beside the page.

    The notebook's own links are resolved first: the box's links are already page URLs.
    """
    html_text = _page_links(html_text, page, files)
    blocks, run = _NOTEBOOK_BLOCKS[page.file.src_uri], _RUNS.get(page.file.src_uri)
    folder = page.url if page.url.endswith("/") else posixpath.dirname(page.url)
    box = "\n".join(_header(page, blocks, run, config, lambda uri: posixpath.relpath(uri, folder)))
    box_html = python_markdown.markdown(
        box, extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"]
    )
    title = html_text.find("<h1")
    summary_end = html_text.find("</p>", title) if title >= 0 else -1
    if summary_end >= 0:
        at = summary_end + len("</p>")
        html_text = html_text[:at] + box_html + html_text[at:]
    for output in run.outputs if run else []:
        for number, figure in enumerate(output.figures, start=1):
            alt = html.escape(figure["alt"], quote=True)
            html_text = html_text.replace(NO_ALT, f'alt="{alt}"', 1)
            # The figure's PNG file, not the notebook's inline copy: a page of inline images is
            # one large download before anything shows; files load as the reader scrolls.
            # (The lightbox's link to the full-size image, added by mkdocs-glightbox, too.)
            uri = posixpath.relpath(_figure_uri(page.file.src_uri, output.line, number), folder)
            inline = f"data:image/png;base64,{figure['png']}"
            html_text = html_text.replace(
                f'src="{inline}"', f'src="{uri}" loading="lazy" decoding="async"', 1
            ).replace(inline, uri)
    return html_text


def _report_link(page, config) -> str:
    """The "report a problem" link at the end of every page."""
    run = _RUNS.get(page.file.src_uri)
    url = github.report_url(
        config["repo_url"],
        page_url=_page_url(page.file, config),
        source=f"docs/{page.file.src_uri}",
        commit=_BUILD_COMMIT,
        verified=provenance.verified_with(run) if run else "",
    )
    return (
        f'<p class="dlref-report"><a href="{html.escape(url, quote=True)}">'
        "Report a problem with this page</a> (opens a GitHub issue with the page's details)</p>"
    )


def on_page_content(html_text, page, config, files):
    """End every page with a report link; give "Copy all the code" the page's script."""
    if is_notebook(page.file):
        html_text = _notebook_page_content(html_text, page, config, files)
    html_text += _report_link(page, config)
    script_file = files.get_file_from_path(companion_uri(page.file.src_uri, ".py"))
    if script_file is None or f'class="{COPY_ALL}"' not in html_text:
        return html_text
    code = html.escape(script_file.content_string, quote=True)
    return html_text.replace(
        f'class="{COPY_ALL}"', f'class="{COPY_ALL}" data-clipboard-text="{code}"', 1
    )


def on_post_build(config):
    """Search previews show math as readable text, not as raw TeX."""
    index = Path(config["site_dir"]) / "search" / "search_index.json"
    if index.exists():
        data = json.loads(index.read_text(encoding="utf-8"))
        for document in data["docs"]:
            document["text"] = search_text.plain_math(document["text"])
            document["title"] = search_text.plain_math(document["title"])
        index.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
