"""Counterfactual problem generators: families of programs y = f(x, r) turned into exact,
leak-free abduction-intervention-prediction problems, plus the frozen held-out suites.

    from generators import FAMILIES, generate, load_problems, write_problems, load_suite
"""
from generators import families as _families  # noqa: F401  (registers every family)
from generators.errors import (
    EXIT_CODE,
    InputError,
    MissingInputError,
    check_backend,
    check_distinct_output,
    check_input_file,
    check_output_dir,
    check_output_file,
    cli_errors,
    describe,
    fail,
    output_errors,
    print_error,
)
from generators.family import (
    FAMILIES,
    Draft,
    FamilyConfig,
    FamilySpec,
    PromptContext,
    get_family,
    register_family,
)
from generators.frozen import (
    TRAIN_FAMILY,
    TRAIN_MODE,
    check_outside_suites,
    load_suite,
    load_train_set,
    suites_dir,
)
from generators.io import iter_problems, load_problems, staged_dir, write_problems
from generators.pipeline import GenerationResult, build_item, generate, generate_with_stats
from generators.render import (
    ANSWER_INSTRUCTIONS,
    TRACE_STYLES,
    answer_text,
    call_text,
    compact_trace,
    display_program,
    value_text,
)
from generators.schema import LEVELS, MODES, SCHEMA_VERSION, Problem, latent_combinations, sort_answer
from generators.suites import SuiteSpec
from generators.toml_files import TomlSyntaxError, read_toml, toml_locator
from generators.typecheck import build_dataclass, check_count, check_fields, check_ranges
from generators.version import GENERATOR_VERSION

__all__ = [
    "ANSWER_INSTRUCTIONS",
    "EXIT_CODE",
    "FAMILIES",
    "GENERATOR_VERSION",
    "LEVELS",
    "MODES",
    "SCHEMA_VERSION",
    "TRACE_STYLES",
    "TRAIN_FAMILY",
    "TRAIN_MODE",
    "Draft",
    "FamilyConfig",
    "FamilySpec",
    "GenerationResult",
    "InputError",
    "MissingInputError",
    "Problem",
    "PromptContext",
    "SuiteSpec",
    "TomlSyntaxError",
    "answer_text",
    "build_dataclass",
    "build_item",
    "call_text",
    "check_backend",
    "check_count",
    "check_distinct_output",
    "check_fields",
    "check_ranges",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "check_outside_suites",
    "cli_errors",
    "compact_trace",
    "describe",
    "display_program",
    "fail",
    "generate",
    "generate_with_stats",
    "get_family",
    "iter_problems",
    "latent_combinations",
    "load_problems",
    "load_suite",
    "load_train_set",
    "output_errors",
    "print_error",
    "read_toml",
    "register_family",
    "sort_answer",
    "staged_dir",
    "suites_dir",
    "toml_locator",
    "value_text",
    "write_problems",
]
