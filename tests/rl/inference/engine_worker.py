"""Child process for the vLLM engine test: the same prompts through VLLMEngine and HFEngine.

    python tests/rl/inference/engine_worker.py MODEL
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict


def main(model: str) -> dict:
    from rl.inference.engines import HFEngine, SamplingConfig, VLLMEngine

    chats = [[{"role": "user", "content": f"We called f(x={i}) and it returned {i + 2}."}] for i in range(4)]
    plain = ["def f(x, r):\n    return", "Step 1 - abduction:"]
    greedy = SamplingConfig(max_tokens=12, temperature=0.0)
    sampled = SamplingConfig(max_tokens=20, temperature=1.0, n=3, seed=7)
    hf = HFEngine(model)
    hf_greedy = hf.generate(chats, greedy)
    hf.close()
    with VLLMEngine(model, dtype="float32", seed=0) as engine:
        out = {
            "greedy": engine.generate(chats, greedy),
            "greedy_n": engine.generate(chats[:2], SamplingConfig(max_tokens=12, temperature=0.0, n=3)),
            "sampled": engine.generate(chats + plain, sampled),
            "sampled_again": engine.generate(chats + plain, sampled),
            "other_seed": engine.generate(
                chats + plain, SamplingConfig(max_tokens=20, temperature=1.0, n=3, seed=8)
            ),
            "stopped": engine.generate(
                plain, SamplingConfig(max_tokens=40, temperature=1.0, n=4, seed=1, stop=["e", "a"])
            ),
        }
    result = {k: [[asdict(c) for c in g] for g in v] for k, v in out.items()}
    result["hf_greedy"] = [[asdict(c) for c in g] for g in hf_greedy]
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)
