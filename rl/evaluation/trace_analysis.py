"""Reasoning-trace analysis: does a completion abduce, intervene and predict, and in that order?

Why rule-based first: it is cheap, deterministic and runs on every completion of every model, so
the SFT-vs-RL difference in *how* models reason can be read next to their accuracy. Cues are
generic phrases plus problem-specific ones (the latent and input names, the observed output and the
intervened input value). An optional LLM judge (any OpenAI-compatible endpoint) gives a second
opinion on a sample.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generators import MODES, Problem, call_text, staged_dir
from rl.evaluation.evaluate import EvalConfig, load_eval, load_eval_problems, load_samples
from rl.evaluation.suite_selection import ordered_suites
from rl.inference.engines import SamplingConfig, make_engine

STEPS: tuple[str, ...] = ("abduction", "intervention", "prediction")
TRACES_JSON, TRACES_MD = "traces.json", "traces.md"

_ABDUCTION_WORD = r"\babduc|\binfer|\bdeduc"
_EVIDENCE = (r"\bconsistent|\bfits?\b|\bmatch|\bsatisf|\bexplain|\breproduc|\bpossib|\bcandidate"
             r"|\bmust (?:be|have)|\brule[sd]? out|\beliminat|✓|✗|\bonly (?:value|option|possib)|\bnarrow"
             r"|\bsolve for|\bleaves?\b|\bworks\b")
_NEGATION = (r"\bignor|\bwithout (?:using|looking)|\bregardless|\bassum|\bguess|\bnot needed|\bno need"
             r"|\bare given\b|\bis given\b|\brevealed")
_LATENT_WORDS = r"\bhidden\b|\blatent|\bunknown\b|\brandom (?:draw|value)"
_INTERVENTION = (r"\binterven|\bcounterfactual|\binstead\b|\bhad \w+ been\b|\bif \w+ (?:were|had been)\b"
                 r"|\bset(?:ting)? \w+ (?:to|=)|\bchang(?:e|ing) \w+ to\b|\bdo\(|\bnew input")
_PREDICTION = (r"\bpredict|\bwould (?:be|have|return|output|give)|\bfinal answer|\bthe answer\b|<answer>"
               r"|\btherefore\b|\bthus\b|\bhence\b|\bdistinct possible|\bpossible (?:outputs?|values?|results?)"
               r" (?:are|is)\b|\b(?:outputs?|results?) (?:is|are|would)\b")


@dataclass(frozen=True)
class _Cues:
    """Compiled cues for one problem (generic ones plus its latent / input names and values)."""

    abduction_word: re.Pattern[str]
    evidence: re.Pattern[str]
    negation: re.Pattern[str]
    latent: re.Pattern[str]
    intervention: re.Pattern[str]
    prediction: re.Pattern[str]


@dataclass
class TraceTags:
    """Steps found in one completion (indices of sentence-like steps, in order)."""

    abduction: list[int] = field(default_factory=list)
    intervention: list[int] = field(default_factory=list)
    prediction: list[int] = field(default_factory=list)
    n_steps: int = 0

    @property
    def full_chain(self) -> bool:
        """All three present, abduction starting before the last prediction, intervention too."""
        if not (self.abduction and self.intervention and self.prediction):
            return False
        last_p = self.prediction[-1]
        return self.abduction[0] <= last_p and self.intervention[0] <= last_p

    def has(self, step: str) -> bool:
        return bool(getattr(self, step))


def split_steps(text: str) -> list[str]:
    """Lines, then sentences within lines: the units that get tagged."""
    steps: list[str] = []
    for line in text.splitlines():
        for part in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", line.strip()):
            if part.strip():
                steps.append(part.strip())
    return steps


def _cues(problem: Problem | None) -> _Cues:
    """Without the problem the latent names are unknown, so evidence alone marks abduction."""
    latent = [_LATENT_WORDS] if problem is not None else [r".?"]
    intervention, prediction = [_INTERVENTION], [_PREDICTION]
    if problem is not None:
        latent += [rf"\b{re.escape(name)}\b" for name in problem.latents]
        args = problem.intervention.get("args", {})
        for name, value in args.items():
            intervention.append(rf"\b{re.escape(name)}\s*(?:=|:=|←|->|to|becomes|is now)\s*"
                                rf"{re.escape(repr(value))}(?![\d.])")
        call = re.escape(call_text(problem.entry, args)) if args else None
        if call:
            prediction.append(rf"{call}\s*(?:returns|gives|would|=|->|is|then)")
    flags = re.IGNORECASE
    return _Cues(re.compile(_ABDUCTION_WORD, flags), re.compile(_EVIDENCE, flags), re.compile(_NEGATION, flags),
                 re.compile("|".join(latent)), re.compile("|".join(intervention), flags),
                 re.compile("|".join(prediction), flags))


def tag_step(step: str, cues: _Cues) -> set[str]:
    """Abduction needs a latent and evidence (or the word itself) and no sign of skipping it."""
    kinds = set()
    if not cues.negation.search(step) and (
            cues.abduction_word.search(step) or (cues.latent.search(step) and cues.evidence.search(step))):
        kinds.add("abduction")
    if cues.intervention.search(step):
        kinds.add("intervention")
    if cues.prediction.search(step):
        kinds.add("prediction")
    return kinds


def tag_completion(text: str, problem: Problem | None = None) -> TraceTags:
    """Tag each step with every kind whose cues it contains."""
    cues = _cues(problem)
    steps = split_steps(text)
    tags = TraceTags(n_steps=len(steps))
    for i, step in enumerate(steps):
        for kind in tag_step(step, cues):
            getattr(tags, kind).append(i)
    return tags


# ------------------------------------------------------------------------------------ reporting

@dataclass
class TraceStats:
    """Per (model, suite, mode): how often each step appears, and accuracy with / without the full chain."""

    label: str
    suite: str
    mode: str
    n: int
    abduction: float
    intervention: float
    prediction: float
    full_chain: float
    mean_steps: float
    acc_full_chain: float | None
    acc_without: float | None
    judge: dict[str, float] | None = None


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 6) if flags else 0.0


def _acc(rows: Sequence[tuple[TraceTags, bool]], want: bool) -> float | None:
    hits = [ok for t, ok in rows if t.full_chain == want]
    return _rate(hits) if hits else None


def analyze_samples(label: str, samples: Iterable[Any], problems: dict[str, Problem] | None = None
                    ) -> list[TraceStats]:
    """Tag every SampleRecord of one model and aggregate per suite and mode."""
    groups: dict[tuple[str, str], list[tuple[TraceTags, bool]]] = defaultdict(list)
    for s in samples:
        problem = (problems or {}).get(s.problem_id)
        groups[(s.suite, s.mode)].append((tag_completion(s.text, problem), bool(s.correct)))
    out = []
    for (suite, mode), rows in groups.items():
        tags = [t for t, _ in rows]
        out.append(TraceStats(
            label=label, suite=suite, mode=mode, n=len(rows),
            abduction=_rate([t.has("abduction") for t in tags]),
            intervention=_rate([t.has("intervention") for t in tags]),
            prediction=_rate([t.has("prediction") for t in tags]),
            full_chain=_rate([t.full_chain for t in tags]),
            mean_steps=round(sum(t.n_steps for t in tags) / len(tags), 3),
            acc_full_chain=_acc(rows, True), acc_without=_acc(rows, False)))
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def traces_markdown(stats: Sequence[TraceStats]) -> str:
    lines = ["# Reasoning-trace analysis", "",
             ("Share of completions (%) with an abduction, intervention and prediction step (rule-based "
              "tagger), with the full chain, and exact match with / without the full chain."), "",
             ("| model | suite | mode | n | abduction | intervention | prediction | full chain | steps | "
              "EM with chain | EM without | judge A/I/P |"),
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    labels = list(dict.fromkeys(s.label for s in stats))
    for label in labels:
        mine = [s for s in stats if s.label == label]
        for suite in ordered_suites({s.suite for s in mine}):
            for mode in MODES:
                for s in (x for x in mine if x.suite == suite and x.mode == mode):
                    judge = "/".join(_fmt(s.judge.get(k)) for k in STEPS) if s.judge else "-"
                    lines.append(f"| {label} | {suite} | {mode} | {s.n} | {_fmt(s.abduction)} | "
                                 f"{_fmt(s.intervention)} | {_fmt(s.prediction)} | {_fmt(s.full_chain)} | "
                                 f"{s.mean_steps:.1f} | {_fmt(s.acc_full_chain)} | {_fmt(s.acc_without)} | "
                                 f"{judge} |")
    return "\n".join(lines) + "\n"


def write_trace_report(out_dir: str | Path, stats: Sequence[TraceStats]) -> list[Path]:
    out = Path(out_dir)
    with staged_dir(out) as staging:  # both files or neither (a full disk, Ctrl-C)
        (staging / TRACES_JSON).write_text(json.dumps([asdict(s) for s in stats], indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
        (staging / TRACES_MD).write_text(traces_markdown(stats), encoding="utf-8")
    return [out / TRACES_JSON, out / TRACES_MD]


# ------------------------------------------------------------------------------------ LLM judge

JUDGE_PROMPT = """You grade a model's reasoning on a counterfactual question about a program.
Abduction = inferring which values of the hidden variable(s) are consistent with the observation.
Intervention = changing the input to the new value while keeping the hidden variable(s) fixed.
Prediction = computing the output(s) under the intervention.
Reply with only a JSON object: {{"abduction": true|false, "intervention": true|false, "prediction": true|false}}.

Question:
{question}

Model's reasoning:
{completion}
"""


def _parse_judgement(text: str) -> dict[str, bool] | None:
    match = re.search(r"\{[^{}]*\}", text or "")
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if not all(isinstance(data.get(k), bool) for k in STEPS):
        return None
    return {k: data[k] for k in STEPS}


def judge_samples(endpoint: str, samples: Sequence[Any], problems: dict[str, Problem], *,
                  max_chars: int = 6000, max_tokens: int = 64) -> list[dict[str, bool] | None]:
    """Ask an OpenAI-compatible model (`openai:BASE_URL#MODEL`) to tag each sample; None if unparseable."""
    prompts = [[{"role": "user", "content": JUDGE_PROMPT.format(
        question=problems[s.problem_id].prompt[:max_chars] if s.problem_id in problems else "(not available)",
        completion=s.text[:max_chars])}] for s in samples]
    with make_engine(endpoint if endpoint.startswith("openai:") else f"openai:{endpoint}") as engine:
        outs = engine.generate(prompts, SamplingConfig(max_tokens=max_tokens, temperature=0.0))
    return [_parse_judgement(o[0].text) for o in outs]


def attach_judgements(stats: list[TraceStats], samples: Sequence[Any],
                      verdicts: Sequence[dict[str, bool] | None]) -> None:
    """Add per-group judge rates (over parseable verdicts) to the rule-based stats."""
    by_group: dict[tuple[str, str], list[dict[str, bool]]] = defaultdict(list)
    for s, v in zip(samples, verdicts):
        if v is not None:
            by_group[(s.suite, s.mode)].append(v)
    for st in stats:
        vs = by_group.get((st.suite, st.mode))
        if vs:
            st.judge = {k: _rate([v[k] for v in vs]) for k in STEPS} | {"n": float(len(vs))}


# ---------------------------------------------------------------------------------- eval dirs

def _problems_of(config: dict[str, Any], suites_dir: str | None) -> dict[str, Problem]:
    """The problems an evaluation ran on (for problem-specific cues and the judge's question)."""
    cfg = EvalConfig(**{**config, "suites_dir": suites_dir or config.get("suites_dir")})
    return {p.id: p for ps in load_eval_problems(cfg).values() for p in ps}


def analyze_eval_dirs(eval_dirs: Sequence[Path], out_dir: Path, *, judge: str | None = None,
                      judge_limit: int = 20, suites_dir: str | None = None) -> list[TraceStats]:
    """Tag the samples.jsonl of each evaluation directory; write traces.json / traces.md to out_dir."""
    stats: list[TraceStats] = []
    for d in eval_dirs:
        result = load_eval(d)
        samples = load_samples(d)
        try:
            problems = _problems_of(result.config, suites_dir)
        except (FileNotFoundError, ValueError) as exc:  # suites moved: generic cues only, and say so
            import warnings

            warnings.warn(f"{d}: problems unavailable ({exc}); tagging with generic cues only", stacklevel=2)
            problems = {}
        mine = analyze_samples(result.label, samples, problems)
        if judge:
            counts: dict[tuple[str, str], int] = defaultdict(int)
            picked = []
            for s in samples:  # the first `judge_limit` of every suite and mode
                if counts[(s.suite, s.mode)] < judge_limit:
                    counts[(s.suite, s.mode)] += 1
                    picked.append(s)
            attach_judgements(mine, picked, judge_samples(judge, picked, problems))
        stats.extend(mine)
    write_trace_report(out_dir, stats)
    return stats
