"""The shape of the code, read with ``ast``: imports flow one way (fronts → engine → storage,
workflows), there is no import circle (lazy and TYPE_CHECKING imports count: they are the same
dependency, only deferred), no module reaches into another's ``_private`` names, and the engine
neither prints nor knows click."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "cli", "storage", "workflows", "web")
FRONTS = ("cli", "web")
# Underscore names that are a library's public protocol, not somebody's private helper.
LIBRARY_PROTOCOL = frozenset({"_mapping", "_asdict", "_replace", "_fields", "_make", "_field_defaults"})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (the most specific one that exists)
    names: tuple[str, ...]  # names taken from it by ``from target import …``
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        root = REPO / package
        if root.is_dir():
            for path in sorted(root.rglob("*.py")):
                if "migrations/versions" not in path.as_posix():
                    found[module_name(path)] = path
    return found


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"), filename=str(modules()[name]))


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def resolve(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".")
    if not is_package(source):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(source: str) -> Iterator[Import]:
    """Every import statement of the module, wherever it stands (top, function, TYPE_CHECKING)."""
    known = modules()
    for node in ast.walk(tree(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target:
                    yield Import(source, target, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(source, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # ``from engine.core import policy``: the module policy
                    yield Import(source, sub, (), node.lineno)
                elif base in known:
                    yield Import(source, base, (alias.name,), node.lineno)


def all_imports() -> list[Import]:
    return [imp for name in modules() for imp in imports_of(name)]


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_packages_are_found() -> None:
    names = modules()
    assert "engine.api" in names and "cli.main" in names and "storage.db" in names
    assert any(imp.target == "engine.api" for imp in all_imports())  # the walk sees imports at all


# ---------------------------------------------------------------------- circles
def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_circle() -> None:  # the check below can fail
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_lazy_and_type_checking_imports_included() -> None:
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        if imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    assert cycles(edges) == []


# ---------------------------------------------------------------------- one direction
def test_imports_flow_from_fronts_to_engine_to_storage_and_workflows() -> None:
    forbidden = {
        "engine": {"cli", "web"},
        "storage": {"engine", "cli", "web"},
        "workflows": {"engine", "storage", "cli", "web"},
        "cli": {"storage", "web"},
        "web": {"storage", "cli"},
    }
    wrong = sorted(
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in all_imports()
        if top(imp.target) in forbidden[top(imp.source)]
    )
    assert wrong == []


# ---------------------------------------------------------------------- private names
def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_aliases(source: str) -> dict[str, str]:
    """Local names bound to project modules: ``import storage.db as db``, ``from engine.core import trail``."""
    known = modules()
    out = {}
    for node in ast.walk(tree(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known and alias.asname:
                    out[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = resolve(source, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    out[alias.asname or alias.name] = f"{base}.{alias.name}"
    return out


@cache
def private_members_defined_here() -> frozenset[str]:
    """Every ``_name`` our classes define (methods, attributes set on ``self``): another object's
    ``_name`` among them is one of our helpers used from outside (``app._write``); other underscore
    names belong to libraries (python-docx's ``_p``, openpyxl's ``_style``). Module-level helpers
    are reached through a module alias or a ``from`` import, both checked below."""
    names = set()
    for source in modules():
        for node in ast.walk(tree(source)):
            if isinstance(node, ast.ClassDef):
                names.update(n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id == "self"):
                names.add(node.attr)
    return frozenset(n for n in names if private(n))


def test_no_module_uses_another_modules_private_names() -> None:
    ours = private_members_defined_here()
    assert "_check_role" in ours and "_ready" in ours  # the walk finds our helpers
    wrong = []
    for source in modules():
        for imp in imports_of(source):
            for name in imp.names:
                if private(name) and imp.target != source:
                    wrong.append(f"{source}:{imp.line} imports {imp.target}.{name}")
        aliases = module_aliases(source)
        for node in ast.walk(tree(source)):
            if not (isinstance(node, ast.Attribute) and private(node.attr)) or node.attr in LIBRARY_PROTOCOL:
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in aliases:
                wrong.append(f"{source}:{node.lineno} uses {aliases[owner.id]}.{node.attr}")
            elif node.attr in ours and not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                # another object's private member: a helper of some other class (app._write)
                wrong.append(f"{source}:{node.lineno} uses {ast.unparse(owner)}.{node.attr}")
    assert sorted(wrong) == []


# ---------------------------------------------------------------------- the engine is a library
def test_engine_neither_prints_nor_knows_click() -> None:
    wrong = []
    for source in modules():
        if top(source) != "engine":
            continue
        for node in ast.walk(tree(source)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                wrong += [f"{source}:{node.lineno} imports {n}" for n in names
                          if n.split(".")[0] in ("click", "rich")]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                wrong.append(f"{source}:{node.lineno} calls print(")
    assert wrong == []


# ---------------------------------------------------------------------- words for any front
CLI_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
# Not messages of a refusal: LibreOffice's own arguments (engine/reports/pdf.py), what chose the
# language as 'config show' reports it (engine/i18n.py), the digest and the scheduler's log pointing
# supervisors at the listing of overdue items and failed reminders.
NOT_MESSAGES = {"engine.reports.pdf", "engine.i18n", "engine.supervision.messages", "engine.supervision.scheduler"}


def docstrings(module: ast.Module) -> set[int]:
    """ids of the docstring nodes: they document, they are not messages."""
    out = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_no_engine_message_names_a_command_line_option() -> None:
    """Engine errors carry fields (the input missing, the option a person gives); the CLI words them
    with its options (cli/wording.py), a web front its own way."""
    wrong = []
    for source in modules():
        if top(source) != "engine" or source in NOT_MESSAGES:
            continue
        skip = docstrings(tree(source))
        for node in ast.walk(tree(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                wrong += [f"{source}:{node.lineno} {m}" for m in CLI_OPTION.findall(node.value)]
    assert wrong == []
