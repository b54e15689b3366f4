"""The import graph of the four packages: no cycles, dependencies pointing one way, a light CLI start.

Every import statement counts, at module level and inside functions (a function-local import is still a dependency;
it only hides it), so the graph is read from the source with ``ast`` rather than from ``sys.modules``. Imports under
``if TYPE_CHECKING:`` are left out: they never run, so they cannot form a cycle at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("provenance", "fingerprints", "licenses", "reference_impl")
LOWER_ROOMS = ("fingerprints", "licenses", "reference_impl")  # never import `provenance`
# Modules outside provenance/cli that may import the CLI, each with its reason.
CLI_USERS = {
    "provenance.__main__": "`python -m provenance` starts the CLI",
    "provenance.demo": "run_demo() (a library entry point in the README) runs each command in-process through the "
    "CLI's main; not yet inverted (the gates report names it)",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    assert set(PACKAGES) <= set(found), "a package of the project was not found next to tests/"
    return found


def _resolve(target: str, known: dict[str, Path]) -> str | None:
    """The project module an import name refers to (the longest known prefix), or None for a third-party one."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in known:
            return name
        parts.pop()
    return None


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and "TYPE_CHECKING" in (getattr(test, "id", None), getattr(test, "attr", None)):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: anchored at this module's package
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from pkg import sub` imports the submodule when `sub` is one, else a name defined by `pkg`
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            hit = _resolve(target, known)
            if hit is not None and hit != module:
                out.add(hit)
    return out


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {m: _imports(m, p, known) for m, p in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_reader_sees_function_level_and_relative_imports(tmp_path):
    """The parser itself: an import inside a function and a relative import are both edges."""
    known = {
        "pkg": tmp_path / "pkg" / "__init__.py",
        "pkg.a": tmp_path / "pkg" / "a.py",
        "pkg.b": tmp_path / "pkg" / "b.py",
        "pkg.c": tmp_path / "pkg" / "c.py",
    }
    (tmp_path / "pkg").mkdir()
    known["pkg.a"].write_text("import json\n\ndef f():\n    from pkg.b import thing\n    return thing\n")
    known["pkg.b"].write_text("from . import c\nfrom .c import other\nimport numpy\n")
    known["pkg.c"].write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n")
    assert _imports("pkg.a", known["pkg.a"], known) == {"pkg.b"}
    assert _imports("pkg.c", known["pkg.c"], known) == set()
    assert _imports("pkg.b", known["pkg.b"], known) == {"pkg.c"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_covers_every_module():
    graph = import_graph()
    expected = {"provenance.cli.main", "provenance.checkpoint", "fingerprints", "licenses", "reference_impl.model"}
    assert expected <= set(graph)
    # a real edge the project has, so an empty graph cannot pass the checks below
    assert "licenses" in graph["provenance.audit"] or any(d.startswith("licenses") for d in graph["provenance.audit"])


def test_no_import_cycles():
    cycles = _cycles(import_graph())
    assert cycles == [], "import cycles (each line one cycle):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_lower_rooms_never_import_provenance():
    bad = sorted(
        (m, d)
        for m, deps in import_graph().items()
        if m.split(".")[0] in LOWER_ROOMS
        for d in deps
        if d.split(".")[0] == "provenance"
    )
    assert bad == []


def test_only_the_cli_imports_the_cli():
    bad = sorted(
        (m, d)
        for m, deps in import_graph().items()
        if m.split(".")[0] == "provenance" and not m.startswith("provenance.cli") and m not in CLI_USERS
        for d in deps
        if d == "provenance.cli" or d.startswith("provenance.cli.")
    )
    assert bad == []


def test_starting_the_cli_imports_neither_torch_nor_numpy():
    code = "import sys, provenance.cli.main\nprint(','.join(sorted(m for m in ('torch', 'numpy') if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"`import provenance.cli.main` pulled in: {done.stdout.strip()}"
