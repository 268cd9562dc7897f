"""The architecture as tests: dependencies point one way, no import cycles, a runtime without torch.

Imports are read from the source (every ``import``, at module level or inside a function: a lazy import is
still a dependency), so a cycle or a wrong-way import fails here even when no test happens to execute it.

Layers, top to bottom (a module may import its own layer and the ones below):
  cli      edgecv.cli*, edgecv.demo          thin shells over library calls
  scale    edgecv.scale                      work units here or on Ray: sweeps, exports, profiles, batch loops
  export   edgecv.export                     models -> artifacts
  training edgecv.models/ops/train/data/...  PyTorch side
  eval     edgecv.eval                       metrics, sweeps, plots: torch-free, not needed on a device
  runtime  edgecv.runtime                    torch-free: reads artifacts and profiles
  devices  edgecv.devices                    profile data + schema
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"edgecv": REPO / "edgecv", "edgecv.export": REPO / "export", "edgecv.runtime": REPO / "runtime",
         "edgecv.devices": REPO / "devices", "edgecv.eval": REPO / "eval", "edgecv.scale": REPO / "scale"}
RANK = {"cli": 7, "scale": 6, "export": 5, "training": 4, "eval": 3, "runtime": 2, "devices": 1}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, root in ROOTS.items():
        for f in root.rglob("*.py"):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([pkg, *parts])] = f
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of ours or outside package that ``name`` imports (resolved, relative imports included)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1])
                full = f"{base}.{node.module}" if node.module else base
            else:
                full = node.module
            subs = [f"{full}.{a.name}" for a in node.names if f"{full}.{a.name}" in MODULES]
            # `from pkg import submodule` depends on the submodule; `from pkg import name` on pkg itself
            if subs:
                out.update(subs)
            if len(subs) < len(node.names):
                out.add(full)
    return out


def _ours(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _graph() -> dict[str, set[str]]:
    g = {}
    for m, f in MODULES.items():
        g[m] = {t for t in map(_ours, _imports(m, f)) if t and t != m}
    return g


def _layer(m: str) -> str:
    if m.startswith(("edgecv.cli", "edgecv.demo")):
        return "cli"
    for pkg in ("export", "runtime", "devices", "eval", "scale"):
        if m == f"edgecv.{pkg}" or m.startswith(f"edgecv.{pkg}."):
            return pkg
    return "training"


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_sees_the_tree():
    g = _graph()
    assert {"edgecv.runtime.engine", "edgecv.runtime.bundle", "edgecv.export.api", "edgecv.cli"} <= set(g)
    assert "edgecv.runtime.engine" in g["edgecv.runtime.track.video"]       # relative imports resolved
    assert "edgecv.cli_base" in g["edgecv.cli_plan"]


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (module-level or lazy): " + "; ".join(" <-> ".join(c) for c in cycles)


def test_dependencies_point_one_way():
    wrong = sorted(f"{m} ({_layer(m)}) imports {d} ({_layer(d)})" for m, ds in _graph().items() for d in ds
                   if RANK[_layer(d)] > RANK[_layer(m)])
    assert not wrong, "\n".join(wrong)


def test_runtime_and_devices_never_import_torch_even_lazily():
    bad = sorted(f"{m} imports {t}" for m, f in MODULES.items() if _layer(m) in ("runtime", "devices")
                 for t in _imports(m, f) if t.split(".")[0] in ("torch", "torchvision", "litert_torch", "onnxscript"))
    assert not bad, bad


def test_eval_never_imports_torch_or_the_training_side():
    bad = sorted(f"{m} imports {t}" for m, f in MODULES.items() if _layer(m) == "eval" for t in _imports(m, f)
                 if t.split(".")[0] == "torch" or (_ours(t) and _layer(_ours(t)) in ("training", "export", "cli")))
    assert not bad, bad


def test_importing_every_runtime_module_pulls_neither_torch_nor_the_training_side():
    mods = sorted(m for m in MODULES if _layer(m) == "runtime")
    code = ("import sys, importlib\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'tqdm') or k.startswith("
            "('edgecv.models', 'edgecv.train', 'edgecv.ops', 'edgecv.data', 'edgecv.export', 'edgecv.cli')))\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
