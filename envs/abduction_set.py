"""Question "abduce_predict": state every latent value consistent with the evidence, then the answer.

Why: whether a model abduced need not be judged from its trace; the consistent latent set is known
exactly (by executing the program over the latent domain in the sandbox), so the abduction step is
checked like the answer. The completion carries two blocks:

    <latents>[1, 4]</latents>                 one latent: a list of values
    <latents>[(2, 2), (3, 1)]</latents>       several: a list of tuples in the declared order
    <answer>[2, 5]</answer>                   the prediction, as for "predict"

Scores, reported separately in `info` and combined with configurable weights:
  * prediction: exactly the "predict" question's scoring (exact, or F1 with its hack rule);
  * abduction: exact (set equality) and F1, gated like the prediction's F1: the set F1 only while
    every stated assignment is possible; one impossible (inconsistent or out-of-domain) assignment
    makes it 0. Hence listing the whole domain never beats an honest answer, and an impossible value
    never earns more than any answer made only of possible values. reward="exact" uses the exact
    parts, reward="f1" the F1 parts.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from envs.abduction import outputs_match, outside_values
from envs.parsing import ParsedAnswer, fenced_spans, in_spans, parse_answer_content
from envs.scoring import COMPOSITE_SCORERS, Score, completion_text, partial_credit, real_list, score_batch
from envs.shared_sandbox import shared_sandbox
from envs.signature import call_args
from envs.values import fresh, value_key
from generators import ANSWER_INSTRUCTIONS, Problem, answer_text, latent_combinations, value_text
from sandbox import CallStatus, Job, Sandbox, SandboxFailure, run_jobs

QUESTION = "abduce_predict"
DEFAULT_ABDUCTION_WEIGHT = 0.5
_OPEN = re.compile(r"<\s*latents\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*latents\s*>", re.IGNORECASE)


def abduce_predict_prompt(problem: Problem) -> str:
    """The problem's own prompt with a two-block answer format: consistent latents, then the answer."""
    body = problem.prompt
    suffix = "\n\n" + ANSWER_INSTRUCTIONS[problem.mode]
    body = body.removesuffix(suffix)
    names = list(problem.latents)
    firsts = [outside_values(problem.latents[n], 2) for n in names]  # format only: never a consistent set
    if len(names) == 1:
        example = answer_text(firsts[0])
        what = (f"First list every value of {names[0]} that is consistent with the observation, inside "
                f"<latents></latents> tags as a Python-style list, in this format (the values shown are not "
                f"among them): <latents>{example}</latents>.")
    else:
        combos = [tuple(f[min(i, len(f) - 1)] for f in firsts) for i in range(2)]
        example = "[" + ", ".join("(" + ", ".join(value_text(v) for v in c) + ")" for c in combos) + "]"
        what = (f"First list every combination of ({', '.join(names)}) that is consistent with the "
                f"observation{'s' if len(problem.observations) > 1 else ''}, inside <latents></latents> tags "
                f"as a Python-style list of tuples in that order, in this format (the values shown are not "
                f"among them): <latents>{example}</latents>.")
    return f"{body.rstrip()}\n\n{what} Then: {ANSWER_INSTRUCTIONS[problem.mode]}"


def latents_text(problem: Problem, assignments: Sequence[dict[str, Any]]) -> str:
    """The <latents> block for assignments: a list of values (one latent) or of tuples (several)."""
    names = list(problem.latents)
    if len(names) == 1:
        body = answer_text([a[names[0]] for a in assignments])
    else:
        body = "[" + ", ".join("(" + ", ".join(value_text(a[n]) for n in names) + ")" for a in assignments) + "]"
    return f"<latents>{body}</latents>"


def extract_latents_block(text: str) -> tuple[str | None, str | None]:
    """(content of the last <latents> block outside code fences, error)."""
    spans = fenced_spans(text) if ("```" in text or "~~~" in text) else []
    last = None
    for m in _OPEN.finditer(text):
        if not in_spans(m.start(), spans):  # a bisection: many fences and tags stay linear
            last = m
    if last is None:
        return None, "no <latents> tag"
    close = _CLOSE.search(text, last.end())
    if close is None or in_spans(close.start(), spans):
        return None, "last <latents> tag is not closed"
    return text[last.end():close.start()], None


def parse_latents(problem: Problem, text: str) -> tuple[set[Hashable] | None, list[Any] | None, str | None]:
    """(assignment keys, parsed values, error). One latent: values; several: tuples (or dicts by name)."""
    content, error = extract_latents_block(text)
    if content is None:
        return None, None, error
    parsed: ParsedAnswer = parse_answer_content(content)
    if not parsed.format_ok:
        return None, None, f"latents: {parsed.error}"
    names = list(problem.latents)
    values = parsed.values
    if parsed.container == "dict":  # a single {name: value} mapping
        values = [values[0]]
    keys: set[Hashable] = set()
    for v in values:
        if len(names) == 1:
            keys.add((value_key(v),))
            continue
        if isinstance(v, dict):
            if set(v) != set(names):
                return None, None, f"latents: a mapping must name exactly {names}"
            v = [v[n] for n in names]
        if not isinstance(v, list) or len(v) != len(names):
            return None, None, f"latents: each entry must be a tuple of {len(names)} values ({', '.join(names)})"
        keys.add(tuple(value_key(x) for x in v))
    return keys, list(values), None


def combo_key(combo: Sequence[Any]) -> tuple[Hashable, ...]:
    return tuple(value_key(v) for v in combo)


def _content_key(problem: Problem) -> str:
    """Everything the consistent set depends on (program content, not the record id), the latents in their
    declared order: the set's tuples follow it, and sort_keys would make (a, b) and (b, a) one key."""
    text = json.dumps([problem.program, problem.entry, problem.inputs, list(problem.latents.items()),
                       problem.observations], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


_GOLD: OrderedDict[str, list[tuple[Any, ...]]] = OrderedDict()
_GOLD_LOCK = threading.Lock()
_GOLD_MAX = 4096


def consistency_table_job(problem: Problem) -> Job:
    """Every latent assignment x every observation, in one job (assignment-major)."""
    return Job(problem.program, problem.entry,
               [call_args(problem, o["args"], c) for c in latent_combinations(problem.latents)
                for o in problem.observations])


def consistent_from(problem: Problem, values: list[Any]) -> list[tuple[Any, ...]]:
    combos = latent_combinations(problem.latents)
    n = len(problem.observations)
    return [c for i, c in enumerate(combos)
            if all(value_key(values[i * n + j]) == value_key(o["output"]) for j, o in enumerate(problem.observations))]


def gold_latents(problems: Sequence[Problem], sandbox: Sandbox | None = None, sandbox_backend: str = "auto"
                 ) -> list[list[tuple[Any, ...]] | str]:
    """The consistent assignments of each problem (cached by content), or the verifier's failure text.
    Interventional records reveal the latents, so their one consistent assignment is the revealed one."""
    out: list[list[tuple[Any, ...]] | str | None] = []
    missing: list[int] = []
    with _GOLD_LOCK:
        for i, p in enumerate(problems):
            if p.mode == "interventional" and p.revealed:  # the latents are given: nothing else is consistent
                out.append([tuple(p.revealed[n] for n in p.latents)])
                continue
            hit = _GOLD.get(_content_key(p))
            out.append(None if hit is None else list(hit))  # a copy: a caller's edit never reaches the cache
            if hit is None:
                missing.append(i)
    if missing:
        try:
            if sandbox is None:
                sandbox = shared_sandbox(sandbox_backend)
            results = run_jobs(sandbox, [consistency_table_job(problems[i]) for i in missing])
        except (SandboxFailure, OSError, RuntimeError) as exc:
            for i in missing:
                out[i] = f"consistent-set check failed: {type(exc).__name__}: {exc}"
            return out  # type: ignore[return-value]
        retry = [i for i, r in zip(missing, results) if r.status not in (CallStatus.OK, CallStatus.SANDBOX_ERROR)]
        one_by_one = _consistent_one_by_one(problems, retry, sandbox) if retry else {}
        for i, result in zip(missing, results):
            if i in one_by_one:
                found = one_by_one[i]
            elif result.status is not CallStatus.OK:
                found = f"consistent-set check failed: {result.status.value} {result.detail}".strip()
            else:
                found = consistent_from(problems[i], result.values or [])
            if isinstance(found, str):
                out[i] = found
                continue
            gold = found
            out[i] = list(gold)
            with _GOLD_LOCK:
                _GOLD[_content_key(problems[i])] = gold
                while len(_GOLD) > _GOLD_MAX:
                    _GOLD.popitem(last=False)
    return out  # type: ignore[return-value]


_PROGRAM_FAILED = frozenset({CallStatus.ERROR, CallStatus.CRASHED, CallStatus.MEMORY, CallStatus.OUTPUT_TOO_LARGE})


def _consistent_one_by_one(problems: Sequence[Problem], indices: list[int], sandbox: Sandbox
                           ) -> dict[int, list[tuple[Any, ...]] | str]:
    """The consistent set of each problem whose table job failed, one job per latent assignment.

    Why: one assignment for which the program raises, crashes or runs long fails (or times out) the whole
    table, and the problem was a verifier failure for every completion. An assignment whose run raises,
    crashes or breaks a limit cannot explain the observation (as for "abduce"); a timeout of its own run or a
    sandbox failure stays a verifier failure (it may be the machine's load)."""
    jobs: list[Job] = []
    owners: list[tuple[int, tuple[Any, ...]]] = []
    for i in indices:
        p = problems[i]
        for combo in latent_combinations(p.latents):
            jobs.append(Job(p.program, p.entry, [call_args(p, o["args"], combo) for o in p.observations]))
            owners.append((i, combo))
    try:
        results = run_jobs(sandbox, jobs)
    except (SandboxFailure, OSError, RuntimeError) as exc:
        return {i: f"consistent-set check failed: {type(exc).__name__}: {exc}" for i in indices}
    found: dict[int, list[tuple[Any, ...]] | str] = {i: [] for i in indices}
    for (i, combo), result in zip(owners, results):
        gold = found[i]
        if isinstance(gold, str) or result.status in _PROGRAM_FAILED:
            continue
        if result.status is not CallStatus.OK:
            found[i] = f"consistent-set check failed: {result.status.value} {result.detail}".strip()
        elif outputs_match(problems[i], result.values or []):
            gold.append(combo)
    return found


@dataclass
class AbductionScore(Score):
    """A `Score` whose `reward` combines abduction and prediction; both parts are kept. `correct` and
    `f1` are the prediction's (comparable with "predict"), `abduction_correct` / `abduction_f1` the
    abduction's."""

    abduction_correct: bool = False
    abduction_f1: float = 0.0
    abduction_reward: float = 0.0  # the abduction part as it enters the reward (exact, or the gated F1)
    parsed_latents: list[Any] | None = None
    gold_latents: list[list[Any]] | None = None
    abduction_error: str | None = None
    prediction_reward: float = 0.0
    abduction_weight: float = DEFAULT_ABDUCTION_WEIGHT

    def info(self) -> dict[str, Any]:
        out = super().info()
        out.update({
            "abduction_correct": self.abduction_correct, "abduction_f1": self.abduction_f1,
            "abduction_reward": self.abduction_reward,
            "parsed_latents": None if self.parsed_latents is None else fresh(list(self.parsed_latents)),
            "gold_latents": None if self.gold_latents is None else [fresh(list(c)) for c in self.gold_latents],
            "abduction_error": self.abduction_error, "prediction_reward": self.prediction_reward,
            "abduction_weight": self.abduction_weight,
        })
        return out


def check_weight(weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise ValueError(f"abduction_weight must be a number in [0, 1], got {weight!r}")
    return float(weight)


def score_abduce_predict(problems: Sequence[Problem], completions: Sequence[Any], reward: str = "exact",
                         sandbox: Sandbox | None = None, sandbox_backend: str = "auto",
                         abduction_weight: float = DEFAULT_ABDUCTION_WEIGHT) -> list[AbductionScore]:
    """Score abduction and prediction of each completion; reward = w * abduction + (1 - w) * prediction."""
    w = check_weight(abduction_weight)
    problems, completions = real_list(problems), real_list(completions)  # what they hold, not what they say
    predictions = score_batch(problems, completions, reward, sandbox, "predict", sandbox_backend=sandbox_backend)
    golds = gold_latents(problems, sandbox, sandbox_backend)
    out = []
    for problem, completion, pred, gold in zip(problems, completions, predictions, golds):
        base = {k: getattr(pred, k) for k in ("correct", "f1", "parsed_answer", "gold", "format_ok",
                                             "verifier_error", "error")}
        if isinstance(gold, str) or pred.verifier_error:
            out.append(AbductionScore(reward=0.0, **{**base, "correct": False,
                                                     "verifier_error": pred.verifier_error or gold},
                                      question=QUESTION, abduction_weight=w))
            continue
        text = completion_text(completion) or ""
        keys, values, error = parse_latents(problem, text)
        gold_keys = {combo_key(c) for c in gold}
        if keys is None:
            a_exact, a_f1 = False, 0.0
        else:
            a_exact, a_f1 = keys == gold_keys, partial_credit(frozenset(keys), frozenset(gold_keys))
            if not a_exact:
                error = "latents include an impossible assignment" if keys - gold_keys else "latents incomplete"
        a_reward = float(a_exact) if reward == "exact" else a_f1
        p_reward = float(pred.reward)
        out.append(AbductionScore(
            reward=w * a_reward + (1.0 - w) * p_reward,
            **{**base, "format_ok": bool(pred.format_ok and keys is not None)},  # correct: the prediction's
            question=QUESTION, abduction_correct=a_exact, abduction_f1=a_f1, abduction_reward=a_reward,
            parsed_latents=values, gold_latents=[list(c) for c in gold], abduction_error=error,
            prediction_reward=p_reward, abduction_weight=w))
    return out


COMPOSITE_SCORERS["abduce_predict"] = score_abduce_predict
