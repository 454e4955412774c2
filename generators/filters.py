"""Quality filters: normalized-AST hashes (dedupe, train/test separation, template identity) and
latent-leak detection. Each rejection reason is counted per run in `FilterStats`."""
from __future__ import annotations

import ast
import builtins
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_BUILTINS = frozenset(dir(builtins)) | {"random"}

# Rejection reasons, in the order they are checked.
REASONS = (
    "program_error",  # raised for some latent value
    "program_timeout",  # timed out (or ran out of memory / crashed) for some latent value
    "unsupported_output",  # returned something that is not plain JSON data
    "no_abduction",  # the observation does not narrow the counterfactual answer set
    "duplicate",  # normalized program already produced in this run
    "test_overlap",  # normalized program belongs to a frozen test suite (train split only)
    "train_template",  # OOD family drafted a training template skeleton
    "latent_leak",  # counterfactual prompt reveals a latent value
)


@dataclass
class FilterStats:
    """Per-run counts: how many drafts were made, accepted, and rejected for each reason."""

    drafted: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)

    def reject(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        self.rejected[reason] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"drafted": self.drafted, "accepted": self.accepted,
                "rejected": {r: self.rejected.get(r, 0) for r in REASONS}}

    def merge(self, other: "FilterStats") -> None:
        self.drafted += other.drafted
        self.accepted += other.accepted
        self.rejected.update(other.rejected)


class _Normalizer(ast.NodeTransformer):
    """Renames user-defined identifiers to v0, v1, ... in order of first appearance (builtins kept);
    optionally replaces every constant by its type, giving the program's structural skeleton."""

    def __init__(self, skeleton: bool) -> None:
        self.skeleton = skeleton
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name in _BUILTINS:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._rename(node.name)
        if (node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
                and isinstance(node.body[0].value.value, str)):
            node.body = node.body[1:] or [ast.Pass()]  # docstrings carry no structure
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self.skeleton:
            return ast.Constant(value=type(node.value).__name__)
        return node


def _hash_tree(source: str, skeleton: bool) -> str:
    tree = _Normalizer(skeleton).visit(ast.parse(source))
    text = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def program_hash(*sources: str | None) -> str:
    """Normalized-AST hash: identical up to identifier names, comments, docstrings and layout."""
    return _hash_tree("\n".join(s for s in sources if s), skeleton=False)


def skeleton_hash(*sources: str | None) -> str:
    """Structural template hash: like `program_hash` but every constant is abstracted to its type."""
    return _hash_tree("\n".join(s for s in sources if s), skeleton=True)


def find_latent_leaks(prompt: str, true_latents: dict[str, Any], labels: dict[str, str] | None = None) -> list[str]:
    """Places where the prompt states a latent's actual value: `r = 3`, `r is 3`, `r was 3`,
    `r equals 3` (also with the latent's story label). Comparisons such as `r == 3` in code are
    structure, not a leak, and are not matched."""
    leaks = []
    for name, value in true_latents.items():
        value_text = re.escape(json.dumps(value) if isinstance(value, str) else repr(value))
        alt_value = re.escape(repr(value))
        for who in filter(None, [name, (labels or {}).get(name)]):
            pattern = (rf"(?<![\w.]){re.escape(who)}\s*(?:(?<![=!<>])=(?!=)|\bis\b|\bwas\b|\bequals\b|:)\s*"
                       rf"(?:{value_text}|{alt_value})(?![\w.])")
            for m in re.finditer(pattern, prompt):
                leaks.append(m.group(0))
    return leaks
