"""`cfcode distill`: teacher traces over the OpenAI API, rejection-sampled by the env's verifier."""
from __future__ import annotations

import json

import pytest

from rl.inference.engines import Completion, HFEngine, RolloutEngine, SamplingConfig, make_engine
from rl.inference.openai_server import serve_in_thread
from rl.training.distill import DistillConfig, run_distill

WRONG = "I skipped the abduction.\n<answer>[123456789]</answer>"


class GoldOrWrongTeacher(RolloutEngine):
    """A stand-in teacher with known quality: sample j of a prompt is the gold trace when j is even and a
    wrong answer when j is odd, so the test knows exactly which traces rejection sampling must keep."""

    def __init__(self, problems) -> None:
        self.gold = {p.prompt: p.gold_trace for p in problems}
        self.calls = 0

    def generate(self, prompts, sampling=None):
        sampling = sampling or SamplingConfig()
        self.calls += 1
        out = []
        for messages in prompts:
            gold = self.gold[messages[-1]["content"]]
            texts = [gold if j % 2 == 0 else WRONG for j in range(sampling.n)]
            out.append([Completion(text=t, n_tokens=len(t.split()), finish_reason="stop") for t in texts])
        return out


@pytest.fixture(scope="module")
def served_tiny_model(tiny_model):
    engine = HFEngine(tiny_model, batch_size=8)
    with serve_in_thread(engine, model_name="tiny") as server:
        yield server
    engine.close()


def test_openai_engine_against_local_server(served_tiny_model):
    engine = make_engine(served_tiny_model.engine_spec())
    chats = [[{"role": "user", "content": "We called f(x=1) and it returned 3."}]] * 2
    out = engine.generate(chats + ["def f(x):"], SamplingConfig(max_tokens=8, temperature=1.0, n=2, seed=3))
    assert [len(g) for g in out] == [2, 2, 2]
    assert all(c.finish_reason in ("stop", "length") and 0 < c.n_tokens <= 8 for g in out for c in g)
    # Seeded sampling through HTTP is reproducible, like the local engines.
    again = engine.generate(chats[:1], SamplingConfig(max_tokens=8, temperature=1.0, n=2, seed=3))
    assert [c.text for c in again[0]] == [c.text for c in out[0]]
    engine.close()


def test_distill_keeps_only_verified_traces_and_resumes(train_problems, tiny_model, tmp_path):
    from rl.training.config import SFTRunConfig
    from rl.training.sft import run_sft

    problems = train_problems[:6]
    teacher = GoldOrWrongTeacher(problems)
    out = tmp_path / "traces.jsonl"
    with serve_in_thread(teacher, model_name="teacher") as server:
        cfg = DistillConfig(endpoint=server.engine_spec(), out=str(out), samples_per_problem=3,
                            keep_per_problem=1, batch_size=4, max_tokens=64)
        report = run_distill(cfg, problems=problems)
        assert (report.problems, report.samples, report.kept, report.problems_with_trace) == (6, 18, 6, 6)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        by_id = {p.id: p for p in problems}
        assert sorted(r["problem_id"] for r in rows) == sorted(by_id)
        for r in rows:
            assert r["reward"] == 1.0
            assert r["completion"] == [{"role": "assistant", "content": by_id[r["problem_id"]].gold_trace}]
            assert r["prompt"][-1]["content"] == by_id[r["problem_id"]].prompt

        calls = teacher.calls
        again = run_distill(cfg, problems=problems)  # rerun: everything already sampled
        assert (again.problems, again.skipped, again.samples) == (0, 6, 0) and teacher.calls == calls

        cfg2 = DistillConfig(
            endpoint=server.engine_spec(),
            out=str(tmp_path / "k2.jsonl"),
            samples_per_problem=4,
            keep_per_problem=2,
            batch_size=8,
        )
        assert run_distill(cfg2, problems=problems[:2]).kept == 4  # both gold samples of each problem

    # The kept traces are SFT data as they are.
    final = run_sft(
        SFTRunConfig(
            model=str(tiny_model),
            output_dir=str(tmp_path / "sft"),
            traces=str(out),
            max_steps=1,
            per_device_train_batch_size=2,
            max_length=1024,
            save_steps=10,
        )
    )
    assert (final / "model.safetensors").is_file()


def test_distill_with_a_real_model_endpoint(served_tiny_model, train_problems, tmp_path):
    """The random tiny model behind HTTP: every sample is scored; only verified ones may be kept."""
    cfg = DistillConfig(
        endpoint=served_tiny_model.engine_spec(),
        out=str(tmp_path / "t.jsonl"),
        samples_per_problem=2,
        max_tokens=16,
        batch_size=2,
    )
    report = run_distill(cfg, problems=train_problems[:3])
    assert report.samples == 6 and report.problems == 3
    kept = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()] if report.kept else []
    assert all(r["reward"] >= 1.0 for r in kept)
