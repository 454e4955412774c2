"""OpenEnv (openenv 0.10.0): the env as an OpenEnv `Environment`, its server app, a client, and TRL's shape.

    python -m envs.adapters.openenv_env --port 8000 --families if_else --max-concurrent-envs 64

    from envs.adapters.openenv_env import CounterfactualEnvClient, CounterfactualAction
    with CounterfactualEnvClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=0)                      # result.observation.prompt
        result = env.step(CounterfactualAction(completion="... <answer>[3, 7]</answer>"))
        result.reward, result.observation.correct, result.observation.f1

Why a wrapper of `CounterfactualCodeEnv` and nothing else: the server's `step` is the gymnasium env's
`step`, so a completion is parsed and scored by `envs.parsing` / `envs.scoring` exactly as in
`cfcode eval`. One episode is one problem and one completion; a second `step` in the same episode
is refused (several tries cannot pay). Episodes run over the WebSocket session (`/ws`): OpenEnv's
HTTP `/reset` and `/step` create a fresh env per request, so they cannot carry an episode.

TRL: `GRPOTrainer(environment_factory=trl_environment_factory(url), reward_funcs=[openenv_reward])`.
"""
from __future__ import annotations

import asyncio
import functools
import sys
import uuid
from typing import Any, ClassVar

from openenv.core import EnvClient
from openenv.core.client_types import StepResult
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

from envs.code_env import CounterfactualCodeEnv
from envs.scoring import completion_text, real_list

ENV_NAME = "counterfactual_code"


class CounterfactualAction(Action):
    """The model's whole reply; the last `<answer>...</answer>` outside code fences is its answer."""

    completion: str = Field(..., description="the model's completion (free text ending with <answer>[...]</answer>)")


class CounterfactualObservation(Observation):
    """After `reset`: the problem (prompt and ids). After `step`: also the verdict (`done=True`)."""

    prompt: str = Field(default="", description="what the model reads")
    problem_id: str = Field(default="", description="family:mode:split:seed:idx")
    family: str = ""
    mode: str = ""
    level: int | None = None
    question: str = "predict"
    correct: bool | None = Field(default=None, description="answer set equals the gold set (after step)")
    f1: float | None = None
    format_ok: bool | None = None
    parsed_answer: Any = Field(default=None, description="list of answered values, or None")
    gold: Any = Field(default=None, description="list of gold values, revealed only after the step")
    error: str | None = Field(default=None, description="why the answer earned nothing")
    verifier_error: str | None = Field(default=None, description="the verifier itself failed: mask, do not learn")


class CounterfactualState(State):
    """Episode id and step count (OpenEnv's), plus which problem is open and whether it was answered."""

    problem_id: str | None = None
    family: str | None = None
    answered: bool = False


class CounterfactualEnvironment(Environment[CounterfactualAction, CounterfactualObservation, CounterfactualState]):
    """Server-side env: one per WebSocket session; keyword arguments are `CounterfactualCodeEnv`'s.

    Problem pools are cached per process (`envs.sources`), so a session costs one small object.
    `reset(seed=, problem_id=, family=, index=)` pins a problem like the gymnasium env's `options`.
    The episode's bookkeeping is plain attributes (the `state` model is built when asked for): a
    pydantic model per message costs as much as scoring the completion on the exact path.
    """

    SUPPORTS_CONCURRENT_SESSIONS: ClassVar[bool] = True  # no shared mutable state between instances

    def __init__(self, **env_kwargs: Any) -> None:
        super().__init__()
        self._env = CounterfactualCodeEnv(**env_kwargs)
        self._episode_id: str | None = None
        self._problem_id: str | None = None
        self._family: str | None = None
        self._answered = False
        self._first: dict[tuple[str, str], CounterfactualObservation] = {}
        # the exact "predict" path never touches the sandbox: the server may run it on its event loop
        self.inline = self._env.reward_kind == "exact" and self._env.question == "predict"

    def reset(self, seed: int | None = None, episode_id: str | None = None, problem_id: str | None = None,
              family: str | None = None, index: int | None = None, **_: Any) -> CounterfactualObservation:
        options = {k: v for k, v in (("problem_id", problem_id), ("family", family), ("index", index))
                   if v is not None}
        prompt, info = self._env.reset(seed=seed, options=options or None)
        self._episode_id = episode_id or uuid.uuid4().hex
        self._problem_id, self._family, self._answered = info["problem_id"], info["family"], False
        key = (self._problem_id, prompt)  # the prompt too: a suite may hold two records under one id
        obs = self._first.get(key)
        if obs is None:  # a problem's first observation never changes: built once, shared (read-only)
            obs = self._first[key] = _observation(
                {"prompt": prompt, "done": False, "reward": None, "problem_id": info["problem_id"],
                 "family": info["family"], "mode": info["mode"], "level": info["level"],
                 "question": info["question"]})
        return obs

    def step(self, action: CounterfactualAction, timeout_s: float | None = None,
             **_: Any) -> CounterfactualObservation:
        if self._problem_id is None or self._answered:
            raise RuntimeError("call reset() before step(); each episode takes exactly one completion")
        prompt, reward, _terminated, _truncated, info = self._env.step(action.completion)
        self._answered = True
        fields = {k: v for k, v in info.items() if k in _OBS_FIELDS}  # info may grow keys; the model forbids extras
        return _observation({**fields, "prompt": prompt, "done": True, "reward": reward})

    # OpenEnv awaits these when overridden instead of hopping to a worker thread per message. Reset only
    # reads warm pools (`create_counterfactual_app` fills them) and the exact path is pure CPU work of a
    # few microseconds, so both run inline; sandbox-backed scoring (F1 hack rule, abduce) keeps a thread.
    async def reset_async(self, seed: int | None = None, episode_id: str | None = None,
                          problem_id: str | None = None, family: str | None = None, index: int | None = None,
                          **kwargs: Any) -> CounterfactualObservation:
        return self.reset(seed, episode_id, problem_id, family, index, **kwargs)

    async def step_async(self, action: CounterfactualAction, timeout_s: float | None = None,
                         **kwargs: Any) -> CounterfactualObservation:
        if self.inline:
            return self.step(action, timeout_s, **kwargs)
        return await asyncio.to_thread(self.step, action, timeout_s, **kwargs)

    @property
    def state(self) -> CounterfactualState:
        return CounterfactualState(episode_id=self._episode_id, step_count=int(self._answered),
                                   problem_id=self._problem_id, family=self._family, answered=self._answered)

    def warm(self) -> None:
        """Load or generate every family's pool now (once per process), not inside a session's reset."""
        for family in self._env.families:
            self._env.pool(family)


_OBS_FIELDS = frozenset(CounterfactualObservation.model_fields)
_observation = CounterfactualObservation.model_validate  # from a dict: faster than keyword construction


def create_counterfactual_app(max_concurrent_envs: int = 64, **env_kwargs: Any):
    """The FastAPI app (OpenEnv's `create_app`): `/ws` sessions, `/schema`, `/health`, stateless HTTP.

    `env_kwargs` (families, mode, suite, reward, ...) are checked and the problem pools loaded now, so a
    typo fails at start-up and no session waits for a generation.
    """
    CounterfactualEnvironment(**env_kwargs).warm()
    return create_app(functools.partial(CounterfactualEnvironment, **env_kwargs), CounterfactualAction,
                      CounterfactualObservation, env_name=ENV_NAME, max_concurrent_envs=max_concurrent_envs,
                      state_cls=CounterfactualState)


class CounterfactualEnvClient(EnvClient[CounterfactualAction, CounterfactualObservation, CounterfactualState]):
    """WebSocket client: one server-side session per client (`.sync()` for synchronous use)."""

    def _step_payload(self, action: CounterfactualAction) -> dict[str, Any]:
        return {"completion": action.completion}

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[CounterfactualObservation]:
        fields = dict(payload.get("observation") or {})
        fields.pop("metadata", None)
        obs = CounterfactualObservation(done=payload.get("done", False), reward=payload.get("reward"), **fields)
        return StepResult(observation=obs, reward=payload.get("reward"), done=payload.get("done", False),
                          metadata=payload.get("metadata"))

    def _parse_state(self, payload: dict[str, Any]) -> CounterfactualState:
        return CounterfactualState(**payload)


# -- TRL `GRPOTrainer(environment_factory=...)` ---------------------------------------------------------

class TRLCounterfactualEnv:
    """What TRL's `environment_factory` builds: one OpenEnv session per rollout, no tools.

    TRL calls `reset(**row)` before generation. With no `train_dataset` (the env owns the data) the
    row's prompt is TRL's empty placeholder and `reset` returns the problem's prompt, which TRL
    appends to that user message. A dataset row that already shows a problem must carry its
    `problem_id` (then `reset` returns None). The completion is scored by `openenv_reward`, which
    sends it as the episode's single step. Public methods would become tools, hence the `_` names.
    """

    base_url: ClassVar[str] = "http://127.0.0.1:8000"

    def __init__(self) -> None:
        self._client = CounterfactualEnvClient(base_url=self.base_url).sync()
        self._client.connect()
        self._result: StepResult[CounterfactualObservation] | None = None
        self._answered_text: str | None = None
        self.problem_id: str | None = None

    def reset(self, **row: Any) -> str | None:
        shown = _prompt_has_text(row.get("prompt"))
        if shown and row.get("problem_id") is None:
            raise ValueError("a dataset row that shows a prompt must carry 'problem_id' (the env must score "
                             "the problem the model saw); or train without a dataset and let reset() supply it")
        kwargs = {k: row[k] for k in ("seed", "problem_id") if row.get(k) is not None}
        obs = self._client.reset(**kwargs).observation
        self.problem_id, self._result, self._answered_text = obs.problem_id, None, None
        return None if shown else obs.prompt

    def _answer(self, completion: Any) -> StepResult[CounterfactualObservation]:
        """The episode's verdict on `completion` (its one step; asked again for the same text, the same verdict).
        Another completion in the same episode is refused: the verdict it would get is not this one's."""
        text = completion_text(completion)
        text = text if text is not None else ""
        if self._result is None:
            self._result, self._answered_text = self._client.step(CounterfactualAction(completion=text)), text
        elif text != self._answered_text:
            raise RuntimeError("this environment already scored another completion; an episode takes one "
                               "completion (reset() starts the next)")
        return self._result

    def _close(self) -> None:
        self._client.close()


def trl_environment_factory(base_url: str) -> type[TRLCounterfactualEnv]:
    """A zero-argument class bound to one server, as `environment_factory` wants (pass the class)."""
    return type("TRLCounterfactualEnv", (TRLCounterfactualEnv,), {"base_url": base_url})


def openenv_reward(completions: list[Any], environments: list[TRLCounterfactualEnv], **_: Any) -> list[float | None]:
    """TRL reward function: each completion is its environment's single step (None: verifier failed)."""
    completions, environments = real_list(completions), real_list(environments)  # what they hold, not what they say
    if len(completions) != len(environments):
        raise ValueError(f"{len(completions)} completions but {len(environments)} environments")
    rewards: list[float | None] = []
    for completion, env in zip(completions, environments):
        obs = env._answer(completion).observation
        rewards.append(None if obs.verifier_error is not None else float(obs.reward or 0.0))
    return rewards


def _prompt_has_text(prompt: Any) -> bool:
    if isinstance(prompt, str):
        return bool(prompt.strip())
    if isinstance(prompt, (list, tuple)) and prompt and isinstance(prompt[-1], dict):
        content = prompt[-1].get("content")
        return bool(content.strip()) if isinstance(content, str) else bool(content)
    return False


# -- server entry point ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    import argparse

    import uvicorn

    p = argparse.ArgumentParser(prog="python -m envs.adapters.openenv_env",
                                description="Serve CounterfactualCode-v0 as an OpenEnv environment.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-concurrent-envs", type=int, default=64, help="WebSocket sessions at once")
    p.add_argument("--families", default=None, help="comma-separated family names (default: the env's)")
    p.add_argument("--mode", default="counterfactual")
    p.add_argument("--split", default="train")
    p.add_argument("--suite", default=None, help="JSONL path, frozen:test or frozen:train")
    p.add_argument("--level", type=int, default=None)
    p.add_argument("--reward", default="exact")
    p.add_argument("--question", default="predict")
    p.add_argument("--sandbox-backend", default="auto")
    p.add_argument("--num-problems", type=int, default=128)
    p.add_argument("--generation-seed", type=int, default=0)
    a = p.parse_args(argv)
    kwargs = {"families": a.families.split(",") if a.families else None, "mode": a.mode, "split": a.split,
              "suite": a.suite, "level": a.level, "reward": a.reward, "question": a.question,
              "sandbox_backend": a.sandbox_backend, "num_problems": a.num_problems,
              "generation_seed": a.generation_seed}
    if a.max_concurrent_envs < 1:
        p.error(f"--max-concurrent-envs must be >= 1, got {a.max_concurrent_envs}")
    try:
        app = create_counterfactual_app(max_concurrent_envs=a.max_concurrent_envs, **kwargs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
