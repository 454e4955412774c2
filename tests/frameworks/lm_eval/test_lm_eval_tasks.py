"""lm-evaluation-harness 0.4.13 runs an exported task folder and scores exactly as `cfcode eval`.

Runs in the `lm_eval` nox session. Two runs:
  * the `lm_eval` CLI end to end (HF backend, `HF_HUB_OFFLINE=1`) on the tiny random-weight model
    from rl.training.tiny_model: the folder loads, generation stops only at EOS, and each task's metrics equal
    the project's scorer on the completions lm-eval logged;
  * `simple_evaluate` with a replay model that answers from a script (right, wrong, unformatted and
    the hacks), so the equality is checked on non-trivial numbers and every hack pays 0.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from envs.scoring import score_batch
from generators.export import export_problems
from generators.export.lm_eval import task_name

GROUP = "counterfactual_code"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory, frozen_problems) -> Path:
    out = tmp_path_factory.mktemp("lm_eval_export")
    export_problems({"test": frozen_problems}, out, formats=["lm_eval"])
    return out / "lm_eval"


def _cfcode_means(pairs) -> dict[str, float]:
    """cfcode eval's exact match per task: the env's scorer over (problem, completion), mean per problem."""
    scores = score_batch([p for p, _ in pairs], [c for _, c in pairs])
    by_task: dict[str, list[float]] = defaultdict(list)
    for (p, _), s in zip(pairs, scores):
        by_task[task_name(GROUP, p.split, p.family, p.mode)].append(float(s.correct))
    return {t: sum(v) / len(v) for t, v in by_task.items()}


def test_task_folder_is_relocatable_and_never_stops_on_answer_tag(task_dir, frozen_problems):
    tasks = sorted(p.name for p in task_dir.glob(f"{GROUP}_*.yaml"))
    assert len(tasks) == len({(p.family, p.mode) for p in frozen_problems})
    for t in tasks:
        text = (task_dir / t).read_text()
        until = [line.split("#")[0].strip() for line in text.splitlines() if line.strip().startswith("until:")]
        assert until == ["until: []"], until  # EOS only
        assert str(task_dir) not in text  # no absolute paths: the folder can move


def test_cli_end_to_end_on_tiny_model(tmp_path, task_dir, frozen_problems):
    from rl.training.tiny_model import build_tiny_model

    corpus = [t for p in frozen_problems for t in (p.prompt, p.gold_trace)]
    model = build_tiny_model(tmp_path / "tiny", corpus=corpus)
    out = tmp_path / "results"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [str(Path(sys.executable).with_name("lm_eval")), "--model", "hf",
           "--model_args", f"pretrained={model},dtype=float32", "--device", "cpu", "--batch_size", "4",
           "--include_path", str(task_dir), "--tasks", GROUP, "--apply_chat_template",
           "--gen_kwargs", "max_gen_toks=64", "--log_samples", "--output_path", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    [results_file] = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]
    by_id = {p.id: p for p in frozen_problems}
    pairs = []
    for samples_file in out.rglob("samples_*.jsonl"):
        for line in samples_file.read_text().splitlines():
            sample = json.loads(line)
            pairs.append((by_id[sample["doc"]["id"]], sample["filtered_resps"][0]))
    assert len(pairs) == len(frozen_problems)
    for task, mean in _cfcode_means(pairs).items():
        assert results[task]["exact_match,none"] == pytest.approx(mean), task
    assert GROUP in results


def _replay(base, by_prompt, cases, order, shift, script, seen_until):
    """An lm-eval LM answering problem i with case (i + shift); records what it answered and the stops."""

    class Replay(base):
        def generate_until(self, requests, disable_tqdm: bool = False):
            out = []
            for req in requests:
                context, gen_kwargs = req.args
                seen_until.append(list(gen_kwargs.get("until", [])))
                problem = next(p for text, p in by_prompt.items() if text in context)
                all_cases = cases(problem)
                case = all_cases[(order[problem.id] + shift) % len(all_cases)]
                script[problem.id] = (case.name, case.completion, case.reward)
                out.append(case.completion)
            return out

        def loglikelihood(self, requests):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

    return Replay()


def test_replayed_completions_score_as_cfcode_eval(task_dir, frozen_problems, cases):
    """Problem i answers with case (i + shift): two runs cover right, wrong, unformatted and every hack."""
    import lm_eval
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    order = {p.id: i for i, p in enumerate(frozen_problems)}
    by_prompt = {p.prompt: p for p in frozen_problems}
    paid: dict[str, float] = {}
    for shift in (0, 1):
        script: dict[str, tuple[str, str, float]] = {}  # id -> (case name, completion, reward)
        seen_until: list[list[str]] = []

        res = lm_eval.simple_evaluate(model=_replay(LM, by_prompt, cases, order, shift, script, seen_until), tasks=[GROUP], log_samples=True,
                                      task_manager=TaskManager(include_path=str(task_dir)))
        assert seen_until and all("</answer>" not in u for u in seen_until)
        problems = {p.id: p for p in frozen_problems}
        want = _cfcode_means([(problems[pid], c) for pid, (_, c, _) in script.items()])
        for task, mean in want.items():
            assert res["results"][task]["exact_match,none"] == pytest.approx(mean), (shift, task)
        for task_samples in res["samples"].values():
            for sample in task_samples:
                name, _, reward = script[sample["doc"]["id"]]
                assert sample["exact_match"] == reward, name
                paid[name] = sample["exact_match"]
    assert set(paid) == {c.name for c in cases(frozen_problems[0])}
    assert paid["right"] == 1.0 and all(v == 0.0 for name, v in paid.items() if name != "right"), paid
