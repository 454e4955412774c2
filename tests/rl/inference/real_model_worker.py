"""Child process for the real-model test: SmolLM2 through HFEngine and VLLMEngine on two problems.

    python tests/rl/inference/real_model_worker.py MODEL_DIR

Prints one JSON line: per engine, the completions and the env's score of each (parsed or not).
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict


def main(model: str) -> dict:
    import envs
    from envs.scoring import score_batch
    from rl.evaluation.suite_selection import load_named_suites
    from rl.inference.engines import HFEngine, SamplingConfig, VLLMEngine

    (_, _, problems), = load_named_suites(["if_else"], ["counterfactual"], None)
    problems = problems[:2]
    prompts = [envs.render_prompt(p) for p in problems]
    short = [[{"role": "user", "content": "Reply with the single word yes."}]]
    greedy = SamplingConfig(max_tokens=96, temperature=0.0)
    out: dict = {}
    hf = HFEngine(model, batch_size=2)
    out["hf"] = hf.generate(prompts, greedy)
    out["hf_short"] = hf.generate(short, SamplingConfig(max_tokens=48, temperature=0.0))
    out["rendered"] = hf.tokenizer.apply_chat_template(short[0], tokenize=False, add_generation_prompt=True)
    hf.close()
    with VLLMEngine(model, dtype="float32", seed=0, max_model_len=4096) as engine:
        out["vllm"] = engine.generate(prompts, greedy)
        out["vllm_short"] = engine.generate(short, SamplingConfig(max_tokens=48, temperature=0.0))
    result = {k: ([[asdict(c) for c in g] for g in v] if k != "rendered" else v) for k, v in out.items()}
    for name in ("hf", "vllm"):
        scores = score_batch(problems, [g[0].text for g in out[name]], sandbox_backend="local")
        result[name + "_scores"] = [{"format_ok": s.format_ok, "correct": s.correct, "reward": s.reward,
                                     "parsed": repr(s.parsed_answer)} for s in scores]
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)
