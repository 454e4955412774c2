"""Wording of prompts and gold traces (render.py) on hand-made drafts: cases families produce that
the property tests do not read word by word. Outputs here are written by hand for a tiny program
(`f(x, r) = (x + r) % 3`), so every expected value can be checked by eye."""
from __future__ import annotations

from typing import Any

import pytest

from generators.family import Draft, ExecutedDraft, PromptContext
from generators.render import code_prompt, gold_trace
from generators.schema import latent_combinations

PROGRAM = "def f(x, r):\n    return (x + r) % 3\n"


def _f(x: int, r: int) -> int:
    return (x + r) % 3


def _draft(observed_xs: list[int], x1: int, **extra: Any) -> Draft:
    return Draft(program=PROGRAM, entry="f", inputs=["x"], latents={"r": [0, 1, 2]},
                 observations=[{"x": x} for x in observed_xs], intervention={"x": x1},
                 true_latents={"r": 1}, template_id="test/tiny", **extra)


def _trace(draft: Draft, mode: str, internal: dict[str, Any] | None = None) -> str:
    combos = latent_combinations(draft.latents)
    factual = [[_f(o["x"], r) for (r,) in combos] for o in draft.observations]
    observations = [{"args": o, "output": _f(o["x"], 1)} for o in draft.observations]
    consistent = [k for k in range(len(combos))
                  if all(f[k] == o["output"] for f, o in zip(factual, observations))]
    intervened = [_f(draft.intervention["x"], r) for (r,) in combos]
    intervention: dict[str, Any] = {"args": dict(draft.intervention)}
    if internal:
        intervention["internal"] = internal
    revealed = dict(draft.true_latents) if mode == "interventional" else None
    answer = sorted({intervened[k] for k in consistent}) if revealed is None else [intervened[1]]
    return gold_trace(ExecutedDraft(draft, mode, combos, factual, intervened, observations, intervention,
                                    consistent, answer, revealed))


@pytest.mark.parametrize(("n_obs", "expected"), [(1, "In that call the random draw was: r = 1."),
                                                 (3, "In all 3 calls the random draw was: r = 1.")])
def test_interventional_prompt_fits_the_number_of_calls(n_obs: int, expected: str) -> None:
    observations = [{"args": {"x": x}, "output": _f(x, 1)} for x in range(n_obs)]
    ctx = PromptContext(mode="interventional", observations=observations, intervention={"args": {"x": 5}},
                        revealed={"r": 1}, display_program=PROGRAM)
    prompt = code_prompt(ctx, "f", {"r": [0, 1, 2]})
    assert expected in prompt
    if n_obs > 1:
        assert "In that call" not in prompt


@pytest.mark.parametrize("mode", ["counterfactual", "interventional"])
def test_intervention_step_names_only_what_changes(mode: str) -> None:
    changed = _trace(_draft([4], 5), mode)
    assert "Step 2 - intervention: set x = 5," in changed
    forced_only = _trace(_draft([4], 4), mode, internal={"y": 7})
    expected = "Step 2 - intervention: force y = 7 inside the function and x = 4 stays as observed,"
    assert expected in forced_only
    assert "set x" not in forced_only
    both = _trace(_draft([4], 5), mode, internal={"y": 7})
    assert "Step 2 - intervention: set x = 5 and force y = 7 inside the function," in both


@pytest.mark.parametrize("mode", ["counterfactual", "interventional"])
def test_prediction_step_uses_explain_intervention_and_falls_back_to_explain(mode: str) -> None:
    split = _draft([4], 5, explain=lambda a, lat: f"ORIGINAL x={a['x']} r={lat['r']}",
                   explain_intervention=lambda a, lat: f"REWRITTEN x={a['x']} r={lat['r']}")
    abduction, prediction = _trace(split, mode).split("Step 3 - prediction")
    assert "ORIGINAL x=4 r=1" in abduction and "REWRITTEN" not in abduction
    assert "REWRITTEN x=5 r=1" in prediction and "ORIGINAL" not in prediction
    plain = _draft([4], 5, explain=lambda a, lat: f"ORIGINAL x={a['x']} r={lat['r']}")
    assert "ORIGINAL x=5 r=1" in _trace(plain, mode).split("Step 3 - prediction")[1]
