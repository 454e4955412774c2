"""Completion -> reward: the verifier shared by the env, the TRL reward function and evaluation.

Rewards (`reward=`):
  * "exact": 1.0 iff the answer set equals the gold set;
  * "f1": partial credit, the set F1 between answer and gold, paid only while *every* value of the
    answer is possible under the observation (is in the gold set). One impossible value makes it
    0.0, so an answer containing an impossible value never earns more than any answer made only of
    possible values (those earn >= 0): listing extra outputs, hedging between candidates or listing
    every reachable output cannot pay. An interventional question has one value, so there F1 pays
    exactly what "exact" pays. `Score.f1` is this same gated number in every mode.

Questions (`question=`): "predict" (the problem's own question, checked against `problem.answer`)
or "abduce" (give one consistent latent value, checked by executing the program: `envs.abduction`;
any consistent value is right, so both rewards pay 1.0 or 0.0).

Only "abduce" needs the sandbox. Sandbox failures never become a silent 0: the score carries
`verifier_error`, and the TRL reward function returns None for that sample.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from envs.abduction import assignment_from, consistency_job, outputs_match
from envs.parsing import ParsedAnswer, parse_answer
from envs.shared_sandbox import shared_sandbox
from envs.signature import call_args
from envs.values import fresh, key_set
from generators import Problem, latent_combinations
from sandbox import CallStatus, Job, JobResult, LocalFallbackRefused, Sandbox, SandboxFailure, run_jobs

REWARDS = ("exact", "f1")
QUESTIONS = ("predict", "abduce", "abduce_predict")  # abduce_predict: envs.abduction_set
# Scorers of questions built on top of this module, registered by their modules so this one need not
# import them (no cycle): envs.abduction_set registers "abduce_predict"; `import envs` loads it.
COMPOSITE_SCORERS: dict[str, Callable[..., list[Score]]] = {}


@dataclass
class Score:
    """Verdict on one completion. `reward` is 0.0 when `verifier_error` is set (check it)."""

    reward: float
    correct: bool
    f1: float
    parsed_answer: list[Any] | None
    gold: list[Any]
    format_ok: bool
    verifier_error: str | None = None
    error: str | None = None  # why the answer earned nothing: parse error, hack rule, wrong value
    question: str = "predict"

    def info(self) -> dict[str, Any]:
        """A fresh dict (new lists and dicts all the way down), as gymnasium requires of `info`: the gold
        is the problem's own list, which later episodes are scored against."""
        return {
            "correct": self.correct,
            "f1": self.f1,
            "parsed_answer": None if self.parsed_answer is None else fresh(list(self.parsed_answer)),
            "gold": fresh(list(self.gold)),
            "format_ok": self.format_ok,
            "verifier_error": self.verifier_error,
            "error": self.error,
            "question": self.question,
        }


def check_reward(reward: str) -> str:
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    return reward


def check_question(question: str) -> str:
    if question not in QUESTIONS:
        raise ValueError(f"question must be one of {QUESTIONS}, got {question!r}")
    return question


def completion_text(completion: Any) -> str | None:
    """The model's own text: a string, or the last assistant message of TRL's conversational form.

    Only what the model wrote can answer: messages of other roles (user, system, tool) are never read
    (a tool's reply or an echoed prompt is not an answer), nor content parts other than text (e.g.
    reasoning). A str subclass is read as its plain characters, a list or tuple subclass by the items it
    holds, a dict subclass through dict's own methods (their overrides could lie about them)."""
    if isinstance(completion, str):
        return str.__str__(completion)
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)):  # dict.get: a dict subclass's own get() could lie too
        assistant = [m for m in real_items(completion)
                     if isinstance(m, dict) and _is_assistant(dict.get(m, "role", "assistant"))]
        if not assistant:
            return None
        content = dict.get(assistant[-1], "content")
        if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
            texts = [dict.get(p, "text") for p in real_items(content)
                     if isinstance(p, dict) and _is_text_part(dict.get(p, "type", "text"))]
            content = "".join(str.__str__(t) for t in texts if isinstance(t, str))
        return str.__str__(content) if isinstance(content, str) else None
    return None


def real_items(seq: list[Any] | tuple[Any, ...]) -> Any:
    """The items a list or tuple really holds (a subclass's own __iter__ could yield anything)."""
    return list.__iter__(seq) if isinstance(seq, list) else tuple.__iter__(seq)


def real_list(seq: Any) -> list[Any]:
    """A batch as a plain list of the items it holds (a list or tuple subclass's __iter__ could lie)."""
    return list(real_items(seq)) if isinstance(seq, (list, tuple)) else list(seq)


def _is_assistant(role: Any) -> bool:
    return type(role) is str and role == "assistant"


def _is_text_part(kind: Any) -> bool:
    return type(kind) is str and kind in ("text", "output_text")  # chat completions / responses API


def score_completion(problem: Problem, completion: Any, reward: str = "exact",
                     sandbox: Sandbox | None = None, question: str = "predict",
                     gold_keys: frozenset[Hashable] | None = None, sandbox_backend: str = "auto") -> Score:
    """Score one completion (see `score_batch`). `gold_keys` is an optional precomputed cache."""
    if question == "predict" and isinstance(completion, str):  # the hot path: no sandbox, no batch
        check_reward(reward)
        return _score_predict(problem, parse_answer(completion), reward,
                              key_set(problem.answer) if gold_keys is None else gold_keys)
    return score_batch([problem], [completion], reward, sandbox, question,
                       gold_keys=None if gold_keys is None else [gold_keys], sandbox_backend=sandbox_backend)[0]


@dataclass
class _Pending:
    """An "abduce" score waiting for its consistency check in the sandbox."""

    index: int
    job: Job
    problem: Problem
    parsed: ParsedAnswer


def score_batch(problems: Sequence[Problem], completions: Sequence[Any], reward: str = "exact",
                sandbox: Sandbox | None = None, question: str | Sequence[str] = "predict",
                gold_keys: Sequence[frozenset[Hashable] | None] | None = None,
                sandbox_backend: str = "auto") -> list[Score]:
    """Score completions; the sandbox work of the batch ("abduce" checks) goes out in one packed request.

    "predict" questions parse and compare only. The sandbox (given, or the shared `sandbox_backend`
    one) runs each "abduce" check in a process of its own (`sandbox.run_jobs`).
    """
    check_reward(reward)
    problems, completions = real_list(problems), real_list(completions)
    if len(problems) != len(completions):
        raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
    single = isinstance(question, str) or not hasattr(question, "__iter__")  # None: check_question says why
    questions = [question] * len(problems) if single else real_list(question)
    if len(questions) != len(problems):
        raise ValueError(f"{len(problems)} problems but {len(questions)} questions")
    if "abduce_predict" in questions:
        return _split_abduce_predict(problems, completions, reward, sandbox, questions, gold_keys, sandbox_backend)
    scores: list[Score | None] = [None] * len(problems)
    pending: list[_Pending] = []
    for i, (problem, completion, q) in enumerate(zip(problems, completions, questions)):
        check_question(q)
        text = completion_text(completion)
        parsed = parse_answer(text) if text is not None else ParsedAnswer(
            error=f"completion of type {type(completion).__name__} has no text")
        if q == "abduce":
            scores[i] = _start_abduce(i, problem, parsed, pending)
        else:
            gk = gold_keys[i] if gold_keys is not None and gold_keys[i] is not None else key_set(problem.answer)
            scores[i] = _score_predict(problem, parsed, reward, gk)
    if pending:
        _resolve(pending, scores, sandbox, sandbox_backend)
    return scores  # type: ignore[return-value]


def partial_credit(answer: frozenset[Hashable], gold: frozenset[Hashable]) -> float:
    """The "f1" reward: set F1 if every answer value is possible (in `gold`), else 0.0.

    Why gated: plain F1 pays for extra values (gold 3 of 5 reachable: the 3 gold values plus one
    impossible value score 0.857, more than 2 right values alone, 0.8). With the gate, an answer with
    an impossible value earns 0.0 <= the credit of any answer made only of possible values."""
    if answer == gold:
        return 1.0
    if not answer or not answer <= gold:
        return 0.0
    return 2.0 * len(answer) / (len(answer) + len(gold))


def _split_abduce_predict(problems: Sequence[Problem], completions: Sequence[Any], reward: str,
                          sandbox: Sandbox | None, questions: list[str],
                          gold_keys: Sequence[frozenset[Hashable] | None] | None, sandbox_backend: str
                          ) -> list[Score]:
    """"abduce_predict" items go to `envs.abduction_set` (default weights), the rest score as usual."""
    score_abduce_predict = COMPOSITE_SCORERS["abduce_predict"]
    for q in questions:
        check_question(q)
    mine = [i for i, q in enumerate(questions) if q == "abduce_predict"]
    rest = [i for i, q in enumerate(questions) if q != "abduce_predict"]
    out: list[Score | None] = [None] * len(problems)
    for i, s in zip(mine, score_abduce_predict([problems[i] for i in mine], [completions[i] for i in mine],
                                               reward, sandbox, sandbox_backend)):
        out[i] = s
    if rest:
        keys = None if gold_keys is None else [gold_keys[i] for i in rest]
        for i, s in zip(rest, score_batch([problems[i] for i in rest], [completions[i] for i in rest], reward,
                                          sandbox, [questions[i] for i in rest], keys, sandbox_backend)):
            out[i] = s
    return out  # type: ignore[return-value]


def _score_predict(problem: Problem, parsed: ParsedAnswer, reward: str, gold: frozenset[Hashable]) -> Score:
    if not parsed.format_ok:
        return Score(0.0, False, 0.0, None, problem.answer, False, error=parsed.error)
    answer = key_set(parsed.values)
    correct = answer == gold
    f1 = partial_credit(answer, gold)
    if correct:
        error = None
    elif not answer <= gold:
        error = "wrong answer: it names a value impossible under the observation (no partial credit)"
    else:
        error = "wrong answer: some possible values are missing" + (" (partial credit)" if reward == "f1" else "")
    return Score(float(correct) if reward == "exact" else f1, correct, f1, parsed.values, problem.answer, True,
                 error=error)


def _start_abduce(i: int, problem: Problem, parsed: ParsedAnswer, pending: list[_Pending]) -> Score | None:
    gold = [dict(problem.revealed)] if problem.revealed else []
    if not parsed.format_ok:
        return Score(0.0, False, 0.0, None, gold, False, error=parsed.error, question="abduce")
    assignment, why = assignment_from(problem, parsed)
    if assignment is None:
        return Score(0.0, False, 0.0, parsed.values, gold, True, error=why, question="abduce")
    pending.append(_Pending(i, consistency_job(problem, assignment), problem, parsed))
    return None


def _resolve(pending: list[_Pending], scores: list[Score | None], sandbox: Sandbox | None,
             sandbox_backend: str) -> None:
    try:
        if sandbox is None:
            sandbox = shared_sandbox(sandbox_backend)
        results = run_jobs(sandbox, [p.job for p in pending])
    except LocalFallbackRefused:
        raise  # a setting, not a flaky verifier: stop with its one line
    except (SandboxFailure, OSError, RuntimeError) as exc:
        results = [JobResult(CallStatus.SANDBOX_ERROR, detail=f"{type(exc).__name__}: {exc}")] * len(pending)
    for p, result in zip(pending, results):
        scores[p.index] = _finish(p, result)


# What the program did with the proposed value (its process died, it ran out of memory, its result was
# too large): a wrong answer, not a verifier failure the TRL reward would mask. A timeout stays a
# verifier error (it may be the machine's load), as do failures of the sandbox itself.
_PROGRAM_FAILED = frozenset({CallStatus.CRASHED, CallStatus.MEMORY, CallStatus.OUTPUT_TOO_LARGE})


def _finish(p: _Pending, result: JobResult) -> Score:
    problem, parsed = p.problem, p.parsed
    gold = [dict(problem.revealed)] if problem.revealed else []
    if result.status is CallStatus.OK:
        ok = outputs_match(problem, result.values or [])
        return Score(float(ok), ok, float(ok), parsed.values, gold, True, question="abduce",
                     error=None if ok else "inconsistent with the observation")
    if result.status is CallStatus.ERROR:  # the program raised for this latent value: it cannot explain y0
        return Score(0.0, False, 0.0, parsed.values, gold, True, question="abduce",
                     error=f"program raised: {result.detail}")
    if result.status in _PROGRAM_FAILED:  # it crashed or broke a limit with this value: no y0 either
        return Score(0.0, False, 0.0, parsed.values, gold, True, question="abduce",
                     error=f"program failed: {result.status.value} {result.detail}".strip())
    return Score(0.0, False, 0.0, parsed.values, gold, True, question="abduce",
                 verifier_error=f"consistency check failed: {result.status.value} {result.detail}".strip())


def reachable_job(problem: Problem) -> Job:
    """Outputs under the intervention for *every* latent assignment (observation ignored).

    Scoring no longer needs it (the "f1" gate makes any impossible value pay nothing); tests and
    framework adapters use it to build the "list every reachable output" hack."""
    program = problem.intervention.get("program") or problem.program
    return Job(program, problem.entry, [call_args(problem, problem.intervention["args"], c, program)
                                        for c in latent_combinations(problem.latents)])
