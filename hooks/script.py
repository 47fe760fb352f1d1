"""A page's runnable code as one script, and what each block needs from the blocks above it.

Blocks that show a section of ``dlref`` are *listings*: they are there to be read (the page
imports what they show), so the script leaves them out. Every other block is *runnable*; the
script is those blocks in page order, one ``# %%`` cell each (the percent format that VS Code,
Spyder and Jupytext read as notebook cells), so it runs from an empty folder once ``dlref`` is
installed, and prints what the page shows.

A runnable block that uses names defined by earlier blocks says so in a line above it, worked out
here from the code itself (``needs``), so that a reader who copies one block knows what else to
take.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from hooks.pages import Block, notebook_cells

_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def _headings(lines: list[str]) -> list[tuple[int, str]]:
    """The Markdown headings of a page as (1-based line, text), skipping fenced code."""
    found, fence = [], None
    for number, line in enumerate(lines, start=1):
        match = _FENCE.match(line)
        if match and (fence is None or match[1].startswith(fence)):
            fence = match[1] if fence is None else None
        elif fence is None and (heading := _HEADING.match(line)):
            found.append((number, heading[1]))
    return found


def _page_headings(text: str, blocks: list[Block]) -> list[tuple[int, str]]:
    """The headings of a page as (line, text); of a notebook page as (cell number, text)."""
    if not any(block.in_notebook for block in blocks):
        return _headings(text.split("\n"))
    return [
        (number, heading)
        for number, cell in enumerate(notebook_cells(text), start=1)
        if cell["cell_type"] == "markdown"
        for _, heading in _headings(cell["source"].split("\n"))
    ]


def has_runnable_code(blocks: list[Block]) -> bool:
    """Whether a page has blocks to run, not only listings (a script is worth offering)."""
    return any(not block.is_listing for block in blocks)


class _Names(ast.NodeVisitor):
    """The names a piece of module-level code binds, and those it reads before binding them.

    Scopes are followed as Python does: a function's parameters and assignments are its own, so a
    local ``x`` inside ``def f(x)`` does not count as reading a global ``x``; what a function reads
    from outside counts as read by the module (it is looked up when the function runs).
    """

    def __init__(self):
        self.bound: dict[str, str] = {}  # name -> "import" or "value", at module level
        self.read: list[str] = []  # module-level names read before this code binds them
        self._scopes: list[set[str]] = []

    def _bind(self, name: str, kind: str = "value") -> None:
        if self._scopes:
            self._scopes[-1].add(name)
        else:
            self.bound.setdefault(name, kind)

    def _read(self, name: str) -> None:
        if any(name in scope for scope in self._scopes):
            return
        if name not in self.bound and name not in self.read:
            self.read.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        else:
            self._bind(node.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self._bind((alias.asname or alias.name).split(".")[0], "import")

    visit_ImportFrom = visit_Import

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):  # `total += x` reads total first
            self._read(node.target.id)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the right-hand side is read before the targets are bound
        for target in node.targets:
            self.visit(target)

    def _scope(self, node: ast.AST, parameters: ast.arguments | None, body: list) -> None:
        local = set()
        if parameters is not None:
            every = parameters.posonlyargs + parameters.args + parameters.kwonlyargs
            every += [arg for arg in (parameters.vararg, parameters.kwarg) if arg]
            local = {arg.arg for arg in every}
        # Names assigned anywhere in the scope are local to it for its whole body.
        for child in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
                local.add(child.id)
        self._scopes.append(local)
        for statement in body:
            self.visit(statement)
        self._scopes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        annotations = [arg.annotation for arg in arguments if arg.annotation] + [node.returns]
        for expression in node.decorator_list + annotations:  # evaluated when `def` runs
            if expression is not None:
                self.visit(expression)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        self._bind(node.name)
        self._scope(node, node.args, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, node.args, [ast.Expr(node.body)])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases + node.decorator_list:
            self.visit(base)
        self._bind(node.name)
        self._scope(node, None, node.body)

    def _comprehension(self, node) -> None:
        first, *rest = node.generators
        self.visit(first.iter)  # evaluated in the enclosing scope
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        body = [ast.Expr(e) for e in elements] + [ast.Expr(g.iter) for g in rest]
        body += [ast.Expr(condition) for g in node.generators for condition in g.ifs]
        targets = [
            ast.Assign(targets=[g.target], value=ast.Constant(None)) for g in node.generators
        ]
        self._scope(node, None, targets + body)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def names(code: str) -> _Names:
    visitor = _Names()
    visitor.visit(ast.parse(code))
    return visitor


@dataclass
class Needs:
    """What a runnable block takes from the blocks above it."""

    values: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        """One line for the page, e.g. "Uses `model`, `loader` from the blocks above." """

        def code(items: list[str]) -> str:
            return ", ".join(f"`{name}`" for name in items)

        if self.values and self.imports:
            return (
                f"Uses {code(self.values)} from the blocks above, and their imports "
                f"({code(self.imports)})."
            )
        if self.values:
            return f"Uses {code(self.values)} from the blocks above."
        if self.imports:
            return f"Uses the imports of the blocks above ({code(self.imports)})."
        return ""


def needs(blocks: list[Block]) -> dict[int, Needs]:
    """For each runnable block (by its line), the names it reads that earlier blocks defined."""
    defined: dict[str, str] = {}
    result = {}
    for block in blocks:
        if not block.runs_in_page:
            continue
        found = names(block.code)
        taken = [name for name in found.read if name in defined]
        result[block.line] = Needs(
            values=[name for name in taken if defined[name] == "value"],
            imports=[name for name in taken if defined[name] == "import"],
        )
        for name, kind in found.bound.items():
            defined[name] = kind
    return result


def page_script(text: str, blocks: list[Block], header: str) -> str:
    """The page's runnable code as one percent-format script, headed by ``header`` comments.

    ``text`` is the page's source (Markdown, or a notebook's JSON). Each cell is titled with the
    section of the page it comes from.
    """
    headings = _page_headings(text, blocks)
    cells = []
    for block in blocks:
        if block.is_listing:
            continue
        section = next((title for line, title in reversed(headings) if line < block.line), "")
        where = f"cell {block.line}" if block.in_notebook else f"page line {block.line}"
        cells.append(f"# %% {section} ({where})\n{block.code.strip()}\n")
    comments = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.split("\n"))
    return comments + "\n" + "\n\n".join(cells)
