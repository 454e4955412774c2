"""Shared fixtures: a few generated training problems and one tiny model, built once per session."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
N_PROBLEMS = 16


@pytest.fixture(scope="session")
def train_problems():
    """Real if_else training problems (the local sandbox runs the generator's programs)."""
    from generators import generate
    from sandbox import make_sandbox

    with make_sandbox("local") as sb:
        return generate("if_else", "counterfactual", N_PROBLEMS, 3, split="train", sandbox=sb)


@pytest.fixture(scope="session")
def train_file(tmp_path_factory, train_problems) -> Path:
    from generators import write_problems

    return write_problems(tmp_path_factory.mktemp("data") / "train.jsonl", train_problems)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, train_problems) -> Path:
    """The tiny Qwen2 model, tokenizer trained on the problems' prompts and gold traces."""
    from rl.tiny_model import build_tiny_model

    corpus = [t for p in train_problems for t in (p.prompt, p.gold_trace)]
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", corpus=corpus, seed=0)


def run_python(args: list[str], timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """Run a Python child (vLLM engines live in their own process: clean start, memory freed on exit)."""
    child_env = {**os.environ, "PYTHONPATH": str(REPO), "VLLM_CPU_KVCACHE_SPACE": "1", **env}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=child_env, capture_output=True, text=True,
                          timeout=timeout)


def last_json_line(stdout: str) -> dict:
    import json

    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON result in output:\n{stdout[-3000:]}")
