"""Reading untrusted user source for `cfcode counterfactualize`: split, parse, pick what a function
needs, check a purity policy, and rewrite its signature to `entry(*inputs, *latents)`.

Why static checks when the Docker sandbox is the security boundary: a counterfactual problem needs
a *pure* function (same inputs -> same output, no I/O), and a clear rejection line ("imports os")
serves the user better than an opaque sandbox status. Nothing here executes user code; every call
happens in the sandbox (`generators.counterfactualize`). A file with a syntax error in one function
still yields the others: on a parse failure the source is split into top-level chunks and each
chunk is parsed on its own.
"""
from __future__ import annotations

import ast
import builtins
import copy
import importlib
import re
import types
from dataclasses import dataclass, field

# Standard modules without I/O, clocks or randomness (pure computation only).
ALLOWED_MODULES = frozenset({
    "__future__", "bisect", "collections", "copy", "dataclasses", "decimal", "enum", "fractions",
    "functools", "heapq", "itertools", "math", "operator", "re", "statistics", "string", "textwrap",
    "typing", "unicodedata",
})
# Builtins that reach outside the function, run dynamic code or reach interpreter internals.
FORBIDDEN_NAMES = frozenset({
    "__import__", "breakpoint", "compile", "delattr", "eval", "exec", "exit", "getattr", "globals",
    "help", "input", "locals", "memoryview", "open", "quit", "setattr", "vars",
})
# Builtins whose result is a memory address (id; hash of None or of a plain object) or follows the
# interpreter's hash seed: the same call gives another value in another process.
ADDRESS_NAMES = frozenset({"hash", "id"})
# Attributes of frames, generators, coroutines, tracebacks and code objects: through them (a generator's
# gi_frame.f_builtins) a function reaches the builtins (__import__: the clock, files) with no dunder name.
INTERNAL_ATTRIBUTES = frozenset({
    "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "f_trace", "gi_code", "gi_frame", "gi_yieldfrom",
    "cr_await", "cr_code", "cr_frame", "ag_await", "ag_code", "ag_frame", "tb_frame", "tb_next", "co_consts",
    "co_code", "co_names",
})
_BUILTIN_NAMES = frozenset(dir(builtins))
_DEF_LINE = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)")
_CHUNK_START = re.compile(r"^(?:@|def\s|async\s|class\s|import\s|from\s|[A-Za-z_])")


@dataclass(frozen=True)
class Rejection:
    """Why one function cannot become problems: one line for the user."""

    function: str
    reason: str
    line: int | None = None

    def text(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.function}{where}: rejected: {self.reason}"


@dataclass
class ParsedSource:
    """Top-level statements that parsed, in source order, and the functions whose chunk did not."""

    statements: list[ast.stmt]
    broken: dict[str, Rejection] = field(default_factory=dict)
    module_errors: list[str] = field(default_factory=list)  # unparsable chunks that define no function


def parse_source(source: str) -> ParsedSource:
    """Parse the whole file, or (on a syntax error) each top-level chunk on its own."""
    try:
        return ParsedSource(ast.parse(source).body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: NUL bytes; the others: nesting
        pass
    parsed = ParsedSource([])
    for start, text in _chunks(source):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            line = start + (getattr(exc, "lineno", None) or 1) - 1
            msg = (getattr(exc, "msg", None) or str(exc)) if isinstance(exc, (SyntaxError, ValueError)) else (
                "nested too deeply to parse")
            match = next((m for m in map(_DEF_LINE.match, text.splitlines()) if m), None)
            if match:
                name = match.group(1)
                parsed.broken.setdefault(name, Rejection(name, f"syntax error: {msg}", line))
            else:
                parsed.module_errors.append(f"line {line}: syntax error outside any function: {msg}")
            continue
        ast.increment_lineno(tree, start - 1)
        parsed.statements.extend(tree.body)
    return parsed


def _chunks(source: str) -> list[tuple[int, str]]:
    """(first line, text) of each top-level statement, decorators kept with their def."""
    chunks: list[tuple[int, list[str]]] = []
    only_decorators = False
    for lineno, line in enumerate(source.splitlines(), 1):
        starts = bool(_CHUNK_START.match(line))
        if starts and not (chunks and only_decorators):
            chunks.append((lineno, [line]))
            only_decorators = line.startswith("@")
        elif chunks:
            chunks[-1][1].append(line)
            if starts:
                only_decorators = line.startswith("@") and only_decorators
        else:
            chunks.append((lineno, [line]))
            only_decorators = False
    return [(start, "\n".join(lines) + "\n") for start, lines in chunks]


def _bound_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def closure(statements: list[ast.stmt], entry: str) -> tuple[list[ast.stmt], set[str]]:
    """The top-level statements `entry` needs (transitively, in source order) and the names it uses
    that no statement binds (builtins excluded)."""
    binders: dict[str, list[int]] = {}
    for i, stmt in enumerate(statements):
        for name in _bound_names(stmt):
            binders.setdefault(name, []).append(i)
    keep: set[int] = {i for i, s in enumerate(statements)
                      if isinstance(s, ast.ImportFrom) and s.module == "__future__"}
    todo, seen, unbound = [entry], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in binders:
            if name not in _BUILTIN_NAMES:
                unbound.add(name)
            continue
        for i in binders[name]:
            if i not in keep:
                keep.add(i)
                todo.extend(_used_names(statements[i]))
    return [statements[i] for i in sorted(keep)], unbound


def policy_violation(statements: list[ast.stmt]) -> tuple[str, int | None] | None:
    """The first construct that makes code impure or reaches outside it, with its line; else None."""
    for stmt in statements:
        for node in ast.walk(stmt):
            line = getattr(node, "lineno", None)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for mod in mods:
                    if getattr(node, "level", 0) or mod.split(".")[0] not in ALLOWED_MODULES:
                        allowed = ", ".join(sorted(ALLOWED_MODULES - {"__future__"}))
                        return f"imports {mod or '.'}: only pure standard modules may be imported ({allowed})", line
            elif isinstance(node, ast.Name) and node.id in ADDRESS_NAMES:
                return (f"uses {node.id}: its value is a memory address or follows the interpreter's hash seed, "
                        "so the same call differs from one process to the next"), line
            elif isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or _dunder(node.id)):
                return f"uses {node.id}: counterfactual problems need pure functions (no I/O, no dynamic code)", line
            elif isinstance(node, ast.Attribute) and (_dunder(node.attr) or node.attr in INTERNAL_ATTRIBUTES):
                return f"touches the internal attribute .{node.attr}", line
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                return f"declares {type(node).__name__.lower()} state: results must not depend on earlier calls", line
            elif isinstance(node, ast.AsyncFunctionDef):
                return f"async function {node.name}: only plain functions are supported", line
    return _module_reach(statements)


# Functions of the allowed modules that evaluate text as Python (string annotations: eval with builtins) or
# reach attributes named by a string (operator.attrgetter("__globals__") past the dunder check: the builtins,
# __import__, the clock).
EVALUATING = frozenset({"ForwardRef", "get_type_hints", "attrgetter", "methodcaller", "Formatter"})
_NOT_PURE = ("a module's private parts and functions that evaluate text as code or reach attributes by name are not "
             "pure computation")


def _allowed_module(module: types.ModuleType) -> bool:
    return module.__name__.split(".")[0] in ALLOWED_MODULES


def _module_reach(statements: list[ast.stmt]) -> tuple[str, int | None] | None:
    """A module an allowed import leads to that may not be imported itself (`typing.sys`, `statistics.random`,
    `enum.bltns`: the clock, randomness, files, dynamic code), or an imported module used as a value (bound
    to another name or passed on: anything could then be reached from it). Resolved on this interpreter's
    copies of the allowed standard modules (nothing of the user's runs here)."""
    aliases: dict[str, types.ModuleType] = {}
    parents: dict[ast.AST, ast.AST] = {}
    for stmt in statements:
        for node in ast.walk(stmt):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
            try:
                if isinstance(node, ast.Import):
                    for a in node.names:
                        name = a.name if a.asname else a.name.split(".")[0]
                        aliases[a.asname or name] = importlib.import_module(name)
                elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                    module = importlib.import_module(node.module)
                    for a in node.names:
                        if a.name.startswith("_") or a.name in EVALUATING:
                            return (f"imports {node.module}.{a.name}: {_NOT_PURE}"), node.lineno
                        value = getattr(module, a.name, None)
                        if isinstance(value, types.ModuleType):
                            if not _allowed_module(value):
                                return (f"reaches module {value.__name__} through {node.module}.{a.name}: only pure "
                                        "standard modules may be used"), node.lineno
                            aliases[a.asname or a.name] = value
            except ImportError:  # the sandbox run says so, with the user's own traceback line
                continue
    for node in parents:
        if not (isinstance(node, ast.Name) and node.id in aliases and isinstance(node.ctx, ast.Load)):
            continue
        target: object = aliases[node.id]
        dotted, top = node.id, node
        while isinstance(parents.get(top), ast.Attribute) and parents[top].value is top:  # type: ignore[union-attr]
            top = parents[top]
            dotted += "." + top.attr  # type: ignore[attr-defined]
            if isinstance(target, types.ModuleType) and (top.attr.startswith("_") or  # type: ignore[attr-defined]
                                                          top.attr in EVALUATING):  # type: ignore[attr-defined]
                return f"uses {dotted}: {_NOT_PURE}", node.lineno
            target = getattr(target, top.attr, None)  # type: ignore[attr-defined]
            if isinstance(target, types.ModuleType) and not _allowed_module(target):
                return (f"reaches module {target.__name__} through {dotted}: only pure standard modules may be "
                        "used"), node.lineno
        if top is node:
            return f"uses module {node.id} as a value: use its functions directly ({node.id}.name)", node.lineno
    return None


DRAW_MODULE = "random"  # the shown program draws each latent with `random.randint` / `random.choice`


def _uses_name(statements: list[ast.stmt], name: str) -> int | None:
    """The line of the first place `name` is used or bound (a name, parameter, def, import alias, except
    or match capture), else None."""
    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.keyword):  # f(random=1) names a parameter of f, binds nothing here
                continue
            names = {getattr(node, attr, None) for attr in ("id", "arg", "asname", "name")}
            if isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
            if name in names:
                return getattr(node, "lineno", None) or stmt.lineno
    return None


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


@dataclass(frozen=True)
class PreparedFunction:
    """A function ready for the sandbox: `program` defines `entry(*inputs, *latents)`."""

    entry: str
    program: str
    line: int


def prepare_function(parsed: ParsedSource, entry: str, inputs: list[str], latents: list[str]
                     ) -> PreparedFunction | Rejection:
    """Select `entry` and what it needs, check the policy, reorder its parameters (inputs, then
    latents; defaults dropped: every parameter is passed), drop its docstring and unparse to
    canonical source (comments go too)."""
    try:
        return _prepare(parsed, entry, inputs, latents)
    except (RecursionError, MemoryError):  # walking, copying or unparsing a pathologically deep tree
        return Rejection(entry, "nested too deeply to analyse")


def _prepare(parsed: ParsedSource, entry: str, inputs: list[str], latents: list[str]) -> PreparedFunction | Rejection:
    if entry in parsed.broken:
        return parsed.broken[entry]
    defs = [s for s in parsed.statements if isinstance(s, ast.FunctionDef) and s.name == entry]
    if not defs:
        other = [s for s in parsed.statements if entry in _bound_names(s)]
        what = "is not a plain function" if other else "is not defined at the top level of the source"
        return Rejection(entry, what, other[0].lineno if other else None)
    fn = defs[-1]
    if len(defs) > 1:  # the prompt draws the latents in one definition; Python runs the last one
        lines = ", ".join(str(d.lineno) for d in defs)
        return Rejection(entry, f"is defined {len(defs)} times (lines {lines}): keep one definition", fn.lineno)
    if fn.decorator_list:  # the sandbox would call the decorator's result, the prompt shows the bare function
        return Rejection(entry, "is decorated: the prompt shows the function, but a call would run what the "
                         "decorator returns; put the decorated code in a helper", fn.lineno)
    a = fn.args
    if a.vararg or a.kwarg or a.kwonlyargs:
        return Rejection(entry, "has *args, **kwargs or keyword-only parameters: only plain parameters "
                         "are supported", fn.lineno)
    params = [p.arg for p in [*a.posonlyargs, *a.args]]
    declared = [*inputs, *latents]
    if sorted(params) != sorted(declared):
        missing = [p for p in params if p not in declared]
        extra = [p for p in declared if p not in params]
        parts = ([f"parameters {missing} are neither inputs nor latents (declare them)"] if missing else [])
        parts += [f"{extra} are not parameters of {entry}{tuple(params)}"] if extra else []
        return Rejection(entry, "; ".join(parts), fn.lineno)
    needed, unbound = closure(parsed.statements, entry)
    broken = sorted(unbound & set(parsed.broken))
    if broken:
        return Rejection(entry, f"uses {broken[0]}, which has a syntax error", fn.lineno)
    violation = policy_violation(needed)
    if violation is not None:
        return Rejection(entry, violation[0], violation[1])
    line = _uses_name(needed, DRAW_MODULE)
    if line is not None:
        return Rejection(entry, f"uses the name {DRAW_MODULE}, which the prompt's program binds to the module "
                         "its latents are drawn with; rename it", line)
    callers = [s for s in needed if entry in _used_names(s)]
    if callers:
        return Rejection(entry, "calls itself: its latent would be drawn anew at each call; "
                         "put the recursion in a helper function", callers[0].lineno)
    needed = copy.deepcopy(needed)  # the rewrite must not leak into other functions' programs
    fn = next(s for s in reversed(needed) if isinstance(s, ast.FunctionDef) and s.name == entry)
    a = fn.args
    first = fn.body[0]
    if len(fn.body) > 1 and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
            first.value.value, str):
        fn.body = fn.body[1:]  # the docstring would sit below the displayed random draws
    by_name = {p.arg: p for p in [*a.posonlyargs, *a.args]}
    fn.args = ast.arguments(posonlyargs=[], args=[by_name[n] for n in declared], vararg=None,
                            kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    program = ast.unparse(ast.fix_missing_locations(ast.Module(body=needed, type_ignores=[])))
    return PreparedFunction(entry, program + "\n", fn.lineno)
