"""Bad input through the real `cfcode` command: one line on stderr, exit code 2, nothing written.

Each case runs `.venv/bin/cfcode` in a subprocess (the console script a user runs, so the central
handler in cfcode_cli.py is exercised too) with one malformed input: a problem record with one wrong
field, a bad knob, a bad TOML config, a corrupted suites manifest, or a file that is empty, not JSON,
not UTF-8, a directory or missing. Every case must fail before heavy work (no model, no sandbox).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CFCODE = Path(sys.executable).parent / "cfcode"
GOOD_RECORD = json.loads((ROOT / "suites/test/if_else.counterfactual.jsonl").open(encoding="utf-8").readline())
TIMEOUT_S = 60
FAKE_CONFIG = '{"model_type": "qwen2"}'  # a model folder's config.json as far as the pre-flight checks read it


def fake_model_dir(tmp_path):
    """A folder that passes the model pre-flight (config.json with a model_type) and holds no weights."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(FAKE_CONFIG)
    return model


def run_cfcode(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([str(CFCODE), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False,
                          timeout=TIMEOUT_S)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    line = lines[0]
    assert line.startswith("cfcode: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


# ------------------------------------------------------------------------------ problem records

def _record(**changes) -> dict:
    rec = json.loads(json.dumps(GOOD_RECORD))
    for key, value in changes.items():
        if value is _DROP:
            del rec[key]
        else:
            rec[key] = value
    return rec


_DROP = object()

RECORD_CASES = {
    "answer_int": (_record(answer=5), "answer: expected list, got int 5"),
    "answer_str": (_record(answer="01"), "answer: expected list, got str"),
    "latents_list": (_record(latents=[0, 1, 2]), "latents: expected dict"),
    "latents_empty_domain": (_record(latents={"r": []}), "latents.r: expected a non-empty list"),
    "latents_domain_int": (_record(latents={"r": 3}), "latents.r: expected list"),
    "program_int": (_record(program=7), "program: expected str, got int 7"),
    "program_syntax": (_record(program="def f(x, r:\n    return x"), "program: expected Python source"),
    "entry_undefined": (_record(entry="g"), "entry: expected a function defined in program"),
    "observations_str": (_record(observations="x=1"), "observations: expected list"),
    "observation_args_list": (_record(observations=[{"args": [1], "output": 3}]), "observations[0].args"),
    "observation_no_output": (_record(observations=[{"args": {"x": 1}}]), "observations[0].output"),
    "observations_empty": (_record(observations=[]), "observations: expected at least one"),
    "intervention_args_int": (_record(intervention={"args": 1}), "intervention.args: expected dict"),
    "level_word": (_record(level="three"), "level: expected int, got str 'three'"),
    "level_range": (_record(level=9), "level: expected an integer 1-5"),
    "level_bool": (_record(level=True), "level: expected int, got bool"),
    "mode_sideways": (_record(mode="sideways"), "mode: expected one of 'counterfactual', 'interventional'"),
    "split_bad": (_record(split="validation"), "split: expected one of 'train', 'test'"),
    "family_unknown": (_record(family="nope"), "family: expected a known family"),
    "inputs_int": (_record(inputs=[1]), "inputs[0]: expected str"),
    "id_int": (_record(id=5), "id: expected str"),
    "revealed_list": (_record(revealed=[1]), "revealed: expected dict"),
    "meta_str": (_record(meta="m"), "meta: expected dict"),
    "schema_version": (_record(schema_version=99), "schema_version: expected 1"),
    "missing_answer": (_record(answer=_DROP), "answer: missing required field"),
    "unknown_field": (_record(bogus=1), "unknown fields ['bogus']"),
    "array_not_object": ([1, 2], "expected a JSON object"),
    # a lone UTF-16 surrogate (valid JSON, not Unicode) passed every check and failed when eval wrote its
    # samples, after the whole run, with a UnicodeEncodeError traceback and an empty --out left behind
    "id_lone_surrogate": (_record(id="p\ud800"), "id: expected text without lone UTF-16 surrogates"),
    "nested_lone_surrogate": (_record(meta={"k": ["\udc80"]}), "meta.k[0]: expected text without lone UTF-16"),
    # 400**3 latent combinations: the oracle baseline (and the verifier) enumerated them without end
    "latents_too_many_combinations": (
        _record(program="def f(x, r, s, t):\n    return x + r + s + t\n", inputs=["x"],
                latents={"r": list(range(400)), "s": list(range(400)), "t": list(range(400))}),
        "latents: expected at most 100000 latent combinations, got 64000000"),
}


@pytest.mark.parametrize("case", sorted(RECORD_CASES))
def test_bad_record_is_one_line_naming_file_line_and_field(tmp_path, case):
    record, expected = RECORD_CASES[case]
    path = tmp_path / "bad.jsonl"
    good = json.dumps(GOOD_RECORD)
    path.write_text(good + "\n" + json.dumps(record) + "\n", encoding="utf-8")  # line 2 is the bad one
    out = tmp_path / "out"
    result = run_cfcode(["eval", "--model", "oracle", "--suites", str(path), "--sandbox", "local",
                         "--out", str(out)], tmp_path)
    assert_one_line_error(result, f"{path}:2: ", expected)
    assert not out.exists()


FILE_CASES = {
    "empty": (b"", "empty file"),
    "blank_lines": (b"\n\n", "empty file"),
    "not_json": (b'{"id": "x", oops}\n', ":1: not JSON"),
    "truncated_json": (json.dumps(GOOD_RECORD)[:200].encode() + b"\n", ":1: not JSON"),
    "not_utf8": (b'{"id": "\xff\xfe"}\n', ":1: expected UTF-8 text"),
    # JSON keeps the last of two equal keys: the second "answer" silently replaced the gold answer
    "duplicate_key": (json.dumps(GOOD_RECORD)[:-1].encode() + b', "answer": [999]}\n',
                      ":1: expected each key once per object, got 'answer' twice"),
    # a line of hundreds of MB (or a GB) was read whole, then decoded and parsed: memory ran out
    "line_too_long": (b'{"id": "' + b"x" * (17 << 20) + b'"}\n', ":1: expected a line of at most 16 MiB"),
    "duplicate_nested_key": (json.dumps(GOOD_RECORD).replace('"latents": {', '"latents": {"r": [5], ', 1).encode()
                             + b"\n", ":1: expected each key once per object, got 'r' twice"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_problem_file_is_one_line(tmp_path, case):
    content, expected = FILE_CASES[case]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    out = tmp_path / "out"
    result = run_cfcode(["eval", "--model", "oracle", "--suites", str(path), "--sandbox", "local",
                         "--out", str(out)], tmp_path)
    assert_one_line_error(result, str(path), expected)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo"])
def test_problem_file_missing_or_a_directory(tmp_path, kind):
    path = tmp_path / "problems.jsonl"
    if kind == "directory":
        path.mkdir()
    if kind == "fifo":  # was "(no such file)" for a FIFO that exists
        os.mkfifo(path)
    result = run_cfcode(["eval", "--model", "oracle", "--suites", str(path), "--out", str(tmp_path / "out")],
                        tmp_path)
    assert_one_line_error(result, str(path), {"directory": "directory", "missing": "no such file",
                                              "fifo": "expected a regular JSONL file of problems, got a FIFO"}[kind])
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ knobs and generate

GENERATE_CASES = {
    "int_knob_float": (["--knob", "latent_max=1.5"], "--knob: latent_max: expected int, got float 1.5"),
    "depth_knob_float": (["--knob", "expr_depth=1.5"], "--knob: expr_depth: expected int, got float 1.5"),
    "int_knob_bool": (["--knob", "nesting=true"], "nesting: expected int, got bool True"),
    "int_knob_word": (["--knob", "x_max=big"], "x_max: expected int, got str 'big'"),
    "unknown_knob": (["--knob", "depth=2"], "unknown knobs ['depth']; known knobs: ['const_max'"),
    "knob_no_value": (["--knob", "nesting"], "--knob: expected NAME=VALUE"),
    "knob_out_of_range": (["--knob", "latent_max=500"], "latent_max must be in 1..60"),
    # the last of two values silently won
    "knob_twice": (["--knob", "latent_max=5", "--knob", "latent_max=6"], "--knob: latent_max given twice"),
    "level_9": (["--level", "9"], "level must be one of [1, 2, 3, 4, 5], got 9"),
    "mode_sideways": (["--mode", "sideways"], "--mode: expected one of"),
    "split_bad": (["--split", "dev"], "--split: expected one of ['train', 'test']"),
    "n_negative": (["--n", "-3"], "--n: expected a non-negative integer"),
    "n_word": (["--n", "abc"], "'--n'"),
    "family_unknown": (["--family", "nope"], "unknown family 'nope'"),
    # was killed by the out-of-memory killer (a list of 10**19 chunks) instead of refused
    "n_huge": (["--n", str(10**23)], "--n: n must be at most 1,000,000 chunks"),
    "n_huge_small_chunks": (["--n", str(10**7), "--chunk-size", "1"], "--n: n must be at most 1,000,000 chunks"),
}


@pytest.mark.parametrize("case", sorted(GENERATE_CASES))
def test_generate_bad_options_fail_before_any_work(tmp_path, case):
    extra, expected = GENERATE_CASES[case]
    out = tmp_path / "problems.jsonl"
    args = ["generate", "--n", "2", "--out", str(out), "--backend", "local"]
    if "--family" not in extra:
        args += ["--family", "if_else"]
    result = run_cfcode(args + extra, tmp_path)
    assert_one_line_error(result, expected)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_generate_out_is_a_directory(tmp_path):
    out = tmp_path / "dir"
    out.mkdir()
    result = run_cfcode(["generate", "-f", "if_else", "-n", "2", "-o", str(out), "--backend", "local"], tmp_path)
    assert_one_line_error(result, "--out: expected a file path, got a directory")
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------ TOML configs

SFT_CASES = {
    "max_steps_word": ('max_steps = "ten"\n', "bad.toml:3: [sft]: max_steps: expected int, got str 'ten'"),
    "max_steps_float": ("max_steps = 1.5\n", "max_steps: expected int, got float 1.5"),
    "learning_rate_str": ('learning_rate = "1e-5"\n', "learning_rate: expected number, got str '1e-5'"),
    "lora_str": ('lora = "yes"\n', "lora: expected bool, got str 'yes'"),
    "modes_str": ('modes = "counterfactual"\n', "modes: expected list of str"),
    "modes_bad": ('modes = ["sideways"]\n', "modes must be a non-empty subset"),
    "targets_ints": ("lora_target_modules = [1, 2]\n", "lora_target_modules[0]: expected str"),
    "unknown_key": ("max_step = 3\n", "bad.toml:3: [sft]: unknown keys ['max_step']"),
    "missing_model_dir": ('model = "/no/such/model-dir"\n', "model: expected an existing model directory"),
    "missing_train_file": ('train_file = "/no/such/train.jsonl"\n', "train_file: expected an existing"),
    "missing_traces": ('traces = "/no/such/traces.jsonl"\n', "traces: expected an existing"),
    # ranges: each reached torch and TRL (a traceback there, or a run with NaN weights)
    "max_steps_zero": ("max_steps = 0\n", "bad.toml:3: [sft]: max_steps must be >= 1, or -1"),
    "learning_rate_nan": ("learning_rate = nan\n", "bad.toml:3: [sft]: learning_rate must be a finite number > 0"),
    "batch_zero": ("per_device_train_batch_size = 0\n", "bad.toml:3: [sft]: per_device_train_batch_size must be >= 1"),
    "seed_negative": ("seed = -5\n", "bad.toml:3: [sft]: seed must be in 0..4294967295, got -5"),
    "lora_dropout_one": ("lora_dropout = 1.0\n", "bad.toml:3: [sft]: lora_dropout must be in [0, 1)"),
    # passed the checks, then a ValueError traceback from islice inside the trainer after the model loaded
    "batch_huge": ("per_device_train_batch_size = 99999999999999999999\n",
                   "bad.toml:3: [sft]: per_device_train_batch_size must be at most 2147483647"),
}


@pytest.mark.parametrize("case", sorted(SFT_CASES))
def test_sft_config_errors_name_the_line_and_come_before_torch(tmp_path, case):
    extra, expected = SFT_CASES[case]
    model = fake_model_dir(tmp_path)
    body = f'[sft]\noutput_dir = "{tmp_path / "run"}"\n'
    if not extra.startswith("model ="):
        body += extra + f'model = "{model}"\n'
    else:
        body += extra
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    result = run_cfcode(["train", "sft", str(path)], tmp_path)
    assert_one_line_error(result, expected)
    assert not (tmp_path / "run").exists()


def test_set_given_twice_is_refused(tmp_path):
    """`--set max_steps=5 --set max_steps=50`: the last silently won."""
    model = fake_model_dir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text(f'[sft]\nmodel = "{model}"\noutput_dir = "{tmp_path / "run"}"\n')
    result = run_cfcode(["train", "sft", str(path), "--set", "max_steps=5", "--set", "max_steps=50"], tmp_path)
    assert_one_line_error(result, "--set: max_steps given twice; expected each key once")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["sft", "grpo"])
def test_model_directory_that_holds_no_model(tmp_path, command):
    """An empty (or unrelated) directory as `model` passed the check and ended in transformers'
    'Unrecognized model' traceback after torch had loaded."""
    model = tmp_path / "model"
    model.mkdir()
    path = tmp_path / "c.toml"
    path.write_text(f'[{command}]\nmodel = "{model}"\noutput_dir = "{tmp_path / "run"}"\n')
    result = run_cfcode(["train", command, str(path)], tmp_path)
    assert_one_line_error(result, "model: expected a model directory holding config.json")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config, expected", [
    ("{}", 'expected a config.json with a "model_type", got one without'),
    ("{oops", "expected a config.json with a \"model_type\", got text that is not JSON"),
    ("[1]", 'expected a config.json with a "model_type", got list'),
])
def test_model_directory_whose_config_is_not_a_model_config(tmp_path, config, expected):
    """A config.json without model_type (or not JSON) passed the check: torch and transformers loaded, then
    'Unrecognized model' was a traceback, and output_dir had been made."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(config)
    path = tmp_path / "c.toml"
    path.write_text(f'[sft]\nmodel = "{model}"\noutput_dir = "{tmp_path / "run"}"\n')
    result = run_cfcode(["train", "sft", str(path)], tmp_path)
    assert_one_line_error(result, "c.toml: model: ", expected, str(model / "config.json"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["sft", "grpo"])
def test_train_output_dir_that_is_empty(tmp_path, command):
    """output_dir = "" passed the check (Path('') is the current directory) and, after the model loaded,
    was a FileNotFoundError traceback."""
    model = fake_model_dir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text(f'[{command}]\nmodel = "{model}"\noutput_dir = ""\n')
    result = run_cfcode(["train", command, str(path)], tmp_path)
    assert_one_line_error(result, "output_dir: expected a directory path, got an empty string")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "model"]


@pytest.mark.parametrize("line", ['[1, 2]', '"text"', '{"prompt": "p", "completion": []}', "{not json",
                                  # each passed, then the chat template or the tokenizer failed after torch loaded
                                  '{"prompt": [1, 2], "completion": []}',
                                  '{"prompt": [{"role": "user"}], "completion": []}',
                                  '{"prompt": [{"role": "user", "content": "hi\\ud800"}], "completion": []}',
                                  # not UTF-8: one line, but naming neither the file nor the line
                                  '{"prompt": [], "completion": [{"role": "assistant", "content": "\xff"}]}'])
def test_sft_bad_trace_lines_name_the_line(tmp_path, line):
    """A trace file line that is not a {prompt, completion} object (a JSON list raised AttributeError)."""
    model = fake_model_dir(tmp_path)
    traces = tmp_path / "traces.jsonl"
    traces.write_bytes(line.encode("utf-8").replace(b"\xc3\xbf", b"\xff") + b"\n")  # \xff: a lone byte 0xff
    path = tmp_path / "sft.toml"
    path.write_text(f'[sft]\nmodel = "{model}"\ntraces = "{traces}"\noutput_dir = "{tmp_path / "run"}"\n')
    result = run_cfcode(["train", "sft", str(path)], tmp_path)
    assert_one_line_error(result, f"{traces}:1: not a trace record")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["sft", "grpo"])
def test_train_output_dir_that_is_a_file(tmp_path, command):
    """An output_dir that is a file was a FileExistsError traceback after torch and the model loaded."""
    model = fake_model_dir(tmp_path)
    plain = tmp_path / "plain"
    plain.write_text("keep")
    path = tmp_path / "c.toml"
    path.write_text(f'[{command}]\nmodel = "{model}"\noutput_dir = "{plain}"\n')
    result = run_cfcode(["train", command, str(path)], tmp_path)
    assert_one_line_error(result, "output_dir: expected a directory path, got a file")
    assert plain.read_text() == "keep"


@pytest.mark.parametrize("command, table", [("sft", "SFTConfig"), ("grpo", "GRPOConfig")])
def test_misspelt_trl_override_fails_before_training(tmp_path, command, table):
    """trl_overrides keys went unchecked until TRL built its config, after the model (and in an
    experiment, every earlier stage) had run."""
    model = fake_model_dir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text(f'[{command}]\nmodel = "{model}"\noutput_dir = "{tmp_path / "run"}"\n'
                    "trl_overrides = { learning_rat = 0.1 }\n")
    result = run_cfcode(["train", command, str(path)], tmp_path)
    assert_one_line_error(result, f"c.toml: trl_overrides.learning_rat: expected an option of TRL's "
                                  f"{table}, got 'learning_rat'; did you mean 'learning_rate'?")
    assert not (tmp_path / "run").exists()


def test_grpo_step_that_does_not_divide_into_batches_fails_before_torch(tmp_path):
    """prompts_per_step x num_generations not a multiple of the batch failed inside TRL's config building."""
    model = fake_model_dir(tmp_path)
    path = tmp_path / "grpo.toml"
    path.write_text(f'[grpo]\nmodel = "{model}"\noutput_dir = "{tmp_path / "run"}"\nprompts_per_step = 3\n'
                    "num_generations = 5\nper_device_train_batch_size = 4\n")
    result = run_cfcode(["train", "grpo", str(path)], tmp_path)
    assert_one_line_error(result, "grpo.toml", "prompts_per_step x num_generations = 15 is not a multiple")
    assert not (tmp_path / "run").exists()


def test_distill_out_that_is_the_train_file_is_refused(tmp_path):
    """`--out` naming the problems it reads appended teacher traces to (and resumed from) the train file."""
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(GOOD_RECORD) + "\n", encoding="utf-8")
    before = data.read_bytes()
    result = run_cfcode(["distill", "--endpoint", "openai:http://127.0.0.1:9/v1#m", "--set", f"train_file={data}",
                         "--out", str(tmp_path / "." / "train.jsonl")], tmp_path)
    assert_one_line_error(result, "out: expected a path other than the input train_file")
    assert data.read_bytes() == before


def test_grpo_bad_train_file_records_fail_before_training(tmp_path):
    model = fake_model_dir(tmp_path)
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(_record(answer=3)) + "\n", encoding="utf-8")
    path = tmp_path / "grpo.toml"
    path.write_text(f'[grpo]\nmodel = "{model}"\ntrain_file = "{data}"\noutput_dir = "{tmp_path / "run"}"\n')
    result = run_cfcode(["train", "grpo", str(path)], tmp_path)
    assert_one_line_error(result, f"{data}:1: answer: expected list, got int 3")
    assert not (tmp_path / "run").exists()


CONFIG_FILE_CASES = {
    "syntax": (b"[sft\nmodel = 1\n", "invalid TOML"),
    "not_utf8": (b"[sft]\nmodel = '\xff'\n", "expected UTF-8 TOML"),
    "table_not_table": (b"sft = 3\n", "expected a table"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_FILE_CASES))
def test_broken_config_files(tmp_path, case):
    content, expected = CONFIG_FILE_CASES[case]
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    result = run_cfcode(["train", "sft", str(path)], tmp_path)
    assert_one_line_error(result, str(path), expected)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_config_missing_or_a_directory(tmp_path, kind):
    path = tmp_path / "c.toml"
    if kind == "directory":
        path.mkdir()
    for command in (["train", "grpo"], ["experiment"]):
        result = run_cfcode([*command, str(path)], tmp_path)
        assert_one_line_error(result, str(path))


EXPERIMENT_CASES = {
    "n_train_word": ('[data]\nn_train = "many"\n', "exp.toml:2: [data]: n_train: expected int"),
    "level_9": ("[data]\nlevel = 9\n", "level: expected a level 1-5"),
    "family_unknown": ('[data]\nfamily = "nope"\n', "unknown family 'nope'"),
    "modes_bad": ('[data]\nmodes = ["sideways"]\n', "modes: expected a non-empty subset"),
    "missing_train_file": ('[data]\ntrain_file = "/no/such.jsonl"\n', "train_file: expected an existing"),
    "missing_base": ('[model]\nbase = "/no/such/model"\n', "exp.toml:2: [model]: base '/no/such/model'"),
    "samples_float": ("[eval]\nsamples = 1.5\n", "[eval]: samples: expected int, got float 1.5"),
    "suites_str": ('[eval]\nsuites = "all"\n', "suites: expected list of str"),
    "sft_enabled_str": ('[sft]\nenabled = "yes"\n', "enabled: expected true or false"),
    "sft_lr_str": ('[sft]\nlearning_rate = "fast"\n', "exp.toml:2: [sft]: learning_rate: expected number"),
    "grpo_unknown": ("[grpo]\nnum_generation = 4\n", "unknown keys ['num_generation']"),
    "unknown_table": ("[evals]\nx = 1\n", "unknown tables ['evals']"),
    "section_not_table": ("data = 3\n", "expected a table of DataSection keys, got int 3"),
    # each of these passed the config check and failed (or ran) only inside a stage, after minutes of work
    "n_train_negative": ("[data]\nn_train = -1\n", "exp.toml:2: [data]: n_train: expected a positive integer"),
    "n_train_zero": ("[data]\nn_train = 0\n", "exp.toml:2: [data]: n_train: expected a positive integer"),
    # passed the checks; the data stage failed with a ValueError (3 lines) after making out_dir
    "n_train_huge": ("[data]\nn_train = 99999999999999999999\n",
                     "exp.toml:2: [data]: n_train: expected an integer in 1..2147483647"),
    "eval_limit_negative": ("[eval]\nlimit = -1\n", "exp.toml:2: [eval]: limit must be >= 1, got -1"),
    "eval_temperature_nan": ("[eval]\ntemperature = nan\n", "exp.toml:2: [eval]: temperature must be a finite"),
    "eval_max_tokens_zero": ("[eval]\nmax_tokens = 0\n", "exp.toml:2: [eval]: max_tokens must be >= 1"),
    # found only by the eval / compare / traces / GRPO stages, after data, model and training
    "eval_modes_empty": ("[eval]\nmodes = []\n", "exp.toml:2: [eval]: modes: expected a non-empty subset"),
    "eval_suite_unknown": ('[eval]\nsuites = ["nope"]\n', "exp.toml:2: [eval]: suites: no frozen suite 'nope'"),
    "eval_suite_file_missing": ('[eval]\nsuites = ["/no/such.jsonl"]\n', "[eval]: suites: no problem file at"),
    "base_not_a_model": ('[model]\nbase = "/"\n', "exp.toml:2: [model]: base: expected a model directory holding"),
    "compare_metric": ('[compare]\nmetric = "bogus"\n', "exp.toml:2: [compare]: metric: expected one of"),
    "traces_judge": ('[traces]\njudge = "bogus"\n', "exp.toml:2: [traces]: judge: expected openai:BASE_URL#MODEL"),
    "grpo_reward": ('[grpo]\nreward = "bogus"\n', "exp.toml:2: [grpo]: reward must be one of ('exact', 'f1')"),
    # a misspelt TRL option failed only when its stage built the TRL config, after the base eval and SFT
    "grpo_trl_override": ("[grpo]\ntrl_overrides = { epsilon_hi = 0.3 }\n",
                          "exp.toml:2: [grpo]: trl_overrides.epsilon_hi: expected an option of TRL's GRPOConfig"),
}


@pytest.mark.parametrize("flag", ["config", "--out"])
def test_experiment_out_dir_that_is_a_file(tmp_path, flag):
    """An out_dir (or --out) that is a file was a FileExistsError traceback."""
    plain = tmp_path / "plain"
    plain.write_text("keep")
    path = tmp_path / "exp.toml"
    path.write_text(f'[experiment]\nout_dir = "{plain if flag == "config" else tmp_path / "run"}"\n')
    result = run_cfcode(["experiment", str(path), *(["--out", str(plain)] if flag == "--out" else [])], tmp_path)
    assert_one_line_error(result, "expected a directory path, got a file")
    assert plain.read_text() == "keep" and not (tmp_path / "run").exists()


@pytest.mark.parametrize("seed, expected", [("-3", "seed: expected a non-negative integer, got -3"),
                                            # 10**20 passed; stage eval:base failed (a traceback in its log)
                                            ("99999999999999999999", "seed: expected an integer in 0..4294967295")])
def test_experiment_seed_out_of_range(tmp_path, seed, expected):
    """[experiment] seed = -3 reached the eval stages' bootstrap (numpy refuses negative seeds)."""
    path = tmp_path / "exp.toml"
    path.write_text(f'[experiment]\nseed = {seed}\nout_dir = "{tmp_path / "run"}"\n')
    result = run_cfcode(["experiment", str(path)], tmp_path)
    assert_one_line_error(result, f"exp.toml:2: [experiment]: {expected}")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", sorted(EXPERIMENT_CASES))
def test_experiment_config_errors(tmp_path, case):
    extra, expected = EXPERIMENT_CASES[case]
    out = tmp_path / "run"
    path = tmp_path / "exp.toml"
    path.write_text(extra + f'[experiment]\nout_dir = "{out}"\n', encoding="utf-8")
    result = run_cfcode(["experiment", str(path)], tmp_path)
    assert_one_line_error(result, expected)
    assert not out.exists()


# ------------------------------------------------------------------------------ suites manifest

MANIFEST_CASES = {
    "not_json": (b'{"files": {', "manifest.json:1: expected JSON"),
    "not_utf8": (b'{"files": "\xff"}', "manifest.json: expected UTF-8 JSON"),
    "array": (b"[1, 2]", "manifest.json: expected a table of Manifest fields, got list"),
    "files_int": (b'{"files": 3, "recipe": {}, "python_version": "3"}', "files: expected dict"),
    "entry_no_sha": (json.dumps({"files": {"test/x.jsonl": {"family": "if_else", "mode": "counterfactual",
                                                             "split": "test", "n": 1, "seed": 0, "count": 1,
                                                             "filter_counts": {}}},
                                 "recipe": {"test_size": 1, "train_size": 0, "families": ["if_else"]},
                                 "python_version": "3.11"}).encode(),
                     "files.test/x.jsonl.sha256: missing required field"),
    "count_str": (json.dumps({"files": {"test/x.jsonl": {"family": "if_else", "mode": "counterfactual",
                                                          "split": "test", "n": 1, "seed": 0, "count": "1",
                                                          "sha256": "0", "filter_counts": {}}},
                              "recipe": {"test_size": 1, "train_size": 0, "families": ["if_else"]},
                              "python_version": "3.11"}).encode(),
                  "files.test/x.jsonl.count: expected int, got str '1'"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_corrupted_manifest_is_one_line(tmp_path, case):
    content, expected = MANIFEST_CASES[case]
    (tmp_path / "manifest.json").write_bytes(content)
    result = run_cfcode(["suites", "verify", "--dir", str(tmp_path)], tmp_path)
    assert_one_line_error(result, expected)


# ------------------------------------------------------------------------------ other commands

OTHER_CASES = {
    "eval_missing_model": (["eval", "--model", "/no/such/model"], "--model: expected an existing model directory"),
    "eval_modes": (["eval", "--model", "oracle", "--modes", "sideways"], "--modes: expected a non-empty subset"),
    "env_bench_family": (["env", "bench", "--families", "nope"], "unknown family 'nope'"),
    "sandbox_bench_jobs": (["sandbox", "bench", "--jobs", "0"], "--jobs: expected a positive integer"),
    # a suite without an apt source was a RuntimeError traceback; an option-like suite reached debootstrap's argv
    "build_image_unknown_suite": (["sandbox", "build-image", "--suite", "bogus"], "no apt source for Debian 'bogus'"),
    "build_image_option_suite": (["sandbox", "build-image", "--suite", "--variant=buildd"],
                                 "--suite: expected a Debian suite name"),
    "build_image_mirror": (["sandbox", "build-image", "--mirror", "-v"], "--mirror: expected an http://"),
    "bench_rollout_model": (["bench", "rollout", "--model", "/no/such/model"], "--model: expected an existing"),
    "serve_model": (["model", "serve", "hf:/no/such/model"], "MODEL: expected an existing model directory"),
    "unknown_option": (["generate", "--bogus"], "No such option: --bogus"),
    "verify_missing_dir": (["suites", "verify", "--dir", "/no/such/suites"], "--dir: expected a suites directory"),
    "suites_bench_mode": (["suites", "bench", "--mode", "sideways"], "--mode: expected one of"),
    # a negative seed failed only in the bootstrap, after every completion was generated, naming no option;
    # NaN / negative temperatures and max_tokens < 1 were accepted
    "eval_seed_negative": (["eval", "--model", "oracle", "--seed", "-5"], "seed must be in 0..4294967295, got -5"),
    "eval_temperature_nan": (["eval", "--model", "oracle", "--temperature", "nan"], "temperature must be a finite"),
    "eval_temperature_negative": (["eval", "--model", "oracle", "--temperature", "-1"], "temperature must be"),
    "eval_max_tokens": (["eval", "--model", "oracle", "--max-tokens", "-1"], "max_tokens must be >= 1, got -1"),
    "env_bench_no_problems": (["env", "bench", "--num-problems", "0"], "--num-problems: expected a positive integer"),
    "serve_port": (["model", "serve", "hf:/", "--port", "99999"], "MODEL: expected a model directory holding"),
    "serve_port_range": (["model", "serve", "openai:http://127.0.0.1:9/v1#m", "--port", "99999"],
                         "--port: expected 0-65535, got 99999"),
    "eval_not_a_model_dir": (["eval", "--model", "vllm:/", "--suites", "if_else"], "--model: expected a model directory"),
    # an unreachable endpoint (a wrong URL) was a 400-line APIConnectionError traceback
    "eval_endpoint_unreachable": (["eval", "--model", "openai:http://127.0.0.1:9/v1#m", "--suites", "if_else",
                                   "--limit", "1", "--modes", "counterfactual", "--out", "evo"],
                                  "endpoint: the OpenAI-compatible endpoint http://127.0.0.1:9/v1/ (model 'm') failed"),
    # an output name over NAME_MAX was an OSError traceback (ENAMETOOLONG), for eval after the whole run
    "generate_name_too_long": (["generate", "-f", "if_else", "--n", "1", "--out", "a" * 300 + ".jsonl"],
                               "--out: expected a usable path"),
    "export_name_too_long": (["export", "frozen:test", "--out", "a" * 300], "--out: expected a usable path"),
    "eval_name_too_long": (["eval", "--model", "oracle", "--out", "a" * 300], "--out: expected a usable path"),
    # read without end: memory grew until the machine ran out
    "counterfactualize_device": (["counterfactualize", "/dev/zero", "-f", "f", "-i", "x=0..1", "-l", "r=0..1",
                                  "-o", "c.jsonl"], "/dev/zero: cannot read the source: expected a regular file"),
    # each failed after the tiny model was built (GRPORunConfig's ValueError, a traceback)
    "bench_grpo_steps": (["bench", "grpo-step", "--steps", "0"], "--steps: expected an integer >= 1, got 0"),
    "bench_grpo_generations": (["bench", "grpo-step", "--num-generations", "1"], "--num-generations: expected an"),
    "bench_rollout_prompts": (["bench", "rollout", "--prompts", "-1"], "--prompts: expected an integer >= 1"),
    "eval_prompt_style": (["eval", "--model", "oracle", "--suites", "if_else", "--prompt-style", "bogus"],
                          "prompt style must be one of ('chat', 'plain'), got 'bogus'"),
    "compare_metric": (["compare", "oracle", "--metric", "bogus"], "--metric: expected one of exact_match"),
    # a missing eval directory was taken for a model, evaluated in a child, and its traceback folded into the line
    "compare_missing_entry": (["compare", "no-such-eval-dir"], "ENTRIES: expected an eval directory (holding eval.json) or [LABEL=]SPEC of an existing model, got 'no-such-eval-dir'"),
    # a count past any use: a ValueError traceback from the pipeline (suites bench, build-tiny), a run without
    # end (interactive-bench --episodes 10**23), or a suites build that failed after making its --out-dir
    "suites_bench_n_huge": (["suites", "bench", "--n", str(10**14), "--backend", "local"],
                            "--n: expected an integer in 1..2147483647, got 100000000000000"),
    "suites_build_test_huge": (["suites", "build", "--test-size", str(10**14), "--backend", "local", "--out-dir", "sb"],
                               "--test-size: expected an integer in 1..2147483647"),
    "build_tiny_corpus_huge": (["model", "build-tiny", "m", "--corpus-problems", str(10**11)],
                               "--corpus-problems: expected an integer in 1..2147483647"),
    "interactive_bench_episodes_huge": (["env", "interactive-bench", "--episodes", str(10**23)],
                                        "--episodes: expected an integer in 1..2147483647"),
    "env_bench_exact_steps_huge": (["env", "bench", "--exact-steps", str(10**20)],
                                   "--exact-steps: expected an integer in 0..2147483647"),
    # an endpoint that is no URL was tried, with retries, after the suites and sandbox were set up
    "eval_endpoint_not_a_url": (["eval", "--model", "openai:notaurl#m", "--suites", "if_else", "--limit", "1"],
                                "--model: expected openai:http(s)://HOST[:PORT]/PATH#MODEL, got 'openai:notaurl#m'"),
    "compare_missing_labelled": (["compare", "base=/no/such/model"], "got 'base=/no/such/model': no model directory at '/no/such/model'"),
}


@pytest.mark.parametrize("case", sorted(OTHER_CASES))
def test_other_commands_bad_input(tmp_path, case):
    args, expected = OTHER_CASES[case]
    result = run_cfcode(args, tmp_path)
    assert_one_line_error(result, expected)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ eval directories

@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory) -> Path:
    """A real `cfcode eval` output (oracle baseline, 2 problems, local sandbox)."""
    out = tmp_path_factory.mktemp("eval") / "oracle"
    result = run_cfcode(["eval", "--model", "oracle", "--suites", "if_else", "--modes", "counterfactual",
                         "--limit", "2", "--sandbox", "local", "--out", str(out)], out.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def _copy_eval(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("eval.json", "samples.jsonl"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


SAMPLE_CASES = {
    "correct_str": ({"correct": "yes"}, "samples.jsonl:2: correct: expected bool, got str 'yes'"),
    "sample_str": ({"sample": "zero"}, "samples.jsonl:2: sample: expected int"),
    "unknown_field": ({"bogus": 1}, "samples.jsonl:2: unknown fields ['bogus']"),
    # eval --reuse re-scored it, then died writing samples.jsonl back (UnicodeEncodeError traceback)
    "text_lone_surrogate": ({"text": "abc\ud800"}, "samples.jsonl:2: text: expected text without lone UTF-16"),
}


@pytest.mark.parametrize("case", sorted(SAMPLE_CASES))
def test_analyze_traces_bad_samples(tmp_path, eval_dir, case):
    change, expected = SAMPLE_CASES[case]
    bad = _copy_eval(eval_dir, tmp_path / "bad")
    rows = [json.loads(line) for line in (bad / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    rows[1].update(change)
    (bad / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cfcode(["analyze-traces", str(bad), "--out", str(tmp_path / "traces")], tmp_path)
    assert_one_line_error(result, expected)
    assert not (tmp_path / "traces").exists()


@pytest.mark.parametrize("content, expected", [(b'{"label": 1}', "model: missing required field"),
                                               (b"{oops", "expected an eval.json written by `cfcode eval`"),
                                               (b"[]", "expected a JSON object (an eval.json written by `cfcode eval`)")])
def test_compare_bad_eval_json(tmp_path, eval_dir, content, expected):
    bad = _copy_eval(eval_dir, tmp_path / "bad")
    (bad / "eval.json").write_bytes(content)
    result = run_cfcode(["compare", str(bad), str(eval_dir), "--out", str(tmp_path / "cmp")], tmp_path)
    assert_one_line_error(result, f"{bad / 'eval.json'}: {expected}")
    assert not (tmp_path / "cmp").exists()


def test_analyze_traces_out_that_is_a_file(tmp_path, eval_dir):
    """`--out FILE` was a FileExistsError traceback after the analysis."""
    plain = tmp_path / "plain"
    plain.write_text("keep")
    result = run_cfcode(["analyze-traces", str(eval_dir), "--out", str(plain)], tmp_path)
    assert_one_line_error(result, "--out: expected a directory path, got a file")
    assert plain.read_text() == "keep"


# ------------------------------------------------------------------------------ unusable outputs

def test_argument_that_is_not_utf8_is_one_line(tmp_path):
    """A label (or any argument) holding a byte that is not UTF-8 reached the writers as a lone surrogate:
    eval ran every problem, then died writing eval.json (UnicodeEncodeError traceback, an empty --out)."""
    out = tmp_path / "out"
    result = run_cfcode(["eval", "--model", "oracle", "--suites", "if_else", "--limit", "1", "--sandbox", "local",
                         "--out", str(out), "--label", "a\udcffb"], tmp_path)
    assert_one_line_error(result, "argument 13: expected UTF-8 text, got byte 0xff at offset 1 of b'a\\xffb'")
    assert list(tmp_path.iterdir()) == []


def test_generate_out_onto_a_device_leaves_the_device(tmp_path):
    """`-o /dev/null` (or /dev/full, a FIFO) renamed the finished temp file over the device node: run as
    root, /dev/null became a regular file holding the problems."""
    os.mkfifo(tmp_path / "fifo")
    os.symlink("/dev/null", tmp_path / "null")
    os.symlink("loop", tmp_path / "loop")  # a symlink loop was replaced by a regular file
    for name, expected in (("fifo", "got a FIFO"), ("null", "got a character device"),
                           ("loop", "expected a usable path, got str")):
        out = tmp_path / name
        result = run_cfcode(["generate", "-f", "if_else", "-n", "1", "--backend", "local", "-o", str(out)], tmp_path)
        assert_one_line_error(result, "--out: expected ", expected)
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file() and (tmp_path / "null").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "loop", "null"] and (tmp_path / "loop").is_symlink()


def test_generate_out_through_a_symlink_writes_its_target(tmp_path):
    """`-o link` replaced the symlink itself with a regular file; the file it named kept the old data."""
    target = tmp_path / "data" / "problems.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    (tmp_path / "link.jsonl").symlink_to(target)
    result = run_cfcode(["generate", "-f", "if_else", "-n", "1", "--backend", "local", "-o", "link.jsonl"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "link.jsonl").is_symlink() and json.loads(target.read_text())["family"] == "if_else"


UNWRITABLE_CASES = {
    # each ran the whole command, then was a PermissionError / FileNotFoundError traceback
    "generate_proc": (["generate", "-f", "if_else", "-n", "1", "--backend", "local", "-o", "/proc/cfcode-x.jsonl"],
                      "--out: cannot write /proc/cfcode-x.jsonl"),
    "eval_proc": (["eval", "--model", "oracle", "--suites", "if_else", "--limit", "1", "--modes", "counterfactual",
                   "--sandbox", "local", "-o", "/proc/cfcode-x/eval"], "--out: cannot write /proc/cfcode-x/eval"),
    "export_proc": (["export", "frozen:test", "--format", "hf", "-o", "/proc/cfcode-x"],
                    "--out: cannot write /proc/cfcode-x"),
    "analyze_proc": (["analyze-traces", "EVAL", "-o", "/proc/cfcode-x"], "--out: cannot write /proc/cfcode-x"),
    "compare_proc": (["compare", "EVAL", "-o", "/proc/cfcode-x"], "--out: cannot write /proc/cfcode-x"),
}


@pytest.mark.parametrize("case", sorted(UNWRITABLE_CASES))
def test_output_where_nothing_can_be_written_is_one_line(tmp_path, eval_dir, case):
    args, expected = UNWRITABLE_CASES[case]
    args = [str(eval_dir) if a == "EVAL" else a for a in args]
    result = run_cfcode(args, tmp_path)
    assert_one_line_error(result, expected)
    assert list(tmp_path.iterdir()) == []


def _limit_file_size(limit: int):
    import resource

    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


@pytest.mark.parametrize("command", ["eval", "generate"])
def test_a_disk_that_fills_up_while_writing_is_one_line_and_leaves_nothing(tmp_path, command):
    """A write that fails half-way (a full disk: here a file-size limit, EFBIG) was a traceback, and eval
    left the --out directory it had made behind (empty), where a rerun then wrote beside nothing."""
    out = tmp_path / "out" / ("eval" if command == "eval" else "p.jsonl")
    args = (["eval", "--model", "oracle", "--suites", "if_else", "--limit", "3", "--modes", "counterfactual",
             "--sandbox", "local", "--out", str(out)] if command == "eval" else
            ["generate", "-f", "if_else", "-n", "20", "--backend", "local", "-o", str(out)])
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run([str(CFCODE), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                            check=False, timeout=TIMEOUT_S, preexec_fn=_limit_file_size(4096))
    assert_one_line_error(result, "--out: cannot write ", "File too large")
    assert list(tmp_path.iterdir()) == []


EVAL_JSON_CASES = {
    # each passed the eval.json check: compare ended in a TypeError traceback (a label that is a number),
    # analyze-traces in "'list' object is not a mapping"; the others were compared as if measured
    "label_int": (lambda d: d.update(label=5), "label: expected str, got int 5"),
    "config_list": (lambda d: d.update(config=[]), "config: expected dict of str -> any value, got list"),
    "config_suites_str": (lambda d: d["config"].update(suites="if_else"), "config.suites: expected list of str"),
    "mean_str": (lambda d: d["groups"][0]["exact_match"].update(mean="high"),
                 "groups[0].exact_match.mean: expected number, got str 'high'"),
    "n_problems_str": (lambda d: d["groups"][0].update(n_problems="2"), "groups[0].n_problems: expected int"),
    "mode_bad": (lambda d: d["groups"][0].update(mode="sideways"),
                 "groups[0].mode: expected one of ['counterfactual', 'interventional'], got str 'sideways'"),
    "groups_dict": (lambda d: d.update(groups={}), "groups: expected list, got dict"),
}


@pytest.mark.parametrize("command", ["compare", "analyze-traces"])
@pytest.mark.parametrize("case", sorted(EVAL_JSON_CASES))
def test_eval_json_with_a_wrong_field_is_one_line_naming_it(tmp_path, eval_dir, command, case):
    change, expected = EVAL_JSON_CASES[case]
    bad = _copy_eval(eval_dir, tmp_path / "bad")
    data = json.loads((bad / "eval.json").read_text(encoding="utf-8"))
    data["label"] = "other"
    change(data)
    (bad / "eval.json").write_text(json.dumps(data), encoding="utf-8")
    args = [str(bad), str(eval_dir)] if command == "compare" else [str(bad)]
    result = run_cfcode([command, *args, "--out", str(tmp_path / "out")], tmp_path)
    assert_one_line_error(result, f"{bad / 'eval.json'}: {expected}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


@pytest.mark.parametrize("source, args, expected", [
    # each printed a `rejected:` line plus "no problem was made" (two lines, exit 1), after Docker started
    ("def f(x, r):\n    return x + r\n", ["-f", "g"], "src.py: --function g: is not defined at the top level"),
    ("def f(x, r:\n", ["-f", "f"], "src.py:1: --function f: syntax error: '(' was never closed"),
    ("def f(x, r, s):\n    return x\n", ["-f", "f"], "src.py:1: --function f: parameters ['s'] are neither"),
    # any error line inside the run's try block was followed by "cannot start the Docker sandbox:" (typer.Exit
    # is a RuntimeError), as was a domain nested past the recursion limit
    ("def f(x, r):\n    return x\n", ["-f", "f", "--spec", "src.py"], "give either --spec or --function"),
    ("def f(x, r):\n    return x\n", ["-f", "f", "-i", "x=" + "[" * 5000 + "]" * 5000],
     "command line.inputs.x: expected lo..hi or a JSON list of values nested at most"),
])
def test_counterfactualize_bad_function_is_one_line_before_the_sandbox(tmp_path, source, args, expected):
    (tmp_path / "src.py").write_text(source, encoding="utf-8")
    if "-i" not in args:
        args = [*args, "-i", "x=0..3"]
    result = run_cfcode(["counterfactualize", "src.py", *args, "-l", "r=0..3", "-o", "c.jsonl"], tmp_path)
    assert_one_line_error(result, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.py"]


# ------------------------------------------------------------------------------ Python API misuse

@pytest.mark.parametrize("kwargs, expected", [
    # a seed of the wrong type was accepted and silently drafted a different (str-hashed) run
    ({"seed": "7"}, "seed must be an integer, got '7'"),
    ({"seed": 1.5}, "seed must be an integer, got 1.5"),
    ({"seed": True}, "seed must be an integer, got True"),
    ({"n": True}, "n must be a non-negative integer, got True"),
])
def test_generate_refuses_arguments_of_the_wrong_type(kwargs, expected):
    from generators import generate

    args = {"family": "if_else", "mode": "counterfactual", "n": 1, "seed": 0, **kwargs}
    with pytest.raises(ValueError) as info:
        generate(**args)
    assert str(info.value) == expected


def test_write_problems_refuses_items_that_are_not_problems(tmp_path):
    """A list of dicts (records already decoded) was an AttributeError from inside the writer."""
    from generators import write_problems

    with pytest.raises(TypeError, match=r"problems\[1\]: expected a Problem, got dict"):
        write_problems(tmp_path / "p.jsonl", [_problem(), json.loads(json.dumps(GOOD_RECORD))])
    assert list(tmp_path.iterdir()) == []


def _problem():
    from generators import Problem

    return Problem.from_dict(json.loads(json.dumps(GOOD_RECORD)))


@pytest.mark.parametrize("content", [b"keep\n", b'{"id": 1}\n', b"\xff\n", b"[1]\n"])
def test_distill_out_that_holds_something_else_is_one_line(tmp_path, content):
    """An existing --out is resumed from; one that is not earlier traces (a note, another JSONL) was a
    JSONDecodeError / KeyError traceback."""
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(GOOD_RECORD) + "\n", encoding="utf-8")
    out = tmp_path / "notes.txt"
    out.write_bytes(content)
    result = run_cfcode(["distill", "--endpoint", "openai:http://127.0.0.1:9/v1#m", "--set", f"train_file={data}",
                         "--out", str(out)], tmp_path)
    assert_one_line_error(result, f"{out}:1: out: expected a trace record of an earlier distill run")
    assert out.read_bytes() == content and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "train.jsonl"]


@pytest.mark.parametrize("host, expected", [("999.1.1.1", "--host: expected an address of this machine to listen on"),
                                            ("192.0.2.1", "--host: cannot listen on 192.0.2.1:"),
                                            ("127.0.0.1", "--port: cannot listen on 127.0.0.1:")])
def test_serve_on_an_address_it_cannot_listen_on_is_one_line(tmp_path, host, expected):
    """A host that is not this machine's, or a port in use, failed after the model loaded, as uvicorn's
    log lines (exit 3 / 1)."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cfcode(["model", "serve", "openai:http://127.0.0.1:9/v1#m", "--host", host, "--port", str(port)],
                            tmp_path)
    assert_one_line_error(result, expected)


@pytest.mark.parametrize("command", ["generate", "counterfactualize", "distill", "eval", "export"])
def test_output_onto_a_frozen_suite_is_refused(tmp_path, monkeypatch, command):
    """`-o suites/test/if_else.counterfactual.jsonl` replaced a frozen held-out suite (the programs every train
    run avoids, the test set every eval reads) with the new problems, silently. (A copy of the suites, named
    by CFCODE_SUITES_DIR, is the target here.)"""
    import shutil

    suites = tmp_path / "suites"
    shutil.copytree(ROOT / "suites", suites)
    monkeypatch.setenv("CFCODE_SUITES_DIR", str(suites))
    frozen = suites / "test" / "if_else.counterfactual.jsonl"
    before = frozen.read_bytes()
    (tmp_path / "src.py").write_text("def f(x, r):\n    return x + r\n")
    args = {"generate": ["generate", "-f", "if_else", "-n", "1", "--backend", "local", "-o", str(frozen)],
            "counterfactualize": ["counterfactualize", "src.py", "-f", "f", "-i", "x=0..3", "-l", "r=0..3",
                                  "-o", str(frozen)],
            "distill": ["distill", "--endpoint", "openai:http://127.0.0.1:9/v1#m", "--out", str(frozen)],
            # eval --out suites/test put samples.jsonl beside the suites: every train run then read it as a suite
            "eval": ["eval", "--model", "oracle", "--suites", "if_else", "--limit", "1", "--sandbox", "local",
                     "--out", str(frozen.parent)],
            "export": ["export", "frozen:test", "--format", "hf", "--out", str(frozen.parent)]}[command]
    result = run_cfcode(args, tmp_path)
    assert_one_line_error(result, "expected a path outside the frozen suites directory")
    assert frozen.read_bytes() == before
    assert sorted(p.name for p in frozen.parent.iterdir()) == sorted(p.name for p in (ROOT / "suites/test").iterdir())


def test_config_with_a_byte_order_mark_is_read(tmp_path):
    """A UTF-8 BOM (Windows editors write one) made every config 'invalid TOML: Invalid statement (at line 1,
    column 1)', a message that names nothing the user can see."""
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf[sft]\nmax_step = 3\n")
    result = run_cfcode(["train", "sft", str(path)], tmp_path)
    assert_one_line_error(result, "c.toml:2: [sft]: unknown keys ['max_step']")


def test_export_over_a_folder_that_is_not_an_earlier_export_keeps_it(tmp_path):
    """OUT/<format>/ is replaced by a new export; one holding anything else (a user's own `hf/` folder) was
    deleted with it (shutil.rmtree), unseen."""
    mine = tmp_path / "out" / "hf" / "precious.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("keep")
    result = run_cfcode(["export", str(ROOT / "suites/test/if_else.counterfactual.jsonl"), "--format", "hf",
                         "-o", str(tmp_path / "out")], tmp_path)
    assert_one_line_error(result, f"--out: expected {tmp_path / 'out' / 'hf'} to hold an earlier export (or nothing), "
                                  "got a file an export does not write: precious.txt")
    assert mine.read_text() == "keep" and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hf"]


def test_export_over_an_earlier_export_replaces_it(tmp_path):
    src = str(ROOT / "suites/test/if_else.counterfactual.jsonl")
    for _ in range(2):
        result = run_cfcode(["export", src, "-o", str(tmp_path / "out")], tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("fresh", [True, False])
def test_experiment_into_a_folder_that_is_not_an_experiment_keeps_it(tmp_path, fresh):
    """`--out ~ --fresh` (any folder holding other things) deleted its data/, models/, eval/, logs/ ... folders
    (the stage outputs --fresh wipes), and without --fresh the stages wrote into them."""
    mine = tmp_path / "home" / "data" / "precious.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("keep")
    path = tmp_path / "exp.toml"
    path.write_text("[data]\nn_train = 2\n")
    result = run_cfcode(["experiment", str(path), "--out", str(tmp_path / "home"), *(["--fresh"] if fresh else [])],
                        tmp_path)
    assert_one_line_error(result, f"--out: expected a new or empty directory, or an earlier experiment's (holding "
                                  f"state.json), got {tmp_path / 'home'} holding other files (data)")
    assert mine.read_text() == "keep" and [p.name for p in (tmp_path / "home").iterdir()] == ["data"]


def test_eval_reuse_of_samples_with_a_lone_surrogate_is_one_line(tmp_path, eval_dir):
    bad = _copy_eval(eval_dir, tmp_path / "bad")
    rows = [json.loads(line) for line in (bad / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] += "\ud800"
    (bad / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cfcode(["eval", "--model", "oracle", "--suites", "if_else", "--modes", "counterfactual", "--limit", "2",
                         "--sandbox", "local", "--reuse", str(bad), "--out", str(tmp_path / "out")], tmp_path)
    assert_one_line_error(result, "samples.jsonl:1: text: expected text without lone UTF-16 surrogates")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


@pytest.mark.parametrize("args", [["families"], ["suites", "verify", "--dir", str(ROOT / "suites")]])
def test_standard_output_that_cannot_be_written_is_one_line(tmp_path, args):
    """`cfcode families > /dev/full` was an OSError traceback (ENOSPC) from the first echo; a closed pipe
    (`| head -c0`) ended in Python's 'Exception ignored ... BrokenPipeError' lines."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(CFCODE), *args], cwd=tmp_path, env=env, stdout=full, stderr=subprocess.PIPE,
                                text=True, check=False, timeout=TIMEOUT_S)
    result.stdout = ""
    assert_one_line_error(result, "cannot write to standard output: No space left on device")
    reader, writer = os.pipe()
    os.close(reader)  # the consumer is gone before anything is written
    result = subprocess.run([str(CFCODE), *args], cwd=tmp_path, env=env, stdout=writer, stderr=subprocess.PIPE,
                            text=True, check=False, timeout=TIMEOUT_S)
    os.close(writer)
    assert result.stderr == "" and result.returncode == 1, (result.returncode, result.stderr[-2000:])
