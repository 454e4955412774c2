"""Shared fixtures and helpers of the rl tests: a few generated training problems and one tiny model,
a small suites directory generated for real (every family, both modes), built once per session;
child-process helpers (run_python, last_json_line) and eval_config."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
N_PROBLEMS = 16
MINI_SUITE_SIZE = 8


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
    from rl.training.tiny_model import build_tiny_model

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


@pytest.fixture(scope="session")
def local_sandbox():
    from sandbox import make_sandbox

    sb = make_sandbox("local")
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def mini_suites(tmp_path_factory, local_sandbox) -> Path:
    """`<dir>/test/<family>.<mode>.jsonl` for every registered family, like the frozen suites."""
    from generators import FAMILIES, generate, write_problems

    root = tmp_path_factory.mktemp("suites")
    for family in sorted(FAMILIES):
        for mode in FAMILIES[family].modes:
            problems = generate(family, mode, MINI_SUITE_SIZE, seed=11, split="test", sandbox=local_sandbox)
            write_problems(root / "test" / f"{family}.{mode}.jsonl", problems)
    return root


def eval_config(suites_dir: Path, model: str, **kw):
    from rl.evaluation import EvalConfig

    return EvalConfig(model=model, suites_dir=str(suites_dir), sandbox=kw.pop("sandbox", "local"),
                      bootstrap_resamples=kw.pop("bootstrap_resamples", 200), **kw)
