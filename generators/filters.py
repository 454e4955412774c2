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
    "answer_size",  # counterfactual answer set outside [min_answer_size, max_answer_size]
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

    def merge(self, other: FilterStats) -> None:
        self.drafted += other.drafted
        self.accepted += other.accepted
        self.rejected.update(other.rejected)


def _normalized_tree(source: str) -> ast.AST:
    """Parse, drop docstrings, and rename user-defined identifiers to v0, v1, ... in breadth-first
    order of appearance (builtins kept), so the tree no longer depends on names or layout."""
    tree = ast.parse(source)
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        return name if name in _BUILTINS else names.setdefault(name, f"v{len(names)}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = rename(node.id)
        elif isinstance(node, ast.arg):
            node.arg = rename(node.arg)
            node.annotation = None
        elif isinstance(node, ast.FunctionDef):
            node.name = rename(node.name)
            node.returns = None
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def _dump(node: object, skeleton: bool) -> str:
    """Compact structural text of a tree (much faster than ast.dump); constants become their type
    name in skeleton mode."""
    if isinstance(node, ast.AST):
        if skeleton and isinstance(node, ast.Constant):
            return f"Constant({type(node.value).__name__})"
        return node.__class__.__name__ + "(" + ",".join(_dump(getattr(node, f, None), skeleton)
                                                        for f in node._fields) + ")"
    if isinstance(node, list):
        return "[" + ",".join(_dump(n, skeleton) for n in node) + "]"
    return repr(node)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def program_hashes(*sources: str | None) -> tuple[str, str]:
    """(program hash, skeleton hash) from one parse: see `program_hash` and `skeleton_hash`."""
    tree = _normalized_tree("\n".join(s for s in sources if s))
    return _digest(_dump(tree, False)), _digest(_dump(tree, True))


def program_hash(*sources: str | None) -> str:
    """Normalized-AST hash: identical up to identifier names, comments, docstrings and layout."""
    return program_hashes(*sources)[0]


def skeleton_hash(*sources: str | None) -> str:
    """Structural template hash: like `program_hash` but every constant is abstracted to its type."""
    return program_hashes(*sources)[1]


def find_latent_leaks(
    prompt: str, true_latents: dict[str, Any], labels: dict[str, str] | None = None
) -> list[str]:
    """Places where the prompt states a latent's actual value: `r = 3`, `r is 3`, `r was 3`,
    `r equals 3` (also with the latent's story label). Comparisons such as `r == 3` in code are
    structure, not a leak, and are not matched."""
    leaks = []
    for name, value in true_latents.items():
        value_text = re.escape(json.dumps(value) if isinstance(value, str) else repr(value))
        alt_value = re.escape(repr(value))
        for who in filter(None, [name, (labels or {}).get(name)]):
            pattern = (
                rf"(?<![\w.]){re.escape(who)}\s*(?:(?<![=!<>])=(?!=)|\bis\b|\bwas\b|\bequals\b|:)\s*"
                rf"(?:{value_text}|{alt_value})(?!\w|\.\d)"
            )
            for m in re.finditer(pattern, prompt):
                leaks.append(m.group(0))
    return leaks
