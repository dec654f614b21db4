"""The layers import downwards only (docs/ARCHITECTURE.md, "Layers").

    errors.py  config.py  universe.py        the bottom: every package may import them
    analytics/          data/                 pure statistics | sources, store, cache, collector, health
    alerts/                                   engine, rules, store, notify, backtest (reads both)
    views/                                    the read model: the snapshot the pages render
    components/ callbacks/ web/ app.py main.py   the UI, the API and the composition root

Read from the source text (ast), so a violation names the file and line; importing nothing, the
test also sees imports inside functions, which would otherwise hide a loop.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"errors", "config", "universe", "analytics", "data", "alerts", "views",
           "components", "callbacks", "web", "app", "main"}
BOTTOM = {"errors", "config", "universe"}
# What each part may import from the project (besides itself).
ALLOWED = {
    "errors": set(),
    "config": {"errors", "universe"},
    "universe": {"errors"},
    "analytics": BOTTOM,
    "data": BOTTOM,
    "alerts": BOTTOM | {"analytics", "data"},
    "views": BOTTOM | {"analytics", "data", "alerts"},
}
UI = ("components", "callbacks", "web", "app")


def _files(part: str) -> list[Path]:
    single = ROOT / f"{part}.py"
    return [single] if single.is_file() else sorted((ROOT / part).rglob("*.py"))


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at module level) for every absolute import in the file; an import under a
    top-level `if`/`try` counts as module level, one inside a def or class does not."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top: set[int] = set()

    def mark(nodes):
        for n in nodes:
            top.add(id(n))
            if isinstance(n, (ast.If, ast.Try)):
                mark(n.body + n.orelse + getattr(n, "finalbody", []) + [s for h in getattr(n, "handlers", []) for s in h.body])

    mark(tree.body)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.append((node.module, node.lineno, id(node) in top))
            # `from data import lease`: the package's submodules count as imported
            out += [(f"{node.module}.{a.name}", node.lineno, id(node) in top) for a in node.names
                    if (ROOT / node.module.replace(".", "/") / f"{a.name}.py").is_file()]
    return out


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(part):
    bad = [f"{_where(p, line)} imports {mod}"
           for p in _files(part) for mod, line, _ in _imports(p)
           if mod.split(".")[0] in PROJECT and mod.split(".")[0] not in ALLOWED[part] | {part}]
    assert not bad, "imports running up the layers:\n" + "\n".join(bad)


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_no_project_import_hides_inside_a_function(part):
    """A function-level import of a project module is how a loop between layers gets dodged."""
    bad = [f"{_where(p, line)} imports {mod} inside a function"
           for p in _files(part) for mod, line, top in _imports(p)
           if not top and mod.split(".")[0] in PROJECT]
    assert not bad, "\n".join(bad)


def test_no_import_cycle_among_the_domain_modules():
    graph: dict[str, set[str]] = {}
    for part in ALLOWED:
        for p in _files(part):
            graph[_module(p)] = {m for m, _, top in _imports(p) if top and m.split(".")[0] in PROJECT}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_domain_and_read_model_never_import_the_ui_toolkit(part):
    bad = [f"{_where(p, line)} imports {mod}" for p in _files(part) for mod, line, _ in _imports(p)
           if mod.split(".")[0] in {"dash", "plotly", "flask"}]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("part", UI)
def test_ui_never_imports_fetching_or_scheduling(part):
    bad = [f"{_where(p, line)} imports {mod}" for p in _files(part) for mod, line, _ in _imports(p)
           if mod.split(".")[0] in {"yfinance", "apscheduler", "requests", "curl_cffi"}]
    assert not bad, "\n".join(bad)


def test_the_checks_see_a_violation(tmp_path, monkeypatch):
    """The walker finds a module-level import, one inside a function and one under `if`."""
    f = tmp_path / "m.py"
    f.write_text("import os\nif True:\n    from alerts.rules import TIERS\n\n"
                 "def g():\n    from components import wall\n", encoding="utf-8")
    got = {(m, line, top) for m, line, top in _imports(f) if m.split(".")[0] in PROJECT}
    assert ("alerts.rules", 3, True) in got and ("components", 6, False) in got
