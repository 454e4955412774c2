"""Property tests for the five beyond-paper families (multi_obs, recursion, helper_calls, do_internal, data).

The answer of every generated problem is re-derived by the tests' independent brute force
(tests/generators/brute_force.py: its own enumeration of the domain and consistency check, one plain
sandbox request per program instead of the pipeline's packed runner). Generation runs through the real LocalSandbox backend (the
session-wide `sandbox` fixture of tests/generators/conftest.py).
"""
from __future__ import annotations

import ast
import itertools
import json
import re
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generators import FAMILIES, Problem, generate, sort_answer
from generators.pipeline import Exclusions, draft_item, generate_with_stats
from generators.schema import MODES
from tests.generators.brute_force import brute_force

EXTRA = ("multi_obs", "recursion", "helper_calls", "do_internal", "data")
PER_RUN = 3  # problems per generated batch: enough to exercise a family, cheap on 2 cores
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _generate(sandbox, family: str, mode: str, seed: int, level: int, n: int = PER_RUN) -> list[Problem]:
    return generate_with_stats(family, mode, n, seed=seed, level=level, split="test", sandbox=sandbox,
                               exclusions=Exclusions()).problems


def _load(source: str, entry: str):
    namespace: dict[str, Any] = {}
    exec(compile(source, "<test program>", "exec"), namespace)  # noqa: S102 - test-only oracle
    return namespace[entry]


def _brute_force(p: Problem, sandbox) -> list[Any]:
    """The answer from first principles (the tests' one oracle, tests/generators/brute_force.py): latents
    consistent with *every* observation, then the (possibly rewritten) program at the intervention inputs."""
    answer, _ = brute_force(p, sandbox)
    return sort_answer(json.loads(key) for key in answer)


families = st.sampled_from(EXTRA)
modes = st.sampled_from(MODES)
seeds = st.integers(min_value=0, max_value=10_000)
levels = st.integers(min_value=1, max_value=5)


# ------------------------------------------------------------------ shared properties


@SETTINGS
@given(family=families, mode=modes, seed=seeds, level=levels)
def test_answer_matches_brute_force_and_schema(
    sandbox, family: str, mode: str, seed: int, level: int
) -> None:
    for p in _generate(sandbox, family, mode, seed, level):
        assert p.answer == _brute_force(p, sandbox)
        assert p.answer == sort_answer(p.answer) and len(p.answer) >= 1
        assert Problem.from_json(p.to_json()) == p
        assert (p.family, p.mode, p.level, p.split) == (family, mode, level, "test")
        assert p.meta["role"] == "ood/beyond_paper"
        assert p.meta["template_id"].startswith(f"{family}/")
        assert list(p.intervention["args"]) == p.inputs
        assert all(list(o["args"]) == p.inputs for o in p.observations)
        assert p.gold_trace.rstrip().endswith(f"<answer>{_answer_text(p.answer)}</answer>")
        # the observations really are what the true latents produce
        true = draft_item(family, mode, seed, p.meta["idx"], level=level).true_latents
        f = _load(p.program, p.entry)
        for o in p.observations:
            assert f(*o["args"].values(), *(true[n] for n in p.latents)) == o["output"]
        if mode == "interventional":
            assert p.revealed == true
        else:
            assert p.revealed is None
            assert len(p.answer) < p.meta["unconditioned_answer_size"]  # abduction matters
            assert not _leaks(p.prompt, true)


def _answer_text(values: list[Any]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def _leaks(prompt: str, latents: dict[str, Any]) -> list[str]:
    """Independent leak check: `name = value`, `name is value`, `name was value`, `name: value`."""
    found = []
    for name, value in latents.items():
        texts = {repr(value), json.dumps(value)}
        for text in texts:
            pattern = (rf"(?<![\w.]){re.escape(name)}\s*(?:=(?!=)|\bis\b|\bwas\b|\bequals\b|:)\s*"
                       rf"{re.escape(text)}(?![\w.])")
            found += re.findall(pattern, prompt)
    return found


@pytest.mark.parametrize("family", EXTRA)
def test_same_seed_gives_byte_identical_output(sandbox, family: str) -> None:
    for mode in MODES:
        a = [p.to_json() for p in _generate(sandbox, family, mode, seed=11, level=3, n=4)]
        b = [p.to_json() for p in _generate(sandbox, family, mode, seed=11, level=3, n=4)]
        c = [p.to_json() for p in _generate(sandbox, family, mode, seed=12, level=3, n=4)]
        assert a == b
        assert a != c


@pytest.mark.parametrize("family", EXTRA)
def test_registration_levels_and_knob_validation(family: str) -> None:
    spec = FAMILIES[family]
    assert (spec.paper, spec.ood, spec.math) == (False, True, False)
    assert sorted(spec.levels) == [1, 2, 3, 4, 5]
    for level in spec.levels:
        spec.config(level)  # every level validates
    with pytest.raises(ValueError, match="unknown knobs"):
        spec.config(3, no_such_knob=1)
    with pytest.raises(ValueError):
        spec.config(3, latent_max=10_000)


def test_counterfactual_prompt_never_names_the_true_latent(sandbox) -> None:
    """Deterministic sweep over all families: no counterfactual prompt states the hidden values."""
    for family in EXTRA:
        for p in _generate(sandbox, family, "counterfactual", seed=5, level=5, n=8):
            true = draft_item(family, "counterfactual", 5, p.meta["idx"], level=5).true_latents
            assert not _leaks(p.prompt, true)
            assert "random draw was" not in p.prompt and "random draws were" not in p.prompt


# ------------------------------------------------------------------ family-specific properties


@SETTINGS
@given(seed=seeds, level=levels)
def test_multi_obs_has_several_distinct_observations(sandbox, seed: int, level: int) -> None:
    cfg = FAMILIES["multi_obs"].config(level)
    for p in _generate(sandbox, "multi_obs", "counterfactual", seed, level):
        xs = [o["args"]["x"] for o in p.observations]
        assert len(xs) == cfg.n_observations >= 2
        assert len(set(xs + [p.intervention["args"]["x"]])) == len(xs) + 1
        assert len(p.latents) == cfg.n_latents >= 2


def test_multi_obs_later_observations_usually_narrow_the_answer(sandbox) -> None:
    """The point of the family: the first observation alone leaves more possibilities than all of them."""
    problems = _generate(sandbox, "multi_obs", "counterfactual", seed=2, level=3, n=30)
    narrowed = 0
    for p in problems:
        first_only = _brute_force(
            Problem.from_json(json.dumps({**p.to_dict(), "observations": p.observations[:1]})), sandbox
        )
        assert set(map(json.dumps, p.answer)) <= set(map(json.dumps, first_only))
        narrowed += len(first_only) > len(p.answer)
    assert narrowed >= len(problems) // 2, (
        f"only {narrowed}/{len(problems)} problems need the extra observations"
    )


@SETTINGS
@given(seed=seeds, level=levels)
def test_recursion_depth_is_bounded_for_every_domain_value(sandbox, seed: int, level: int) -> None:
    for p in _generate(sandbox, "recursion", "counterfactual", seed, level):
        f = _load(p.program, p.entry)
        deepest = 0
        for args in [o["args"] for o in p.observations] + [p.intervention["args"]]:
            for combo in itertools.product(*p.latents.values()):
                deepest = max(deepest, _max_call_depth(f, [*args.values(), *combo]))
        # the entry frame plus at most max_recursion_depth recursive frames, far below Python's limit
        assert deepest <= p.meta["max_recursion_depth"] + 1 <= 40
        helpers = {
            fn.name: fn
            for fn in ast.parse(p.program).body
            if isinstance(fn, ast.FunctionDef) and fn.name != p.entry
        }
        assert any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in helpers
            for fn in helpers.values()
            for n in ast.walk(fn)
        ), "nothing recurses"


def _max_call_depth(fn, args: list[Any]) -> int:
    depth = deepest = 0

    def profile(frame, event, arg):
        nonlocal depth, deepest
        if frame.f_code.co_filename != "<test program>":
            return
        if event == "call":
            depth += 1
            deepest = max(deepest, depth)
        elif event == "return":
            depth -= 1

    sys.setprofile(profile)
    try:
        fn(*args)
    finally:
        sys.setprofile(None)
    return deepest


@SETTINGS
@given(seed=seeds, level=levels)
def test_helper_calls_chain_has_the_configured_length(sandbox, seed: int, level: int) -> None:
    cfg = FAMILIES["helper_calls"].config(level)
    for p in _generate(sandbox, "helper_calls", "interventional", seed, level):
        functions = [n for n in ast.parse(p.program).body if isinstance(n, ast.FunctionDef)]
        assert len(functions) == cfg.chain + 1
        called = {
            n.func.id
            for fn in functions
            for n in ast.walk(fn)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert {fn.name for fn in functions if fn.name != p.entry} <= called  # every helper is on the chain
        assert p.meta["helpers"][0] in {
            n.func.id
            for n in ast.walk(functions[[f.name for f in functions].index(p.entry)])
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }


@SETTINGS
@given(seed=seeds, level=levels, mode=modes)
def test_do_internal_rewrites_exactly_the_forced_variable(sandbox, seed: int, level: int, mode: str) -> None:
    for p in _generate(sandbox, "do_internal", mode, seed, level):
        ((var, value),) = p.intervention["internal"].items()
        assert (p.meta["intervened_variable"], p.meta["forced_value"]) == (var, value)
        before = ast.parse(p.program).body[0].body
        after = ast.parse(p.intervention["program"]).body[0].body
        assert len(before) == len(after)
        changed = [(b, a) for b, a in zip(before, after) if ast.dump(b) != ast.dump(a)]
        assert len(changed) == 1
        original, forced = changed[0]
        assert ast.unparse(forced) == f"{var} = {value!r}"
        assert var in {t.id for n in ast.walk(original) if isinstance(n, ast.Assign) for t in n.targets}
        assert var not in {
            t.id
            for s in after
            if s is not forced
            for n in ast.walk(s)
            if isinstance(n, ast.Assign)
            for t in n.targets
        }
        assert f"{var} = {value}" in p.prompt
        assert p.intervention["program"] not in p.prompt  # the model must do the rewrite itself


@SETTINGS
@given(seed=seeds, level=levels, mode=modes)
def test_data_answers_are_strings_or_lists(sandbox, seed: int, level: int, mode: str) -> None:
    for p in _generate(sandbox, "data", mode, seed, level):
        kind = p.meta["kind"]
        expected = str if kind == "str" else list
        assert all(isinstance(v, expected) for v in p.answer)
        assert json.loads(json.dumps(p.answer)) == p.answer
        arg = p.inputs[0]
        assert isinstance(p.intervention["args"][arg], expected)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    family=st.sampled_from(("data", "helper_calls", "recursion", "multi_obs")),
    seed=seeds,
    level=levels,
    idx=st.integers(min_value=0, max_value=500),
)
def test_gold_trace_explanations_agree_with_execution(family: str, seed: int, level: int, idx: int) -> None:
    """The generator narrates runs from its own model of the program; that model must match Python."""
    d = draft_item(family, "counterfactual", seed, idx, level=level)
    f = _load(d.program, d.entry)
    for args in [*d.observations, d.intervention]:
        actual = f(*args.values(), *d.true_latents.values())
        text = d.explain(args, dict(d.true_latents))
        assert re.search(rf"(?:= |returns ){re.escape(repr(actual))}\)?$", text), (text, actual)


def test_generate_rejects_bad_knobs_clearly() -> None:
    with pytest.raises(ValueError, match="depth_max"):
        generate("recursion", "counterfactual", 1, seed=0, depth_max=500)
    with pytest.raises(ValueError, match="n_latents"):
        generate("multi_obs", "counterfactual", 1, seed=0, n_latents=1)
    with pytest.raises(ValueError, match="kind"):
        generate("data", "counterfactual", 1, seed=0, kind="float")


# ------------------------------------------------------------------ do_internal regressions

DO_INTERNAL_DRAFTS = [(level, idx) for level in range(1, 6) for idx in range(12)]


def _instrumented(source: str) -> tuple[Any, dict[int, set[bool]]]:
    """The entry with every `if` condition recorded (id of the if -> outcomes seen) and returning
    its locals, so a test can see branch coverage and internal values without the generator's IR."""
    tree = ast.parse(source)
    for i, node in enumerate(n for n in ast.walk(tree) if isinstance(n, ast.If)):
        node.test = ast.Call(ast.Name("_hit", ast.Load()), [ast.Constant(i), node.test], [])
    fn = tree.body[0]
    fn.body[-1] = ast.Return(ast.Call(ast.Name("locals", ast.Load()), [], []))
    seen: dict[int, set[bool]] = {}

    def hit(i: int, value: Any) -> Any:
        seen.setdefault(i, set()).add(bool(value))
        return value

    namespace: dict[str, Any] = {"_hit": hit}
    exec(compile(ast.fix_missing_locations(tree), "<instrumented>", "exec"), namespace)  # noqa: S102
    n_ifs = sum(isinstance(n, ast.If) for n in ast.walk(tree))
    return namespace[fn.name], {i: seen.setdefault(i, set()) for i in range(n_ifs)}


@pytest.mark.parametrize(("level", "idx"), DO_INTERNAL_DRAFTS)
def test_do_internal_has_no_dead_branches(level: int, idx: int) -> None:
    """Every `if` of the original program takes both sides somewhere in the input x latent domain
    (no `if r >= 14` with r in 0..9)."""
    d = draft_item("do_internal", "counterfactual", 3, idx, level=level)
    f, seen = _instrumented(d.program)
    x_max = FAMILIES["do_internal"].config(level).x_max
    for x in range(x_max + 1):
        for combo in itertools.product(*d.latents.values()):
            f(x, *combo)
    assert all(outcomes == {True, False} for outcomes in seen.values()), (d.program, seen)


@pytest.mark.parametrize(("level", "idx"), DO_INTERNAL_DRAFTS)
def test_do_internal_never_forces_the_value_the_variable_already_had(level: int, idx: int) -> None:
    d = draft_item("do_internal", "interventional", 4, idx, level=level)
    f, _ = _instrumented(d.program)
    (var, value), = d.internal.items()
    observed_run = f(*d.observations[0].values(), *d.true_latents.values())
    assert observed_run[var] != value, (d.program, var, value)


@pytest.mark.parametrize(("level", "idx"), DO_INTERNAL_DRAFTS)
def test_do_internal_narrates_the_original_and_the_rewritten_program(level: int, idx: int) -> None:
    d = draft_item("do_internal", "counterfactual", 5, idx, level=level)
    assert d.explain is not None and d.explain_intervention is not None
    f, g = _load(d.program, d.entry), _load(d.intervention_program, d.entry)
    (var, value), = d.internal.items()
    lat = dict(d.true_latents)
    for args in [*d.observations, d.intervention]:
        assert d.explain(args, lat).endswith(f"= {f(*args.values(), *lat.values())!r}")
    forced_text = d.explain_intervention(d.intervention, lat)
    assert forced_text.endswith(f"= {g(*d.intervention.values(), *lat.values())!r}")
    assert re.search(rf"(?:^|; ){var} = {value}(?:;|$)", forced_text), forced_text
    assert not re.search(rf"(?:^|; ){var} = {value}(?:;|$)", d.explain(d.intervention, lat))


@pytest.mark.parametrize("mode", MODES)
def test_do_internal_gold_trace_predicts_with_the_rewritten_program(sandbox, mode: str) -> None:
    for p in _generate(sandbox, "do_internal", mode, seed=8, level=3, n=4):
        (var, value), = p.intervention["internal"].items()
        abduction, prediction = p.gold_trace.split("Step 2 - intervention")
        forced = re.compile(rf"[(;] ?{var} = {value}[;)]")
        assert forced.search(prediction.split("Step 3 - prediction")[1]), p.gold_trace
        assert not forced.search(abduction), p.gold_trace
        x0 = p.observations[0]["args"]["x"]
        step2 = prediction.splitlines()[0]
        assert "set x" not in step2 and f"x = {x0} stays as observed" in step2, step2  # level 3: x unchanged
