"""Attacks on the rewards: only the right answer pays, in every mode, through the env, the TRL
reward function and the shared verifier; one hostile record cannot change another record's reward;
malformed dataset columns stop with one line naming the column and the row.

Sandbox-backed checks run on both backends.
"""
from __future__ import annotations

import json

import gymnasium as gym
import pytest
from tests.envs.envs_problems import make_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the env ids)
from envs import make_reward_fn, score_batch, score_completion, trl_rows
from envs.scoring import reachable_job
from envs.values import key_set
from generators import load_suite
from generators.render import answer_text
from sandbox import run_jobs

BACKENDS = ["local_sandbox", pytest.param("docker_sandbox", marks=pytest.mark.docker)]


@pytest.fixture(scope="session")
def docker_sandbox():
    from sandbox import make_sandbox

    with make_sandbox("docker") as sb:
        yield sb


def ans(values) -> str:
    return f"Reasoning.\n<answer>{answer_text(values)}</answer>"


# -- class 5: an impossible value never earns more than possible values ----------------------------
def test_gsm_reachable_minus_one_impossible_value_earns_less_than_an_honest_partial_answer(local_sandbox):
    """The reported case: gsm counterfactual test problem, gold 3 values, 5 reachable."""
    problem = next(p for p in load_suite("gsm", "counterfactual")
                   if len(p.answer) == 3 and p.meta.get("unconditioned_answer_size") == 5)
    (reach,) = run_jobs(local_sandbox, [reachable_job(problem)])
    reachable = sorted(set(reach.values))
    impossible = [v for v in reachable if v not in problem.answer]
    assert len(reachable) == 5 and len(impossible) == 2
    hack = [v for v in reachable if v != impossible[0]]  # 3 gold + 1 impossible: plain F1 = 0.857
    honest = problem.answer[:2]  # two of the three right values: F1 = 0.8
    hack_score = score_completion(problem, ans(hack), reward="f1", sandbox=local_sandbox)
    honest_score = score_completion(problem, ans(honest), reward="f1", sandbox=local_sandbox)
    assert honest_score.reward == pytest.approx(0.8)
    assert hack_score.reward == 0.0 < honest_score.reward
    fn = make_reward_fn("f1", sandbox=local_sandbox)
    assert fn([ans(hack), ans(honest)], problem=[problem.to_json()] * 2) == [0.0, pytest.approx(0.8)]


values_ = st.integers(-4, 12)


@st.composite
def gold_and_answers(draw, interventional: bool):
    reachable = draw(st.sets(values_, min_size=2, max_size=8))
    gold = {draw(st.sampled_from(sorted(reachable)))} if interventional else draw(
        st.sets(st.sampled_from(sorted(reachable)), min_size=1, max_size=len(reachable)))
    possible = draw(st.sets(st.sampled_from(sorted(gold)), max_size=len(gold)))
    impossible = draw(st.sets(values_.filter(lambda v: v not in gold), min_size=1, max_size=6))
    with_bad = draw(st.sets(st.sampled_from(sorted(gold)), max_size=len(gold))) | impossible
    return sorted(gold), sorted(possible), sorted(with_bad)


@settings(max_examples=300, deadline=None)
@given(st.data())
@pytest.mark.parametrize("mode", ["counterfactual", "interventional"])
def test_property_impossible_values_never_beat_possible_ones(mode, data):
    gold, possible, with_bad = data.draw(gold_and_answers(mode == "interventional"))
    problem = make_problem("prop:gate", answer=gold, mode=mode,
                           revealed={"r": 4} if mode == "interventional" else None)
    fn = make_reward_fn("f1")
    for reward in ("exact", "f1"):
        bad = score_completion(problem, ans(with_bad), reward=reward)
        good = score_completion(problem, ans(possible), reward=reward)
        assert bad.reward <= good.reward and bad.f1 <= good.f1, (gold, possible, with_bad, reward)
        assert bad.reward == 0.0
    assert fn([ans(with_bad), ans(possible)], problem=[problem.to_json()] * 2)[0] == 0.0
    from envs.scoring import partial_credit

    assert partial_credit(key_set(with_bad), key_set(gold)) == 0.0


@settings(max_examples=25, deadline=None)
@given(st.integers(-3, 8), st.integers(0, 5))
@pytest.mark.parametrize("backend", BACKENDS)
def test_property_abduce_pays_only_consistent_latents(backend, request, x0, r_true):
    """abduce: f(x, r) = (x*r) % 6; an inconsistent r never earns more than a consistent one."""
    sandbox = request.getfixturevalue(backend)
    y0 = (x0 * r_true) % 6
    problem = make_problem("prop:abduce", observations=[{"args": {"x": x0}, "output": y0}])
    consistent = {r for r in range(6) if (x0 * r) % 6 == y0}
    completions = [ans([r]) for r in range(6)]
    for reward in ("exact", "f1"):
        scores = score_batch([problem] * 6, completions, reward=reward, sandbox=sandbox, question="abduce")
        assert [s.reward for s in scores] == [float(r in consistent) for r in range(6)]
        assert all(s.verifier_error is None for s in scores)


# -- answers in every odd form: only the right set pays -------------------------------------------
@pytest.mark.parametrize(("problem_kw", "text", "pays"), [
    ({}, "<answer>[2, 2, 5, 5]</answer>", True),  # duplicates collapse: same set
    ({}, "<answer>[2, 5]</answer> no wait <answer>[2, 5, 0]</answer>", False),  # the last block counts
    ({}, "<answer>[0, 1, 2, 3, 4, 5]</answer>", False),
    ({}, "<answer>[2.0, 5.0]</answer>", True),  # 1.0 is 1
    ({}, "<answer>[True, 5]</answer>", False),  # True is not 1
    ({"answer": [True, False]}, "<answer>[1, 0]</answer>", False),
    ({"answer": [True, False]}, "<answer>[True, False]</answer>", True),
    ({}, "<answer>[NaN, 2, 5]</answer>", False),
    ({}, "<answer>[nan]</answer>", False),
    ({}, "<answer>[1e999, 2, 5]</answer>", False),
    ({"answer": [0]}, "<answer>[1e-400]</answer>", False),  # not zero, though float() underflows to 0.0
    ({"answer": [0]}, "<answer>[0e5]</answer>", True),
    ({}, "<answer>[\u0662, \u0665]</answer>", False),  # Arabic-Indic digits are not numbers here
    ({}, "<answer>[\uff12, \uff15]</answer>", False),  # fullwidth digits
    ({}, "<answer>[[2, 5]]</answer>", False),  # a nested list is one value, not the set
    ({"answer": [[1, 2], [3]]}, "<answer>[(1, 2), [3]]</answer>", True),
    ({"answer": [[1, 2], [3]]}, "<answer>[[1, 2], [3], [1, 2, 3]]</answer>", False),
    ({}, "<answer>" + ", ".join(str(i) for i in range(100_000)) + "</answer>", False),  # huge
    ({}, "<answer>" + "[" * 5000 + "]" * 5000 + "</answer>", False),
    ({}, "<answer>['2', '5']</answer>", False),
    ({}, "<answer>2,005</answer>", False),  # 2005 with a thousands separator, not [2, 5]
    ({"answer": [0, 1]}, "<answer>[1,000]</answer>", False),
    ({}, "<answer>[02, 05]</answer>", False),
    ({"answer": [[2], [5]]}, "<answer>[(2), (5)]</answer>", False),  # (2) is 2, as Python reads it
    ({}, "<answer>[(2), (5)]</answer>", True),
    ({"answer": ["\\5"]}, "<answer>['\\5']</answer>", False),  # '\5' is chr(5), as in Python
    ({"answer": ["\\5"]}, "<answer>['\\\\5']</answer>", True),
    ({"answer": ["C:\\a"]}, "<answer>['C:\\a']</answer>", False),  # '\a' is the bell
])
def test_only_the_right_answer_pays_in_any_form(problem_kw, text, pays):
    problem = make_problem("form:case", **problem_kw)
    env = gym.make("CounterfactualCode-v0", suite=_suite_file(problem), reward="f1")
    env.reset(options={"problem_id": problem.id})
    _, env_reward, *_ = env.step(text)
    expected = 1.0 if pays else 0.0
    assert env_reward == expected
    for reward in ("exact", "f1"):
        assert make_reward_fn(reward)([text], problem=[problem.to_json()]) == [expected]
        assert score_completion(problem, text, reward=reward).reward == expected


_SUITES: dict[str, str] = {}


def _suite_file(problem) -> str:
    import tempfile

    key = problem.to_json()
    if key not in _SUITES:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
            fh.write(key + "\n")
        _SUITES[key] = fh.name
    return _SUITES[key]


def test_echoing_the_prompt_earns_nothing(mod_problem):
    """The prompt's format example is not the answer; an echo of the prompt is a wrong answer."""
    (row,) = trl_rows([mod_problem], style="plain")
    assert make_reward_fn("f1")([row["prompt"]], problem=[row["problem"]]) == [0.0]


# -- TRL dataset columns: one clear line naming the column and the row -----------------------------
def _row_with(mod_problem, **changes) -> str:
    data = json.loads(mod_problem.to_json())
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(("changes", "field"), [
    ({"answer": "01"}, "answer"),
    ({"answer": 5}, "answer"),
    ({"latents": [0, 1, 2]}, "latents"),
    ({"latents": "r"}, "latents"),
    ({"observations": "f(2) = 2"}, "observations"),
    ({"program": 12}, "program"),
    ({"mode": "interventional", "revealed": {"zz": 1}}, "revealed"),  # abduce_predict raised KeyError: 'r'
    ({"mode": "interventional", "revealed": {"r": 99}}, "revealed.r"),  # outside r's domain
    ({"answer": json.loads("[" * 600 + "]" * 600)}, "answer"),  # scoring raised RecursionError
    ({"latents": {"r": [json.loads("[" * 600 + "]" * 600)]}}, "latents"),
])
def test_malformed_problem_column_is_one_clear_error(mod_problem, changes, field):
    from envs.trl_reward import DatasetColumnError

    fn = make_reward_fn("f1")
    rows = [mod_problem.to_json(), _row_with(mod_problem, **changes)]
    with pytest.raises(DatasetColumnError) as info:
        fn(["<answer>['0', '1']</answer>"] * 2, problem=rows)
    message = str(info.value)
    assert "column 'problem'" in message and "row 1" in message and field in message
    assert "\n" not in message


def test_problem_objects_are_validated_too(mod_problem):
    from envs.trl_reward import DatasetColumnError

    forged = make_problem("hand:trl:forged", answer="01")  # a Problem built in code, never validated
    with pytest.raises(DatasetColumnError, match=r"column 'problem', row 0: answer: expected list"):
        make_reward_fn("exact")(["<answer>['0', '1']</answer>"], problem=[forged])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"question": ["predict", "guess"]}, r"column 'question', row 1: expected one of"),
    ({"question": "predict"}, r"column 'question': expected one question per row"),
    ({"problem": "not a list"}, r"column 'problem': expected a list"),
    ({"problem": [{"id": "x"}, {"id": "y"}]}, r"column 'problem', row 0: expected a JSON problem record"),
])
def test_other_bad_columns(mod_problem, kwargs, match):
    from envs.trl_reward import DatasetColumnError

    columns = {"problem": [mod_problem.to_json()] * 2, **kwargs}
    with pytest.raises(DatasetColumnError, match=match):
        make_reward_fn("f1")(["<answer>[2, 5]</answer>"] * 2, **columns)


# -- class 2: one hostile record cannot change another record's reward -----------------------------
HOSTILE = ("import builtins\n"
           "builtins.abs = lambda v: 2\n"
           "def f(x, r):\n    return 0\n")
CLEAN = "def f(x, r):\n    return abs(x * r) % 6\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_row_cannot_make_a_wrong_abduction_pay(backend, request):
    """f(2, r) = 2 holds for r in {1, 4}; r = 0 is wrong, unless a patched abs() answers 2 for it."""
    sandbox = request.getfixturevalue(backend)
    clean = make_problem("clean:abduce", program=CLEAN)
    hostile = make_problem("hostile:abduce", program=HOSTILE, observations=[{"args": {"x": 2}, "output": 0}])
    fn = make_reward_fn("exact", sandbox=sandbox)
    rows = [hostile.to_json(), clean.to_json(), clean.to_json()]
    assert fn([ans([0]), ans([0]), ans([4])], problem=rows, question=["abduce"] * 3) == [1.0, 0.0, 1.0]
    assert fn([ans([0]), ans([4])], problem=rows[1:], question=["abduce"] * 2) == [0.0, 1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_row_cannot_make_listing_everything_pay_now_or_later(backend, request):
    """The reported TRL batch: a hostile row, then a clean row answering every reachable output."""
    sandbox = request.getfixturevalue(backend)
    # f(2, r) = |2 - r| = 1: r in {1, 3}; at x = 5 the gold is {2, 4}; every r in 0..5 reaches 0..5
    clean = make_problem("clean:reach", program="def f(x, r):\n    return abs(x - r)\n", meta={},
                         observations=[{"args": {"x": 2}, "output": 1}], answer=[2, 4])
    hostile = make_problem("hostile:reach", meta={}, program=(  # abs() answers 99: "nothing covers it"
        "import builtins\nbuiltins.abs = lambda v: 99\ndef f(x, r):\n    return 0\n"))
    fn = make_reward_fn("f1", sandbox=sandbox)
    everything = ans([0, 1, 2, 3, 4, 5])
    assert fn([ans([2, 4]), ans([4])], problem=[clean.to_json()] * 2) == [1.0, pytest.approx(2 / 3)]
    assert fn([everything, everything], problem=[hostile.to_json(), clean.to_json()]) == [0.0, 0.0]
    assert fn([everything], problem=[clean.to_json()]) == [0.0]  # later batch, without the hostile row


@pytest.mark.parametrize("backend", BACKENDS)
def test_oracle_baseline_unaffected_by_a_hostile_record(backend, request):
    """The reported eval file: one hostile record, then 20 honest ones; the oracle must get all 20."""
    from rl.evaluation.baselines import BaselinePolicy

    sandbox = request.getfixturevalue(backend)
    honest = load_suite("if_else", "counterfactual")[:20]
    hostile = make_problem("hostile:oracle", program=(  # the runner checks results with json
        "import json\n"
        "json.dumps = lambda *a, **k: '[]'\n"
        "def f(x, r):\n    return 0\n"), meta={})
    answers = BaselinePolicy("oracle", sandbox).answers([hostile, *honest])
    assert [key_set(a) for a in answers[1:]] == [key_set(p.answer) for p in honest]


# -- completions that are not the model's own plain text ------------------------------------------
class _SlicesToGold(str):
    """A str whose slices lie: the text says [9], every slice says [2, 5]."""

    def __getitem__(self, key):
        return "[2, 5]"

    def __format__(self, spec):
        return "<answer>[2, 5]</answer>"


class _GetsGold(dict):
    """A user message whose get() claims to be the assistant's answer."""

    def get(self, key, default=None):
        return {"role": "assistant", "content": GOLD_TEXT}.get(key, default)

    __getitem__ = get


class _IteratesToGold(list):
    """A list of messages (or content parts) whose iteration lies: it yields the assistant's gold answer."""

    def __iter__(self):
        return iter([{"role": "assistant", "type": "text", "content": GOLD_TEXT, "text": GOLD_TEXT}])


class _TupleIteratesToGold(tuple):
    def __iter__(self):
        return iter([{"role": "assistant", "content": GOLD_TEXT}])


GOLD_TEXT = "<answer>[2, 5]</answer>"
NOT_THE_ASSISTANTS_TEXT = [
    [{"role": "user", "content": GOLD_TEXT}],  # the answer in the prompt's role
    [{"role": "system", "content": GOLD_TEXT}],
    [{"role": "tool", "content": GOLD_TEXT}],  # a tool's reply is not the model's answer
    {"role": "tool", "content": GOLD_TEXT},
    [{"role": None, "content": GOLD_TEXT}],
    [{"role": "assistant", "content": "no idea"}, {"role": "tool", "content": GOLD_TEXT}],
    [{"role": "assistant", "content": [{"type": "reasoning", "text": GOLD_TEXT}, {"type": "text", "text": "?"}]}],
    [{"role": "assistant", "content": "", "reasoning_content": GOLD_TEXT}],
    [{"role": "assistant", "content": [{"type": "text", "text": 5}, {"type": "text", "text": None}]}],
    _SlicesToGold("<answer>[9]</answer>"),
    [{"role": "assistant", "content": _SlicesToGold("<answer>[9]</answer>")}],
    [_GetsGold(role="user", content="<answer>[9]</answer>")],
    [{"role": "assistant", "content": [_GetsGold(type="reasoning", text="<answer>[9]</answer>")]}],
    _IteratesToGold([{"role": "user", "content": "<answer>[9]</answer>"}]),  # its items, not its __iter__
    _TupleIteratesToGold(({"role": "user", "content": "<answer>[9]</answer>"},)),
    [{"role": "assistant", "content": _IteratesToGold([{"type": "reasoning", "text": "<answer>[9]</answer>"}])}],
]


@pytest.mark.parametrize("completion", NOT_THE_ASSISTANTS_TEXT, ids=range(len(NOT_THE_ASSISTANTS_TEXT)))
def test_only_the_assistants_own_text_is_scored(mod_problem, completion):
    """Only the assistant's last message, as plain text, can answer; anything else earns 0, never an error."""
    env = gym.make("CounterfactualCode-v0", suite=_suite_file(mod_problem), reward="f1")
    env.reset(options={"problem_id": mod_problem.id})
    _, env_reward, *_ = env.step(completion)
    assert env_reward == 0.0
    for reward in ("exact", "f1"):
        assert make_reward_fn(reward)([completion], problem=[mod_problem.to_json()]) == [0.0]
        assert score_completion(mod_problem, completion, reward=reward).reward == 0.0
        assert score_batch([mod_problem], [completion], reward=reward)[0].reward == 0.0
    # the same answer as the assistant's own message pays
    assistant = [{"role": "assistant", "content": [{"type": "text", "text": GOLD_TEXT}]}]
    responses_api = [{"role": "assistant", "content": [{"type": "output_text", "text": GOLD_TEXT}]}]
    assert make_reward_fn("exact")([assistant, responses_api, GOLD_TEXT],
                                   problem=[mod_problem.to_json()] * 3) == [1.0, 1.0, 1.0]


# -- abduce: a latent value that makes the program fail is wrong, not a verifier failure ------------
CRASHES_FOR_SOME_R = ("def f(x, r):\n"
                      "    if r == 0:\n        import os\n        os._exit(3)\n"  # crashes its process
                      "    if r == 5:\n        return 'x' * 5_000_000\n"  # output over the cap
                      "    return (x * r) % 6\n")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_latent_that_crashes_the_program_is_wrong_not_masked(backend, request):
    """f(2, r) = 2 holds for r in {1, 4}. r = 0 kills the process and r = 5 floods the output: the
    program did that, so those answers are wrong (0.0), not verifier failures the TRL reward masks."""
    sandbox = request.getfixturevalue(backend)
    problem = make_problem("crash:abduce", program=CRASHES_FOR_SOME_R)
    fn = make_reward_fn("exact", sandbox=sandbox)
    completions = [ans([r]) for r in (0, 5, 4)]
    assert fn(completions, problem=[problem.to_json()] * 3, question=["abduce"] * 3) == [0.0, 0.0, 1.0]
    scores = score_batch([problem] * 2, completions[:2], sandbox=sandbox, question="abduce")
    assert all(s.verifier_error is None and "program failed" in s.error for s in scores)


# -- info is the caller's to keep: changing it changes no later reward ----------------------------
LIST_PROGRAM = "def f(x, r):\n    return [x % 2, r % 2]\n"  # f(2, r) = [0, 1]: r in {1, 3}; f(5, r) = [1, 1]


@pytest.mark.parametrize("question", ["predict", "abduce_predict"])
def test_changing_a_steps_info_changes_no_later_episode(question):
    """info["gold"] (and gold_latents) held the pool's own nested lists: a caller that edited its info
    edited the problem every later episode is scored against (abduce_predict then paid for the edit)."""
    problem = make_problem("info:alias", program=LIST_PROGRAM, latents={"r": [0, 1, 2, 3]},
                           observations=[{"args": {"x": 2}, "output": [0, 1]}], answer=[[1, 1]])
    right = "<latents>[1, 3]</latents> <answer>[[1, 1]]</answer>"
    edited = "<latents>[1, 3]</latents> <answer>[[1, 1, 'edited']]</answer>"

    def step(text):
        env = gym.make("CounterfactualCode-v0", suite=_suite_file(problem), question=question,
                       sandbox_backend="local")
        env.reset(options={"problem_id": problem.id})
        _, reward, *_, info = env.step(text)
        return reward, info

    reward, info = step(right)
    assert reward == 1.0 and info["gold"] == [[1, 1]]
    info["gold"][0].append("edited")
    for combo in info.get("gold_latents") or []:
        combo.append("edited")
    reward, info = step(right)
    assert reward == 1.0 and info["gold"] == [[1, 1]]
    assert step(edited)[0] < 1.0


def test_a_suite_file_rewritten_in_place_is_scored_against_its_new_gold(tmp_path):
    """Pools were cached by the suite's path: an env made after the file was rewritten (a new round of
    problems under the same ids) still scored against the old gold, so the old answer paid and the right one not."""
    path = tmp_path / "round.jsonl"
    path.write_text(make_problem("round:1").to_json() + "\n")

    def step(text):
        env = gym.make("CounterfactualCode-v0", suite=str(path))
        env.reset(options={"problem_id": "round:1"})
        return env.step(text)[1]

    assert step("<answer>[2, 5]</answer>") == 1.0
    path.write_text(make_problem("round:1", program="def f(x, r):\n    return 0\n", answer=[0],
                                 observations=[{"args": {"x": 2}, "output": 0}]).to_json() + "\n")
    assert step("<answer>[2, 5]</answer>") == 0.0
    assert step("<answer>[0]</answer>") == 1.0


class _BatchLies(list):
    """A batch (of completions, generations or queries) whose iteration and indexing say the gold answer."""

    def __iter__(self):
        return iter([GOLD_TEXT] * list.__len__(self))

    def __getitem__(self, index):
        return GOLD_TEXT


def test_a_batch_whose_iteration_lies_is_read_by_its_items(mod_problem):
    from envs.adapters import lm_eval, openrlhf, verl

    wrong = _BatchLies(["<answer>[9]</answer>"])
    assert score_batch([mod_problem], wrong)[0].reward == 0.0
    assert make_reward_fn("exact")(wrong, problem=[mod_problem.to_json()]) == [0.0]
    assert lm_eval.process_results({"record": mod_problem.to_json()}, wrong)["exact_match"] == 0.0
    assert verl.compute_score_batch(["cf"], wrong, [mod_problem.to_json()])[0]["score"] == 0.0
    query = _BatchLies([mod_problem.prompt + "<answer>[9]</answer>"])
    assert openrlhf.reward_func(query, [mod_problem.prompt], [mod_problem.to_json()])["rewards"].tolist() == [0.0]
    assert make_reward_fn("exact")([GOLD_TEXT], problem=[mod_problem.to_json()]) == [1.0]


class _SlicesToGoldAnswer(str):
    def __getitem__(self, key):
        return GOLD_TEXT

    def startswith(self, *args):
        return True


def test_openrlhf_reads_a_querys_plain_characters(mod_problem):
    """The response was cut out of the query with the query's own methods: a str subclass sliced to the gold."""
    from envs.adapters import openrlhf

    query = _SlicesToGoldAnswer(mod_problem.prompt + "<answer>[9]</answer>")
    prompt = _SlicesToGoldAnswer(mod_problem.prompt)
    assert openrlhf.reward_func([query], [prompt], [mod_problem.to_json()])["rewards"].tolist() == [0.0]


def test_a_huge_record_is_scored_but_not_kept(mod_problem):
    """Record caches kept every label whole (key and parsed problem): a dataset of large records (a 1 MB
    program each) grew the reward's memory by ~2 MB per row, up to 16,384 rows. Large ones are parsed each time."""
    from envs.adapters import _labels, verl
    from envs.trl_reward import _problem_from_json

    big = make_problem("hand:big", program=mod_problem.program + "# " + "x" * 1_000_000 + "\n").to_json()
    before = (_labels._from_json.cache_info().currsize, _problem_from_json.cache_info().currsize)
    for _ in range(2):
        assert verl.compute_score("cf", "<answer>[2, 5]</answer>", big)["score"] == 1.0
        assert make_reward_fn("exact")(["<answer>[2, 5]</answer>"], problem=[big]) == [1.0]
    assert (_labels._from_json.cache_info().currsize, _problem_from_json.cache_info().currsize) == before
