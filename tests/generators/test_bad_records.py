"""The one validator in library use: records (every reader), knobs (typed by the family config)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators import load_problems
from generators.errors import InputError, MissingInputError
from generators.family import get_family
from generators.schema import Problem, RecordError

ROOT = Path(__file__).resolve().parents[2]
LINE = (ROOT / "suites/test/do_internal.counterfactual.jsonl").open(encoding="utf-8").readline()


def test_valid_records_round_trip_unchanged():
    problem = Problem.from_json(LINE)
    assert problem.to_json() == LINE.strip()
    assert Problem.from_dict(json.loads(LINE)) == problem


@pytest.mark.parametrize("field, value, message", [
    ("answer", "01", "answer: expected list, got str '01'"),  # was read as ['0', '1'] by the TRL reward
    ("latents", [0, 1], "latents: expected dict"),
    ("intervention", {"args": {"x": 1}, "program": "def f(:"}, "intervention.program: expected Python source"),
    ("intervention", {"args": {}, "internal": 3}, "intervention.internal: expected dict"),
    ("mode", "sideways", "mode: expected one of"),
    ("level", 3.0, "level: expected int, got float 3.0"),
])
def test_bad_field_is_a_record_error_naming_where_and_what(field, value, message):
    data = {**json.loads(LINE), field: value}
    with pytest.raises(RecordError, match=None) as info:
        Problem.from_dict(data, where="rows.jsonl:7")
    assert str(info.value).startswith("rows.jsonl:7: ") and message in str(info.value)
    assert isinstance(info.value, ValueError)  # callers that catch ValueError keep working


def test_problem_column_of_the_wrong_type_is_a_record_error():
    with pytest.raises(RecordError, match="expected a JSON object as text, got dict"):
        Problem.from_json(json.loads(LINE))


def test_missing_file_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(MissingInputError) as info:
        load_problems(tmp_path / "none.jsonl")
    assert isinstance(info.value, FileNotFoundError)


def test_knobs_are_typed_by_the_family_config():
    recursion, do_internal, gsm = get_family("recursion"), get_family("do_internal"), get_family("gsm")
    assert recursion.parse_knobs(["shapes=linear,halving"]) == {"shapes": "linear,halving"}  # str: verbatim
    assert recursion.parse_knobs(["shapes=1"]) == {"shapes": "1"}
    assert do_internal.parse_knobs(["branch_prob=1"]) == {"branch_prob": 1}  # an int is a valid float
    assert gsm.parse_knobs(["extra_step=true"]) == {"extra_step": True}
    with pytest.raises(InputError, match="extra_step: expected bool, got int 1"):
        gsm.parse_knobs(["extra_step=1"])
    with pytest.raises(InputError, match="latent_max: expected int, got float 1.5"):
        get_family("if_else").config(3, latent_max=1.5)
    with pytest.raises(InputError, match="expr_depth: expected int, got float 1.5"):
        get_family("if_else").config(3, expr_depth=1.5)  # was accepted: 1 <= 1.5 <= 3
