"""The packages depend one way only: rl -> envs -> generators -> sandbox."""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["sandbox", "generators", "envs", "rl"]  # each may import only the ones before it


def _imported_top_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", LAYERS)
def test_package_imports_only_lower_layers(package: str) -> None:
    forbidden = set(LAYERS[LAYERS.index(package) + 1:])
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {
        str(f.relative_to(ROOT)): sorted(_imported_top_packages(f) & forbidden)
        for f in files
        if _imported_top_packages(f) & forbidden
    }
    assert not offenders, f"upward imports break the layering: {offenders}"


# --- module graph: no cycles, other packages only through their public API ---------------------

MODULE_ROOTS = [*LAYERS, "cfcode_cli"]
# The one documented exception to "another package's public API only": the `cfcode` entry point
# mounts the command modules each package contributes (importing them from the packages' __init__
# would load every command's dependencies on `import envs`).
PUBLIC_MODULES = {f"{package}.cli" for package in LAYERS}
PUBLIC_MODULE_USERS = {"cfcode_cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    files = [ROOT / "cfcode_cli.py", *(f for p in LAYERS for f in sorted((ROOT / p).rglob("*.py")))]
    return {_module_name(f): f for f in files}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (function bodies included; not the
    annotation-only imports under `if TYPE_CHECKING:`, which never run): for `from P import x`, P.x
    when that is a module (a submodule import), else P."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c`: the deepest module that exists
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _runtime_nodes(tree: ast.AST):
    """ast.walk, minus the bodies of `if TYPE_CHECKING:` blocks."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _graph() -> dict[str, set[str]]:
    modules = _project_modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycle_between_modules() -> None:
    """A cycle hidden by an import inside a function is still a cycle: every import counts."""
    graph = _graph()
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle between project modules: {' -> '.join(exc.args[1])}")


def test_other_packages_only_through_their_public_api() -> None:
    """`from sandbox import X` is fine anywhere; `from sandbox.worker import X` only inside sandbox/.
    Within a package, modules import each other freely."""
    offenders = sorted(
        f"{name} -> {target}"
        for name, targets in _graph().items()
        for target in targets
        if target.split(".")[0] != name.split(".")[0]
        and "." in target
        and not (target in PUBLIC_MODULES and name in PUBLIC_MODULE_USERS)
    )
    assert not offenders, "private modules of another package imported:\n" + "\n".join(offenders)


def test_the_graph_sees_function_level_imports(tmp_path: Path) -> None:
    """The checks above would be blind if imports inside functions were skipped."""
    (tmp_path / "mod.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.typed\n"
                                     "def f():\n    from pkg.other import g\n    return g\n")
    modules = {name: tmp_path / "x.py" for name in ("pkg.mod", "pkg.other", "pkg.typed")}
    assert _imports("pkg.mod", tmp_path / "mod.py", modules) == {"pkg.other"}


# rl/ by job: inference is used by training and evaluation (independent of each other), and the
# experiment runs them all; rl/cli.py mounts every subpackage's commands.
RL_JOBS = {"rl.inference": set(), "rl.training": {"rl.inference"}, "rl.evaluation": {"rl.inference"},
           "rl.experiment": {"rl.inference", "rl.training", "rl.evaluation"}}


def test_rl_subpackages_depend_one_way() -> None:
    def job(module: str) -> str | None:
        return next((j for j in RL_JOBS if module == j or module.startswith(j + ".")), None)

    offenders = sorted(
        f"{name} -> {target}"
        for name, targets in _graph().items() if job(name)
        for target in targets if job(target) and job(target) != job(name) and job(target) not in RL_JOBS[job(name)]
    )
    assert not offenders, "rl subpackages import against the grain:\n" + "\n".join(offenders)
