"""`CounterfactualCode-v0` / `CounterfactualMath-v0`: one problem per episode, one completion per step.

    import gymnasium as gym
    env = gym.make("envs:CounterfactualCode-v0", families=["if_else"], reward="f1")
    prompt, info = env.reset(seed=0)
    prompt, reward, terminated, truncated, info = env.step("... <answer>[3, 7]</answer>")
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

import gymnasium as gym

from envs.abduction_set import check_weight, score_abduce_predict
from envs.prompts import PROMPT_STYLES
from envs.scoring import check_question, check_reward, score_completion
from envs.sources import FROZEN_TEST, FROZEN_TRAIN, Item, SourceSpec, family_pool, suite_families
from envs.spaces import AnyText
from generators import FAMILIES, MODES, get_family
from sandbox import BACKENDS

RESET_OPTIONS = ("problem_id", "family", "index")


class CounterfactualCodeEnv(gym.Env[str, str]):
    """Single-step text env over counterfactual code problems with a verifier that cannot be gamed.

    Args:
        families: family names (default: the code families of the split, i.e. the training family on
            "train" and every code family on "test"; `CounterfactualMath-v0`: the math family "gsm").
        mode: "counterfactual" (answer: all possible values) or "interventional" (latents revealed).
        split: "train" | "test" (on-the-fly generation; train excludes frozen test programs).
        suite: a JSONL path, "frozen:test" (the frozen held-out suites of `families`) or "frozen:train"
            (the frozen training set); problems then come from it instead of generation.
        level: curriculum level 1-5 (default: each family's default; with a suite: no filter).
        reward: "exact" (1 iff the answer set equals the gold set) | "f1" (set F1, hacks pay 0).
        prompt_style: "plain" (observation is the prompt text) | "chat" (observation is the JSON text
            of `[{"role": "user", "content": prompt}]`).
        question: "predict" (the problem's question) | "abduce" (give one latent value consistent
            with the observation; verified by executing the program in the sandbox) | "abduce_predict"
            (list every consistent latent value in <latents>, then the answer: `envs.abduction_set`).
        abduction_weight: "abduce_predict" only: reward = w * abduction + (1 - w) * prediction;
            `info` carries abduction_correct / abduction_f1 beside correct / f1.
        sandbox_backend: "auto" | "docker" | "local", for execution-verified checks and generation.
        num_problems: problems generated per family (on-the-fly generation), cached per process.
        generation_seed: seed of the generated pool (the reset seed picks problems from it).
        max_prompt_chars, max_completion_chars: lengths declared by the spaces.

    Observation space: `AnyText(max_prompt_chars)`, the prompt (any unicode string).
    Action space: `AnyText(max_completion_chars)`, the model's completion (any unicode string); the
        last `<answer>...</answer>` outside code fences is the answer. A chat message list answers
        through its last assistant message; anything else (None, bytes, numbers) is no answer (0.0).
    Episode: `reset` picks a family uniformly, then a problem uniformly (or as pinned by `options`);
        one `step` scores the completion and terminates (`terminated=True`, `truncated=False`); a
        second `step`, or one before `reset`, raises `gymnasium.error.ResetNeeded`.
    Reward: 1.0/0.0 ("exact") or set F1 ("f1"); 0.0 with `info["verifier_error"]` set when the
        verifier itself failed (mask such samples, do not learn from them).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    math_families = False

    def __init__(self, families: str | list[str] | None = None, mode: str = "counterfactual",
                 split: str = "train", suite: str | None = None, level: int | None = None,
                 reward: str = "exact", prompt_style: str = "plain", question: str = "predict",
                 sandbox_backend: str = "auto", num_problems: int = 128, generation_seed: int = 0,
                 max_prompt_chars: int = 32_768, max_completion_chars: int = 131_072,
                 render_mode: str | None = None, abduction_weight: float = 0.5) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if prompt_style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {prompt_style!r}")
        if sandbox_backend not in BACKENDS:
            raise ValueError(f"sandbox_backend must be one of {BACKENDS}, got {sandbox_backend!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if level is not None and (type(level) is not int or level not in (1, 2, 3, 4, 5)):
            raise ValueError(f"level must be 1-5 or None, got {level!r}")
        for name, value, least in (("num_problems", num_problems, 1), ("max_prompt_chars", max_prompt_chars, 1),
                                   ("max_completion_chars", max_completion_chars, 1)):
            if type(value) is not int or value < least:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if type(generation_seed) is not int:
            raise ValueError(f"generation_seed must be an integer, got {generation_seed!r}")
        self.reward_kind = check_reward(reward)
        self.question = check_question(question)

        self.abduction_weight = check_weight(abduction_weight)
        self.prompt_style = prompt_style
        self.render_mode = render_mode
        self.families = self._resolve_families(families, split, suite)
        self.source = SourceSpec(families=tuple(self.families), mode=mode, split=split, level=level,
                                 question=question, suite=None if suite is None else str(suite),
                                 num_problems=num_problems, generation_seed=generation_seed,
                                 sandbox_backend=sandbox_backend)
        self.observation_space = AnyText(max_prompt_chars)
        self.action_space = AnyText(max_completion_chars)
        self._pools: dict[str, tuple[Item, ...]] = {}
        self._item: Item | None = None
        self._done = False
        self._last: str = ""

    # -- gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode: pick a problem and return `(prompt, info)`.

        `options` may pin `problem_id` (exact id), `family` (one of the env's families) and/or `index`
        (an integer: position in that family's pool, modulo its size); anything else, or a problem
        outside the env's families, is a ValueError and leaves no episode to step. The choice uses only
        `self.np_random`, so the same seed gives the same problem. `info`: problem_id, family, mode,
        level, question.
        """
        super().reset(seed=seed)
        self._item, self._done = None, True  # a reset that fails leaves nothing to step
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options must be a dict with keys from {list(RESET_OPTIONS)}, "
                             f"got {type(options).__name__}")
        if options:
            item = self._pinned(options)
        else:
            pool = self.pool(self.families[int(self.np_random.integers(len(self.families)))]
                              if len(self.families) > 1 else self.families[0])
            item = pool[int(self.np_random.integers(len(pool)))]
        self._item = item
        self._done = False
        self._last = ""
        return self._observation(item), self._problem_info(item)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Score the completion `action`; returns `(prompt, reward, True, False, info)`.

        `info`: correct, f1, parsed_answer (list or None), gold (list), format_ok, verifier_error
        (None or the reason the verifier failed), error (why the answer earned nothing), question,
        problem_id, family, mode, level. Timings are deliberately not in `info` (determinism).
        """
        if self._item is None or self._done:
            raise gym.error.ResetNeeded("call reset() before step(); each episode is a single step")
        item = self._item
        if self.question == "abduce_predict":
            (score,) = score_abduce_predict([item.problem], [action], self.reward_kind,
                                            sandbox_backend=self.source.sandbox_backend,
                                            abduction_weight=self.abduction_weight)
        else:
            score = score_completion(item.problem, action, reward=self.reward_kind, question=self.question,
                                     gold_keys=item.gold_keys, sandbox_backend=self.source.sandbox_backend)
        self._done = True
        self._last = action if isinstance(action, str) else repr(action)
        info = score.info()
        info.update(self._problem_info(item))
        return self._observation(item), float(score.reward), True, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._item is None:
            return "(no episode: call reset())"
        text = f"[{self._item.problem.id}]\n{self._item.prompt}\n"
        return text + (f"\n--- completion ---\n{self._last}\n" if self._last else "")

    # -- helpers -------------------------------------------------------------------------------
    def _observation(self, item: Item) -> str:
        if self.prompt_style == "chat":
            return json.dumps([{"role": "user", "content": item.prompt}], ensure_ascii=False)
        return item.prompt

    def _problem_info(self, item: Item) -> dict[str, Any]:
        p = item.problem
        return {"problem_id": p.id, "family": p.family, "mode": p.mode, "level": p.level,
                "question": self.question}

    def pool(self, family: str) -> tuple[Item, ...]:
        """The prepared problems of one family (loaded or generated on first use; shared per process)."""
        pool = self._pools.get(family)
        if pool is None:
            pool = family_pool(self.source, family)
            too_long = [it.problem.id for it in pool if not self.observation_space.contains(self._observation(it))]
            if too_long:
                raise ValueError(f"{len(too_long)} prompt(s) of {family!r} exceed max_prompt_chars="
                                 f"{self.observation_space.max_length}, e.g. {too_long[0]}; raise max_prompt_chars")
            self._pools[family] = pool
        return pool

    def _pinned(self, options: dict[str, Any]) -> Item:
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; known: {list(RESET_OPTIONS)}")
        family = options.get("family")
        if family is not None and family not in self.families:
            raise ValueError(f"reset option family {family!r} is not one of this env's families {self.families}")
        if options.get("problem_id") is not None:
            return self._find(str(options["problem_id"]), family)
        if family is None:
            family = self.families[int(self.np_random.integers(len(self.families)))]
        pool = self.pool(family)
        index = options.get("index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise ValueError(f"reset option index must be an integer, got {index!r}")
        return pool[index % len(pool) if index is not None else int(self.np_random.integers(len(pool)))]

    def _find(self, problem_id: str, family: str | None = None) -> Item:
        prefix = problem_id.split(":", 1)[0]  # generated ids start with their family: look there first
        candidates = [family] if family else sorted(self.families, key=lambda fam: fam != prefix)
        for fam in candidates:
            for item in self.pool(fam):
                if item.problem.id == problem_id:
                    return item
        raise ValueError(f"problem {problem_id!r} is not in this env's pool ({self.source})")

    def _resolve_families(self, families: str | list[str] | None, split: str, suite: str | None) -> list[str]:
        if isinstance(families, str):
            families = [families]
        if families is not None and (not isinstance(families, (list, tuple))
                                     or not all(isinstance(name, str) for name in families)):
            raise ValueError(f"families must be a family name or a list of names, got {families!r}")
        if families is None:
            names = suite_families(str(suite)) if suite is not None else None
            if names is None:  # generation or frozen test suites: training excludes OOD code families
                names = [n for n, s in FAMILIES.items() if split == "test" or not s.ood or s.math]
            families = [n for n in names if _is_math(n, suite) == self.math_families]
            if not families:
                raise ValueError(f"no {'math' if self.math_families else 'code'} families available "
                                 f"(split={split}, suite={suite!r})")
        families = list(dict.fromkeys(families))
        for name in families:
            if not _from_file(suite):  # a suite file may hold unregistered families (`cfcode counterfactualize`)
                get_family(name)  # clear error for unknown names
        if not families:
            raise ValueError("families must not be empty")
        return families


def _from_file(suite: str | None) -> bool:
    return suite is not None and str(suite) not in (FROZEN_TEST, FROZEN_TRAIN)


def _is_math(name: str, suite: str | None) -> bool:
    """Registered families say; a family only found in a suite file is code (e.g. "custom")."""
    if name not in FAMILIES and _from_file(suite):
        return False
    return get_family(name).math


class CounterfactualMathEnv(CounterfactualCodeEnv):
    """`CounterfactualMath-v0`: the same contract over the GSM-style word-problem family ("gsm")."""

    math_families = True
