"""Counterfactual problem generators: families of programs y = f(x, r) turned into exact,
leak-free abduction-intervention-prediction problems, plus the frozen held-out suites.

    from generators import FAMILIES, generate, load_problems, write_problems, load_suite
"""
from generators import families as _families  # noqa: F401  (registers every family)
from generators.family import FAMILIES, Draft, FamilyConfig, FamilySpec, PromptContext, register_family
from generators.io import load_problems, write_problems
from generators.pipeline import GenerationResult, build_item, generate, generate_with_stats
from generators.render import ANSWER_INSTRUCTIONS
from generators.schema import MODES, SCHEMA_VERSION, Problem, sort_answer
from generators.suites import load_suite, load_train_set
from generators.version import GENERATOR_VERSION

__all__ = [
    "ANSWER_INSTRUCTIONS",
    "FAMILIES",
    "GENERATOR_VERSION",
    "MODES",
    "SCHEMA_VERSION",
    "Draft",
    "FamilyConfig",
    "FamilySpec",
    "GenerationResult",
    "Problem",
    "PromptContext",
    "build_item",
    "generate",
    "generate_with_stats",
    "load_problems",
    "load_suite",
    "load_train_set",
    "register_family",
    "sort_answer",
    "write_problems",
]
