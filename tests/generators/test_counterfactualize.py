"""`cfcode counterfactualize`: ordinary utility functions become problems in the suites' schema, run
only in the Docker sandbox; hostile functions get one rejection line each and never stop the run."""
from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from generators.cli import register
from generators.counterfactualize import Options, SpecError, counterfactualize, function_spec, load_spec
from generators.io import load_problems
from generators.render import answer_text, canonical
from generators.schema import Problem, sort_answer
from generators.user_code import Rejection

pytestmark = pytest.mark.docker

# Ordinary utility code: string handling, list processing, arithmetic with loops, a helper.
CORPUS = '''
import math
from collections import Counter


def caesar(text, shift):
    """Shift lowercase letters."""
    return "".join(chr((ord(c) - 97 + shift) % 26 + 97) for c in text)


def capped_total(xs, cap):
    total = 0
    for x in xs:
        total = min(cap, total + x)
    return total


def digit_sum_mod(n, base, m):
    total = 0
    while n > 0:
        total += n % base
        n //= base
    return total % m


def count_above(xs, threshold):
    return sum(1 for x in xs if x > threshold)


def _pad(s, width, fill):
    return fill * max(0, width - len(s)) + s


def pad_label(width, label, fill):
    return _pad(label, width, fill)


def most_common_shifted(word, k):
    letter, _ = Counter(word).most_common(1)[0]
    return chr((ord(letter) - 97 + k) % 26 + 97) + str(math.isqrt(len(word) * k))
'''

SPECS = [
    ("caesar", {"text": ["abc", "zoo", "hello", "az", "q"]}, {"shift": "0..7"}),
    ("capped_total", {"xs": [[1, 2, 3], [5, 5], [0, 7, 1], [9], [2, 2, 2, 2], []]}, {"cap": "1..9"}),
    ("digit_sum_mod", {"n": "0..60"}, {"base": [2, 3, 10], "m": "2..5"}),
    ("count_above", {"xs": [[1, 5, 9], [2, 2, 8], [0, 3, 6, 9], [4]]}, {"threshold": "0..9"}),
    ("pad_label", {"label": ["ab", "xyz", ""], "width": "0..5"}, {"fill": ["*", "-", "."]}),
    ("most_common_shifted", {"word": ["banana", "apple", "kiwi", "zz"]}, {"k": "0..5"}),
]


def _specs(specs=SPECS):
    return [function_spec(name, ins, lats, "test") for name, ins, lats in specs]


def _run(sb, source=CORPUS, specs=None, **opts):
    lines: list[str] = []
    result = counterfactualize(source, _specs() if specs is None else specs, sb,
                               Options(**{"n": 4, "seed": 3, **opts}), log=lines.append)
    return result, lines


def _direct(problem: Problem, args: dict, combo: tuple):
    """Trusted test corpus only: run the record's program in this process to check the answers."""
    ns: dict = {}
    exec(problem.program, ns)  # noqa: S102 - the test's own corpus, never user input
    return ns[problem.entry](*[args[n] for n in problem.inputs], *combo)


def test_corpus_becomes_exact_problems_in_the_suite_schema(docker_sandbox):
    import itertools

    result, lines = _run(docker_sandbox)
    assert lines == [f"{name}: 4 problems" for name, _, _ in SPECS], lines
    assert len(result.problems) == 24 and len({p.id for p in result.problems}) == 24
    for p in result.problems:
        assert Problem.from_json(p.to_json()) == p
        assert p.family == "custom" and p.mode == "counterfactual" and p.split == "test"
        assert p.python_version == docker_sandbox.python_version
        combos = list(itertools.product(*p.latents.values()))
        (obs,) = p.observations
        iv = p.intervention["args"]
        assert iv != obs["args"]
        fits = [c for c in combos if canonical(_direct(p, obs["args"], c)) == canonical(obs["output"])]
        assert p.answer == sort_answer(_direct(p, iv, c) for c in fits)
        assert len(p.answer) < p.meta["unconditioned_answer_size"]  # abduction matters
        assert p.meta["n_consistent"] == len(fits) and p.meta["function"] == p.entry
        assert "random." in p.prompt and "drawn at random" in p.prompt
        assert p.gold_trace.splitlines()[-1] == f"<answer>{answer_text(p.answer)}</answer>"
    pad = next(p for p in result.problems if p.entry == "pad_label")
    assert "def pad_label(label, width):" in pad.prompt and "fill = random.choice(['*', '-', '.'])" in pad.prompt
    assert "def _pad(" in pad.program and "def caesar" not in pad.program  # only what the function needs
    caesar = next(p for p in result.problems if p.entry == "caesar")
    assert "Shift lowercase" not in caesar.prompt  # the docstring would sit below the random draw


def test_same_seed_same_bytes_other_seed_other_problems(docker_sandbox):
    specs = _specs(SPECS[:3])
    a, _ = _run(docker_sandbox, specs=specs)
    b, _ = _run(docker_sandbox, specs=specs)
    c, _ = _run(docker_sandbox, specs=specs, seed=4)
    assert [p.to_json() for p in a.problems] == [p.to_json() for p in b.problems]
    assert [p.to_json() for p in a.problems] != [p.to_json() for p in c.problems]


def test_interventional_mode_reveals_the_latent(docker_sandbox):
    result, _ = _run(docker_sandbox, specs=_specs(SPECS[:1]), mode="interventional", n=3)
    for p in result.problems:
        assert p.revealed is not None and len(p.answer) == 1
        assert p.answer == [_direct(p, p.intervention["args"], tuple(p.revealed.values()))]


HOSTILE = '''
import math


def fine(x, r):
    total = 0
    for i in range(x):
        total += (i * r) % 7
    return total


def spin(x, r):
    while True:
        x += r


def shell(x, r):
    import os
    return os.system("touch /tmp/pwned")


def hog(x, r):
    block = [0] * (10 ** 10)
    return len(block) + x + r


def missing_import(x, r):
    from math import no_such_thing
    return x + r


def broken(x, r)
    return x + r


def leave(x, r):
    exit(3)


def patch_builtins(x, r):
    __builtins__["len"] = lambda s: 0
    return x + r


def quits_anyway(x, r):
    raise SystemExit(x + r)


def boom(x, r):
    return x // (r - r)


def tuple_out(x, r):
    return (x, r)


def too_deep(x, r):
    value = x + r
    for _ in range(80):
        value = [value]
    return value


def again(x, r):
    return x if x < 1 else again(x - 1, r)


def star(*args):
    return 1
''' + "\n\ndef deep(x, r):\n    return " + "-" * 20000 + "x + r\n"  # crashes CPython's parser stack

HOSTILE_EXPECT = {
    "fine": "problems",
    "spin": "timed out",
    "shell": "imports os",
    "hog": "memory",
    "missing_import": "ImportError",
    "broken": "syntax error",
    "leave": "uses exit",
    "patch_builtins": "uses __builtins__",
    "quits_anyway": "rejected",
    "boom": "ZeroDivisionError",
    "tuple_out": "returned a tuple",
    "too_deep": "returned a list that cannot be a record value: outputs must be plain JSON data (numbers, strings, "
                "bools, None, lists, dicts with string keys) nested at most 50 levels deep",
    "again": "calls itself",
    "star": "*args",
    "deep": "nested too deeply",
}


def test_hostile_functions_each_get_one_rejection_line_and_the_run_goes_on(docker_sandbox):
    specs = [function_spec(name, {"x": "0..6"} if name != "star" else {"args": "0..1"},
                           {"r": "1..4"} if name != "star" else {"q": "0..1"}, "test")
             for name in HOSTILE_EXPECT]
    result, lines = _run(docker_sandbox, source=HOSTILE, specs=specs)
    assert len(lines) == len(HOSTILE_EXPECT)
    for (name, expect), line in zip(HOSTILE_EXPECT.items(), lines):
        assert line.startswith(name) and expect in line, line
        assert ("rejected" in line) == (name != "fine"), line
    assert {p.entry for p in result.problems} == {"fine"} and len(result.problems) == 4


def test_many_looping_functions_never_look_like_a_broken_sandbox(docker_sandbox):
    source = "".join(f"def spin{i}(x, r):\n    while x >= 0:\n        x += r\n\n" for i in range(8))
    source += "def ok(x, r):\n    return (x * r) % 5\n"
    specs = [function_spec(f"spin{i}", {"x": "0..3"}, {"r": "1..3"}, "t") for i in range(8)]
    specs.append(function_spec("ok", {"x": "0..9"}, {"r": "1..6"}, "t"))
    _result, lines = _run(docker_sandbox, source=source, specs=specs, n=2)
    assert all("timed out" in line for line in lines[:8]) and lines[8] == "ok: 2 problems"


def test_spec_errors_are_clear(tmp_path):
    with pytest.raises(SpecError, match=r"test.inputs.x: expected lo..hi"):
        function_spec("f", {"x": "zero to nine"}, {"r": "1..3"}, "test")
    with pytest.raises(SpecError, match=r"empty range"):
        function_spec("f", {"x": "5..1"}, {"r": "1..3"}, "test")
    with pytest.raises(SpecError, match=r"both as inputs and latents"):
        function_spec("f", {"x": "0..3"}, {"x": "1..3"}, "test")
    with pytest.raises(SpecError, match=r"latent combinations"):
        function_spec("f", {"x": "0..3"}, {"r": "1..100", "s": "1..100"}, "test")
    bad = tmp_path / "bad.toml"
    bad.write_text("[functions.f]\ninputs = { x = '0..3' \n")
    with pytest.raises(SpecError, match=r"bad.toml: not valid TOML"):
        load_spec(str(bad))
    bad.write_text("[functions.f]\ninputs = { x = '0..3' }\nlatent = { r = [1, 2] }\n")
    with pytest.raises(SpecError, match=r"unknown keys \['latent'\]"):
        load_spec(str(bad))


app = typer.Typer()
register(app)
runner = CliRunner()


def test_cli_spec_file_to_records_the_env_and_eval_accept(tmp_path, docker_sandbox):
    import gymnasium as gym

    import envs  # noqa: F401
    from rl.evaluation import EvalConfig, evaluate

    src = tmp_path / "utils.py"
    src.write_text(CORPUS + HOSTILE.split("def fine")[0] + "\ndef spin(x, r):\n    while True:\n        pass\n")
    spec = tmp_path / "spec.toml"
    spec.write_text('[functions.caesar]\ninputs = { text = ["abc", "zoo", "hello"] }\nlatents = { shift = "0..5" }\n'
                    '[functions.count_above]\ninputs = { xs = [[1, 5, 9], [2, 2, 8], [0, 3, 6, 9]] }\n'
                    'latents = { threshold = "0..9" }\n'
                    '[functions.spin]\ninputs = { x = "0..3" }\nlatents = { r = [1, 2] }\n')
    out = tmp_path / "custom.jsonl"
    res = runner.invoke(app, ["counterfactualize", str(src), "--spec", str(spec), "--n", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["count"] == 10 and summary["functions"] == {"caesar": 5, "count_above": 5, "spin": "rejected"}
    assert "spin (line" in res.stderr and "timed out" in res.stderr
    first = out.read_bytes()
    res = runner.invoke(app, ["counterfactualize", str(src), "--function", "caesar", "--input",
                              'text=["abc", "zoo", "hello"]', "--latent", "shift=0..5", "-n", "5", "-o",
                              str(tmp_path / "one.jsonl")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "one.jsonl").read_bytes().splitlines() == first.splitlines()[:5]  # CLI options == spec
    problems = load_problems(out)

    env = gym.make("CounterfactualCode-v0", suite=str(out), reward="exact")
    _, info = env.reset(seed=0)
    p = next(q for q in problems if q.id == info["problem_id"])
    _, reward, *_ = env.step(f"<answer>{p.answer!r}</answer>")
    assert reward == 1.0 and info["family"] == "custom"

    result, _ = evaluate(EvalConfig(model="oracle", suites=[str(out)], modes=["counterfactual"]),
                         sandbox=docker_sandbox)
    (group,) = result.groups
    assert group.n_problems == 10 and group.exact_match.mean == 1.0

    from generators.export import export_problems, load_sources

    report = export_problems(load_sources([str(out)]), tmp_path / "exported", ["hf", "verl", "lm_eval"],
                             name="custom", command="test")
    assert report.counts == {"test": 10}


def test_cli_bad_input_exits_with_one_line_and_writes_nothing(tmp_path):
    src = tmp_path / "u.py"
    src.write_text("def f(x, r):\n    while True:\n        pass\n")
    out = tmp_path / "never.jsonl"
    res = runner.invoke(app, ["counterfactualize", str(src), "--function", "f", "--input", "x=1..0",
                              "--latent", "r=0..2", "-o", str(out)])
    assert res.exit_code == 2 and "command line.inputs.x: empty range" in res.stderr and not out.exists()
    res = runner.invoke(app, ["counterfactualize", str(tmp_path / "nope.py"), "--function", "f", "-o", str(out)])
    assert res.exit_code == 2 and "cannot read the source" in res.stderr
    res = runner.invoke(app, ["counterfactualize", str(src), "--function", "f", "--input", "x=0..3",
                              "--latent", "r=0..2", "-o", str(out)])
    assert res.exit_code == 1 and "f (line 1): rejected: timed out" in res.stderr and not out.exists()
    assert "Traceback" not in res.output


@pytest.mark.parametrize("kind", ["directory", "under_a_file"])
def test_cli_out_that_cannot_be_a_file_fails_before_the_sandbox(tmp_path, kind):
    """`--out DIR` ran every function in the sandbox, then died with an IsADirectoryError traceback."""
    src = tmp_path / "u.py"
    src.write_text("def f(x, r):\n    return x * r % 7\n")
    out = tmp_path / "out"
    out.mkdir()
    if kind == "under_a_file":
        (tmp_path / "plain").write_text("")
        out = tmp_path / "plain" / "x.jsonl"
    res = runner.invoke(app, ["counterfactualize", str(src), "--function", "f", "--input", "x=0..3",
                              "--latent", "r=0..3", "-o", str(out)])
    assert res.exit_code == 2, (res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cfcode: error: --out: expected a "), res.stderr
    assert "rejected" not in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("which", ["source", "spec"])
def test_cli_out_that_is_an_input_is_refused(tmp_path, which):
    """`-o utils.py` (or `-o spec.toml`) ran the sandbox and wrote the problems over the user's own file."""
    src = tmp_path / "u.py"
    src.write_text("def f(x, r):\n    return x * r % 7\n")
    spec = tmp_path / "spec.toml"
    spec.write_text('[functions.f]\ninputs = { x = "0..5" }\nlatents = { r = "0..6" }\n')
    before = {p: p.read_bytes() for p in (src, spec)}
    out = tmp_path / "." / (src.name if which == "source" else spec.name)
    res = runner.invoke(app, ["counterfactualize", str(src), "--spec", str(spec), "-o", str(out)])
    assert res.exit_code == 2, (res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out: expected a path other than the input" in lines[0], res.stderr
    assert {p: p.read_bytes() for p in (src, spec)} == before


STATEFUL = '''
import itertools

SEEN = []
COUNTER = itertools.count()


class Box:
    n = 0


def _acc(v, acc=[]):
    acc.append(v)
    return len(acc)


def appends(x, r):
    SEEN.append(x)
    return (x + r + len(SEEN)) % 5


def counts(x, r):
    return (x * r + next(COUNTER)) % 4


def class_state(x, r):
    Box.n += 1
    return (x + r + Box.n) % 3


def default_list(x, r):
    return (x + r + _acc(x)) % 3


def identity(x, r):
    return (id(object()) // 16 + x + r) % 3


def parity(x, r):
    return (x * r + next(COUNTER) % 2) % 5


def pure(x, r):
    return (x * r) % 5
'''


def test_a_function_whose_result_depends_on_earlier_calls_is_rejected(docker_sandbox):
    """The gold must be what the program returns for that call alone (a reviewer, the env and `cfcode eval`
    run calls in other batches and orders): a function that keeps state between calls (a module-level list,
    a counter, a class attribute, a mutable default of a helper) or reads id() had its whole grid run in
    one process, so its records' gold answers were artefacts of the call order (7 of 29 records of such
    functions disagreed with a one-call-per-request brute force). A counter's parity over an odd grid (15
    calls) is the same in the in-order and the reversed run: the check run takes a seeded shuffle instead."""
    names = ["appends", "counts", "class_state", "default_list", "identity", "parity", "pure"]
    specs = [function_spec(name, {"x": "0..4"}, {"r": "1..3"}, "t") for name in names]
    result, lines = _run(docker_sandbox, source=STATEFUL, specs=specs, n=3)
    assert len(lines) == len(names)
    for name, line in zip(names, lines):
        assert line.startswith(name), line
        if name == "pure":
            assert line == "pure: 3 problems", line
        else:
            assert "rejected" in line and "same call" in line, line
    assert {p.entry for p in result.problems} == {"pure"}


def test_outputs_beyond_float_range_sort_exactly(docker_sandbox):
    """Ints past 1e308 were an OverflowError traceback in the answer sort (float(v) as the sort key)."""
    source = "def big(x, r):\n    return 10 ** (x * 100 + r) * (-1) ** r - x\n"
    result, lines = _run(docker_sandbox, source=source,
                         specs=[function_spec("big", {"x": "0..4"}, {"r": "1..3"}, "t")], n=3)
    assert lines == ["big: 3 problems"], lines
    for p in result.problems:
        assert p.answer == sorted(p.answer) == sort_answer(p.answer)
    assert sort_answer([10**400, -(10**400), 3, -(2**53) - 1, -(2**53)]) == [
        -(10**400), -(2**53) - 1, -(2**53), 3, 10**400]


MISSHOWN = '''from __future__ import annotations


def swap(fn):
    def inner(a, b):
        return fn(b, a)
    return inner


@swap
def decorated(x, r):
    return x * 10 + r


def twice(x, r):
    return x - r


def twice(x, r):
    return x + r * 2


def shadows_random(random, r):
    return (random * r) % 5


def rebinds_random(x, r):
    random = x + 1
    return (random * r) % 5


def future(x, r):
    return (x * r) % 5
'''


def test_the_prompt_shows_the_program_the_gold_comes_from(docker_sandbox):
    """The shown program (latents drawn with `random` at the top of the entry) must be the one the gold
    is computed from: a decorated entry was shown as the bare function while the sandbox called the
    decorator's wrapper (arguments swapped: gold of another function); of an entry defined twice the
    prompt drew the latents in the first definition, the second (the one that ran) kept them as
    parameters; an input or local named `random` broke the shown draw (`random.randint` on an int);
    `from __future__` in the source made the shown program a SyntaxError (`import random` put first)."""
    names = ["decorated", "twice", "shadows_random", "rebinds_random", "future"]
    specs = [function_spec(name, {"random" if name == "shadows_random" else "x": "0..4"}, {"r": "1..3"}, "t")
             for name in names]
    result, lines = _run(docker_sandbox, source=MISSHOWN, specs=specs, n=2)
    expect = {"decorated": "decorated", "twice": "defined 2 times", "shadows_random": "name random",
              "rebinds_random": "name random", "future": "future: 2 problems"}
    for name, line in zip(names, lines):
        assert line.startswith(name) and expect[name] in line, line
        assert ("rejected" in line) == (name != "future"), line
    assert {p.entry for p in result.problems} == {"future"}
    for p in result.problems:
        shown = p.prompt.split("```python\n", 1)[1].split("```", 1)[0]
        namespace: dict = {}
        exec(compile(shown, "<shown>", "exec"), namespace)  # noqa: S102 - the test's own source
        assert namespace["future"](**p.observations[0]["args"]) in range(5)


UNREADABLE = '''
def tags(x, r):
    return ["<answer>", "a</answer>", "< / Answer >", "ok"][(x + r) % 4] if x > r else "k"


def empty_dict(x, r):
    return {} if (x * r) % 3 == 0 else {"k": x % 2}


def long_int(x, r):
    return -(10 ** (99 + (x * r) % 3)) + x


def deep(x, r):
    value = x % 2
    for _ in range((x + r) % 7):
        value = [value]
    return value


def many_items(x, r):
    return list(range((x * r) % 5 * 400))
'''


def test_every_gold_answer_can_be_written_in_the_answer_format(docker_sandbox):
    """A gold the answer parser cannot read back is a problem no completion can earn (and an SFT trace that
    teaches an unreadable answer): a string holding an answer tag, an empty dict (`{}` reads as a set),
    a number longer than the parser reads, a value nested deeper than it reads, a list of more items than
    it reads. Such problems are
    dropped; the gold trace of every kept one scores 1.0."""
    from envs.parsing import DEFAULT_LIMITS
    from envs.scoring import score_completion
    from generators import render

    assert (render.ANSWER_MAX_CHARS, render.ANSWER_MAX_VALUES, render.ANSWER_MAX_DEPTH,
            render.ANSWER_MAX_NUMBER_CHARS) == (DEFAULT_LIMITS.max_answer_chars, DEFAULT_LIMITS.max_values,
                                                DEFAULT_LIMITS.max_depth, DEFAULT_LIMITS.max_number_chars)
    names = ["tags", "empty_dict", "long_int", "deep", "many_items"]
    specs = [function_spec(name, {"x": "0..9"}, {"r": "0..6"}, "t") for name in names]
    result, _lines = _run(docker_sandbox, source=UNREADABLE, specs=specs, n=12)
    assert {p.entry for p in result.problems} == set(names)
    for p in result.problems:
        assert score_completion(p, p.gold_trace).reward == 1.0, (p.entry, p.answer)


def test_a_function_whose_answers_cannot_be_written_says_so(docker_sandbox):
    source = "def always_empty(x, r):\n    return {} if (x + r) % 2 else {'k': {}}\n"
    _result, lines = _run(docker_sandbox, source=source,
                          specs=[function_spec("always_empty", {"x": "5..9"}, {"r": "0..3"}, "t")], n=2)
    assert lines == [("always_empty (line 1): rejected: no problem passed the filters: its answers cannot be "
                      "written in or told apart by the answer format (an empty dict (read as a set))")], lines


def test_input_ranges_past_the_machine_word_are_sampled_or_refused_clearly():
    """`0..10**23` (more input points than a C ssize_t counts) was an OverflowError traceback from
    random.sample(range(total)); a bound of 5,000 digits was a ValueError traceback from int()."""
    from generators.counterfactualize import _input_points

    for inputs in ({"x": "0..99999999999999999999999"}, {"x": "0..9999999999", "y": "-9999999999..0"}):
        spec = function_spec("f", inputs, {"r": "0..3"}, "test")
        points = _input_points(spec, Options(max_inputs=40))
        assert len(points) == len(set(points)) == 40 and points == _input_points(spec, Options(max_inputs=40))
        assert all(spec.inputs[name].lo <= v <= spec.inputs[name].hi for p in points for name, v in zip(inputs, p))
    with pytest.raises(SpecError, match=r"test.inputs.x: expected lo..hi with integers of at most"):
        function_spec("f", {"x": "0.." + "9" * 5000}, {"r": "1..3"}, "test")
    with pytest.raises(SpecError, match=r"test.latents.r: expected a JSON list of values, got Exceeds the limit"):
        function_spec("f", {"x": "0..3"}, {"r": "[1" + "0" * 5000 + "]"}, "test")


def test_dict_values_run_in_the_key_order_the_record_keeps(docker_sandbox):
    """Records are written with sorted keys, so a dict argument {"b": 1, "a": 2} reads back as {"a": 2, "b": 1};
    a function that depends on key order had its gold computed with the spec's order: recomputed from the
    written record (and shown in the prompt in another order than the record's) it was another answer."""
    source = "def first(d, r):\n    return list(d)[r % len(d)]\n"
    domain = '[{"b": 1, "a": 2}, {"z": 0, "y": 5, "x": 1}, {"q": 3, "p": 4, "o": 5, "n": 6}]'
    result, lines = _run(docker_sandbox, source=source,
                         specs=[function_spec("first", {"d": domain}, {"r": "0..3"}, "t")], n=4)
    assert lines == ["first: 4 problems"], lines
    import itertools
    for written in result.problems:
        p = Problem.from_json(written.to_json())
        combos = list(itertools.product(*p.latents.values()))
        (obs,) = p.observations
        fits = [c for c in combos if canonical(_direct(p, obs["args"], c)) == canonical(obs["output"])]
        assert p.answer == sort_answer(_direct(p, p.intervention["args"], c) for c in fits), p.id
        assert f"first(d={obs['args']['d']!r})" in p.prompt


ADDRESSES = '''
def heap_repr(x, r):
    return (int(repr(iter([]))[-5:-1], 16) + x * r) % 7


def static_id(x, r):
    return (id(None) // 64 + x * r) % 3


def none_hash(x, r):
    return (hash(None) // 64 + x * r) % 3
'''


def test_a_function_whose_result_depends_on_memory_addresses_is_rejected(docker_sandbox):
    """An address read through an object's repr was the same in the in-order and the reversed run (two
    forks of one runner allocate alike) but another in the next sandbox request: the gold changed from
    one recomputation to the next. id() and hash() (of None, of an object: its address) are refused by
    name; the reversed run allocates a padding first, so heap addresses differ between the two runs."""
    names = ["heap_repr", "static_id", "none_hash"]
    specs = [function_spec(name, {"x": "0..5"}, {"r": "1..3"}, "t") for name in names]
    result, lines = _run(docker_sandbox, source=ADDRESSES, specs=specs, n=3)
    assert result.problems == []
    assert "rejected" in lines[0] and "same call" in lines[0], lines[0]
    assert "rejected: uses id:" in lines[1] and "rejected: uses hash:" in lines[2], lines


REACH = '''
import operator
from operator import attrgetter
import statistics
import typing
import math as m
from enum import bltns
from collections import abc


def clock(x, r):
    return (int(typing.sys.modules["time"].time()) // 86400 + x * r) % 3


def reseeded(x, r):
    statistics.random.seed(x)
    return (statistics.random.randrange(3) + r) % 3


def builtins_open(x, r):
    return len(bltns.open("/etc/hostname").read()) % 3 + x * r


def module_value(x, r):
    lib = m
    return (lib.floor(x / 2) + r) % 3


def fine(x, r):
    return (m.isqrt(x) + r + isinstance(x, abc.Hashable)) % 3


def _stamp(a: "__import__('time').time()"):
    return a


def annotation_eval(x, r):
    return (int(typing.get_type_hints(_stamp)["a"]) // 86400 + x * r) % 3


def private(x, r):
    return (len(typing._sys.argv) + x * r) % 3


def by_name(x, r):
    builtins = operator.attrgetter("__globals__")(by_name)["__builtins__"]
    return (int(builtins["__import__"]("time").time()) // 86400 + x * r) % 3


def by_name_imported(x, r):
    return (attrgetter("real")(x) + r) % 3


def frames(x, r):
    imp = (i for i in [0]).gi_frame.f_builtins["__import__"]
    return (int(imp("time").time()) // 86400 + x * r) % 3
'''


def test_a_module_reached_through_an_allowed_one_is_refused():
    """The allowed modules hold other modules as attributes: typing.sys (sys.modules: time, os),
    statistics.random, enum.bltns (open, eval). A function read the clock through typing.sys.modules
    (a gold that changes at midnight, the same in both grid runs) or files through enum.bltns; an
    imported module bound to a name reaches the same, unseen; typing.get_type_hints evaluates a string
    annotation with the builtins (`__import__('time')` in a string passed the dunder check); a generator's
    gi_frame.f_builtins holds __import__."""
    from generators.user_code import parse_source, prepare_function

    parsed = parse_source(REACH)
    expect = {"clock": "reaches module sys through typing.sys", "reseeded": "reaches module random through "
              "statistics.random", "builtins_open": "reaches module builtins through enum.bltns",
              "module_value": "uses module m as a value", "fine": None,
              "annotation_eval": "uses typing.get_type_hints", "private": "uses typing._sys",
              "by_name": "uses operator.attrgetter", "by_name_imported": "imports operator.attrgetter",
              "frames": "touches the internal attribute .f_builtins"}
    for name, reason in expect.items():
        prepared = prepare_function(parsed, name, ["x"], ["r"])
        if reason is None:
            assert not isinstance(prepared, Rejection), prepared
        else:
            assert isinstance(prepared, Rejection) and reason in prepared.reason, (name, prepared)


def test_text_that_is_not_unicode_never_reaches_a_record(docker_sandbox, tmp_path):
    """A function returning a lone surrogate (chr(0xD800)) made records that could not be written: the
    writer died with a UnicodeEncodeError traceback after the whole run; a domain value "\\ud800" (a valid
    JSON escape) was accepted the same way."""
    from generators.io import write_problems

    with pytest.raises(SpecError, match=r"t.inputs.s: .* is not valid Unicode"):
        function_spec("f", {"s": '["a", "\\ud800"]'}, {"r": "1..3"}, "t")
    source = 'def surrogate(x, r):\n    return chr(0xD800 + r) if x == 5 else (x * r) % 4\n'
    result, lines = _run(docker_sandbox, source=source,
                         specs=[function_spec("surrogate", {"x": "3..6"}, {"r": "1..3"}, "t")], n=4)
    assert lines == ["surrogate: 4 problems"], lines
    write_problems(str(tmp_path / "out.jsonl"), result.problems)
    assert load_problems(str(tmp_path / "out.jsonl")) == result.problems
    for p in result.problems:
        p.to_json().encode("utf-8")  # no lone surrogate anywhere


def test_an_entry_whose_body_opens_with_a_class_or_def_becomes_problems(docker_sandbox):
    """ast.unparse puts a blank line before a nested class or def, so the entry's body started two lines
    below its header: display_program raised ValueError and the whole run died with a traceback."""
    source = ("def nested(x, r):\n    def helper(v):\n        return v * r\n    return helper(x) % 5\n\n\n"
              "def with_class(x, r):\n    class Box:\n        size = 3\n    return (x + r * Box.size) % 4\n\n\n"
              "def ok(x, r):\n    return (x * r) % 3\n")
    specs = [function_spec(name, {"x": "0..5"}, {"r": "1..3"}, "t") for name in ("nested", "with_class", "ok")]
    result, lines = _run(docker_sandbox, source=source, specs=specs, n=2)
    assert lines == ["nested: 2 problems", "with_class: 2 problems", "ok: 2 problems"], lines
    for p in result.problems:
        shown = p.prompt.split("```python\n", 1)[1].split("```", 1)[0]
        namespace: dict = {}
        exec(compile(shown, "<shown>", "exec"), namespace)  # noqa: S102 - the test's own source
        assert f"def {p.entry}(x):\n    r = random.randint(1, 3)\n" in shown


def test_gold_is_the_same_under_the_answer_comparison(docker_sandbox):
    """The answer format compares values as envs.values.value_key does (3.0 is 3, -0.0 is 0, float noise past 12
    digits ignored) and the abduce verifier checks observations that way, but the generator told outputs apart
    by their JSON text: a latent giving 3.0 where 3 was observed was inconsistent for the gold yet consistent
    for the abduce check and for anyone comparing with ==, and [3, 3.0] was an answer of two values. Problems
    whose observation or answer row holds values the two comparisons tell apart differently are dropped."""
    import itertools

    from envs.values import key_set, value_key
    from generators.render import answer_key

    samples = [0, -0.0, 0.0, 3, 3.0, 0.1 + 0.2, 0.3, 1e16, 2**60, float(2**60), True, None, "3", [3, 3.0],
               {"a": 3.0}, [[-0.0]], 1e-13, 2.5]
    for a, b in itertools.product(samples, repeat=2):
        assert (answer_key(a) == answer_key(b)) == (value_key(a) == value_key(b)), (a, b)
    source = "def mixed(x, r):\n    return x // r if r % 2 else x / r\n"
    result, lines = _run(docker_sandbox, source=source,
                         specs=[function_spec("mixed", {"x": "0..9"}, {"r": "1..4"}, "t")], n=6)
    assert result.problems, lines
    for p in result.problems:
        combos = list(itertools.product(*p.latents.values()))
        (obs,) = p.observations
        fits = [c for c in combos if value_key(_direct(p, obs["args"], c)) == value_key(obs["output"])]
        want = key_set(_direct(p, p.intervention["args"], c) for c in fits)
        assert key_set(p.answer) == want and len(p.answer) == len(want), p.id
    source = "def always_mixed(x, r):\n    return x % 3 + r // 3 if r % 2 else float(x % 3 + r // 3)\n"
    _result, lines = _run(docker_sandbox, source=source,
                          specs=[function_spec("always_mixed", {"x": "0..5"}, {"r": "1..4"}, "t")], n=2)
    assert lines == [("always_mixed (line 1): rejected: no problem passed the filters: its answers cannot be written "
                      "in or told apart by the answer format (outputs such as 3 and 3.0, which the answer "
                      "comparison takes as equal)")], lines
