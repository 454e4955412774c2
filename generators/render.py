"""What the model sees: the displayed program (latents drawn with `random` inside the function, as
in the paper), the prompt, and the gold step-by-step reasoning trace used for SFT."""
from __future__ import annotations

import ast
import itertools
import json
import math
import re
from typing import Any

from generators.family import Draft, ExecutedDraft, PromptContext

ANSWER_INSTRUCTIONS = {
    "counterfactual": ("Give your final answer inside <answer></answer> tags as a Python-style list of all "
                       "possible values, e.g. <answer>[3, 7]</answer>."),
    "interventional": ("Give your final answer inside <answer></answer> tags as a Python-style list "
                       "containing the value, e.g. <answer>[5]</answer>."),
}

TRACE_TABLE_LIMIT = 24  # list every latent value when the domain is at most this big
TRACE_LIST_LIMIT = 12  # otherwise list at most this many fitting combinations


def value_text(value: Any) -> str:
    """Python literal text of a JSON value (strings quoted), as it appears in prompts and answers."""
    return repr(value)


def answer_text(values: list[Any]) -> str:
    return "[" + ", ".join(value_text(v) for v in values) + "]"


# What the answer format can carry (the answer parser's default limits, envs.parsing.DEFAULT_LIMITS; a test
# keeps them equal): a gold answer beyond them is a problem no completion can earn.
ANSWER_MAX_CHARS = 20_000  # text inside <answer></answer>
ANSWER_MAX_VALUES = 1_000  # in the answer, and in each list or dict inside it
ANSWER_MAX_DEPTH = 6  # containers, the answer's own list included
ANSWER_MAX_NUMBER_CHARS = 100  # one numeric literal, sign included
_ANSWER_TAG = re.compile(r"<\s*/?\s*answer\s*>", re.IGNORECASE)


def answer_key(value: Any) -> Any:
    """The key the answer comparison (envs.values.value_key; a test keeps them equal) gives a JSON value:
    3.0 is 3, -0.0 is 0, floats compare to 12 significant digits, True is not 1. Recursive: for values the
    sandbox returned (nested at most 50 deep)."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            return ("n", repr(value))
        return ("n", int(value) if value.is_integer() and abs(value) < 2**53 else float(f"{value:.12g}"))
    if kind is int or kind is str or kind is bool:
        return ({int: "n", str: "s", bool: "b"}[kind], value)
    if value is None:
        return ("z",)
    if kind is list:
        return ("q", tuple(answer_key(v) for v in value))
    if kind is dict:
        return ("d", tuple(sorted(((answer_key(k), answer_key(v)) for k, v in value.items()), key=repr)))
    return ("o", repr(value))


def ambiguous_outputs(values: list[Any]) -> bool:
    """Do two of `values` differ as JSON text (what the generator tells apart) but not for the answer comparison
    (3 and 3.0)? Then a consistent set or an answer would depend on which comparison one uses."""
    seen: dict[Any, Any] = {}
    for v in values:
        if seen.setdefault(answer_key(v), canonical(v)) != canonical(v):
            return True
    return False


def unicode_text(value: Any) -> bool:
    """No string in `value` (keys included) holds a lone surrogate: a record holding one cannot be written
    as UTF-8. Iterative (values from untrusted code)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(v, dict):
            stack.extend(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


def unwritable_answer(values: list[Any]) -> str | None:
    """Why `answer_text(values)` is not an answer the parser reads back, or None: a string holding an answer
    tag (it ends or restarts the block), an empty dict (`{}` reads as a set), a number or a nesting the
    parser does not read, too many values or characters. Iterative (values from untrusted code)."""
    if len(values) > ANSWER_MAX_VALUES:
        return f"more than {ANSWER_MAX_VALUES} values"
    stack: list[tuple[Any, int]] = [(v, 1) for v in values]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _ANSWER_TAG.search(value):
                return "a string holding an answer tag"
            if not unicode_text(value):
                return "text that is not valid Unicode (a lone surrogate)"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if len(repr(value)) > ANSWER_MAX_NUMBER_CHARS:
                return f"a number longer than {ANSWER_MAX_NUMBER_CHARS} characters"
        elif isinstance(value, (list, dict)):
            if isinstance(value, dict) and not all(unicode_text(key) for key in value):
                return "text that is not valid Unicode (a lone surrogate)"
            if depth + 1 > ANSWER_MAX_DEPTH:
                return f"values nested more than {ANSWER_MAX_DEPTH - 1} deep"
            if isinstance(value, dict) and not value:
                return "an empty dict (read as a set)"
            if len(value) > ANSWER_MAX_VALUES:
                return f"a list or dict of more than {ANSWER_MAX_VALUES} items"
            items = [x for kv in value.items() for x in kv] if isinstance(value, dict) else value
            stack.extend((x, depth + 1) for x in items)
    if len(answer_text(values)) > ANSWER_MAX_CHARS:
        return f"more than {ANSWER_MAX_CHARS} characters"
    return None


def call_text(entry: str, args: dict[str, Any]) -> str:
    return f"{entry}(" + ", ".join(f"{k}={value_text(v)}" for k, v in args.items()) + ")"


def latent_draw(name: str, domain: list[Any]) -> str:
    """`random.randint(lo, hi)` for a contiguous integer range, else `random.choice([...])`."""
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in domain)
    if ints and domain and list(domain) == list(range(domain[0], domain[0] + len(domain))):
        return f"{name} = random.randint({domain[0]}, {domain[-1]})"
    return f"{name} = random.choice({answer_text(list(domain))})"


def display_program(program: str, entry: str, latents: dict[str, list[Any]]) -> str:
    """The paper's presentation: the latent parameters of `entry` become random draws in its body."""
    tree = ast.parse(program)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if fn is None:
        raise ValueError(f"program does not define {entry!r}")
    lines = program.splitlines()
    params = [a.arg for a in fn.args.args]
    if params[-len(latents):] != list(latents):
        raise ValueError(f"{entry} parameters {params} must end with the latents {list(latents)}")
    kept = params[: len(params) - len(latents)]
    header = lines[fn.lineno - 1]
    indent = header[: len(header) - len(header.lstrip())]
    body_indent = " " * fn.body[0].col_offset
    new_header = f"{indent}def {entry}({', '.join(kept)}):"
    first = fn.body[0]  # a nested def or class may be preceded by its decorators and blank lines (ast.unparse)
    start = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", []))])
    if start <= fn.lineno or any(line.strip() for line in lines[fn.lineno:start - 1]) or fn.end_lineno is None:
        raise ValueError("entry header must fit on one line, body starting on the next")
    draws = [body_indent + latent_draw(name, dom) for name, dom in latents.items()]
    out = lines[: fn.lineno - 1] + [new_header] + draws + lines[fn.lineno:]
    # `from __future__` must stay the first statement: `import random` goes after those imports
    future = list(itertools.takewhile(_is_future_import, tree.body))
    if future:
        split = future[-1].end_lineno or future[-1].lineno
        head = "\n".join(out[:split]).strip("\n") + "\n\n"
        return head + "import random\n\n" + "\n".join(out[split:]).strip("\n") + "\n"
    return "import random\n\n" + "\n".join(out).strip("\n") + "\n"


def _is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def code_prompt(ctx: PromptContext, entry: str, latents: dict[str, list[Any]]) -> str:
    """Default prompt for code families: function, observation(s), intervention, question."""
    names = list(latents)
    latent_words = _join(names)
    plural = len(names) > 1
    lines = [
        "Here is a Python function:",
        "",
        "```python",
        ctx.display_program.rstrip("\n"),
        "```",
        "",
        f"Inside the function, {latent_words} {'are' if plural else 'is'} drawn at random.",
    ]
    obs = ctx.observations
    if len(obs) == 1:
        lines.append(
            f"We called {call_text(entry, obs[0]['args'])} and it returned {value_text(obs[0]['output'])}."
        )
    else:
        lines.append(
            f"We called the function {len(obs)} times with the same random draw{'s' if plural else ''}:"
        )
        lines += [f"- {call_text(entry, o['args'])} returned {value_text(o['output'])}" for o in obs]
    if ctx.mode == "interventional":
        shown = _assignments(ctx.revealed or {})
        calls = "In that call" if len(obs) == 1 else f"In all {len(obs)} calls"
        lines.append(f"{calls} the random draw{'s were' if plural else ' was'}: {shown}.")
    question = _intervention_clause(ctx, entry)
    keep = f"the same value{'s' if plural else ''} of {latent_words}"
    if ctx.mode == "counterfactual":
        lines.append(
            f"What would the function have returned if {question}, keeping {keep}? "
            "There may be more than one possible value."
        )
    else:
        lines.append(f"What would the function have returned if {question}, with {keep}?")
    return "\n".join(lines)


def _intervention_clause(ctx: PromptContext, entry: str) -> str:
    iv = ctx.intervention
    parts = []
    if iv.get("args"):
        parts.append(f"we had called {call_text(entry, iv['args'])} instead")
    if iv.get("internal"):
        sets = _assignments(iv["internal"])
        parts.append(
            f"the variable assignment{'s' if len(iv['internal']) > 1 else ''} inside the function "
            f"had been forced to {sets}"
        )
    return " and ".join(parts) or "nothing had changed"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def build_prompt(draft: Draft, ctx: PromptContext) -> str:
    body = draft.render_prompt(ctx) if draft.render_prompt else code_prompt(ctx, draft.entry, draft.latents)
    return body.rstrip() + "\n\n" + ANSWER_INSTRUCTIONS[ctx.mode]


def gold_trace(ex: ExecutedDraft) -> str:
    """Step-by-step solution from the generator's knowledge: abduction (which latent values fit the
    observation and why), intervention, prediction; ends in the answer line."""
    draft, mode, combos, consistent, answer, revealed = (ex.draft, ex.mode, ex.combos, ex.consistent, ex.answer,
                                                          ex.revealed)
    observations, intervention = ex.observations, ex.intervention
    factual_outputs, intervened_outputs = ex.factual, ex.intervened
    names = list(draft.latents)
    entry = draft.entry
    iv_args = intervention.get("args", {})

    def assign(k: int) -> dict[str, Any]:
        return dict(zip(names, combos[k]))

    def assign_text(k: int) -> str:
        return ", ".join(f"{n}={value_text(v)}" for n, v in assign(k).items())

    def why(args: dict[str, Any], k: int) -> str:
        return f" ({draft.explain(args, assign(k))})" if draft.explain else ""

    predict = draft.explain_intervention or draft.explain  # do_internal predicts with another program

    def why_iv(k: int) -> str:
        return f" ({predict(iv_args, assign(k))})" if predict else ""

    obs_text = "; ".join(f"{call_text(entry, o['args'])} = {value_text(o['output'])}" for o in observations)
    out: list[str] = []
    if mode == "interventional":
        k = combos.index(tuple(revealed[n] for n in names))  # type: ignore[index]
        checks = "; ".join(
            f"{call_text(entry, o['args'])} = {value_text(o['output'])}{why(o['args'], k)}"
            for o in observations
        )
        out.append(
            f"Step 1 - abduction: the latent value{'s are' if len(names) > 1 else ' is'} given: "
            f"{assign_text(k)}. Check: {checks}."
        )
        out.append(
            f"Step 2 - intervention: {_iv_step(intervention, observations)}, keeping {assign_text(k)}."
        )
        out.append(
            f"Step 3 - prediction: {call_text(entry, iv_args)} with {assign_text(k)} returns "
            f"{value_text(intervened_outputs[k])}{why_iv(k)}."
        )
    else:
        domains = "; ".join(f"{n} in {_domain_text(d)}" for n, d in draft.latents.items())
        single = observations[0]["args"] if len(observations) == 1 else None
        fits = set(consistent)

        def gives(k: int) -> str:
            got = ", ".join(value_text(f[k]) for f in factual_outputs)
            return f"gives {got}{why(single, k) if single is not None else ''}"

        out.append(
            f"Step 1 - abduction: the hidden values range over {domains} "
            f"({len(combos)} possibilities). Keep those that reproduce {obs_text}."
        )
        if len(combos) <= TRACE_TABLE_LIMIT:
            out += [
                f"  {assign_text(k)}: {gives(k)} -> {'fits' if k in fits else 'does not fit'}"
                for k in range(len(combos))
            ]
        else:
            shown = consistent[:TRACE_LIST_LIMIT]
            out += [f"  {assign_text(k)}: {gives(k)} -> fits" for k in shown]
            if len(consistent) > len(shown):
                out.append(f"  ... and {len(consistent) - len(shown)} more combinations fit")
            out.append(f"  the other {len(combos) - len(consistent)} combinations give a different output.")
        listed = "; ".join(assign_text(k) for k in consistent[:TRACE_LIST_LIMIT])
        more = f"; ... ({len(consistent)} in all)" if len(consistent) > TRACE_LIST_LIMIT else ""
        out.append(
            f"So the observation leaves {len(consistent)} "
            f"possibilit{'y' if len(consistent) == 1 else 'ies'}: {listed}{more}."
        )
        out.append(
            f"Step 2 - intervention: {_iv_step(intervention, observations)}, keeping the hidden values above."
        )
        out.append("Step 3 - prediction:")
        if len(consistent) <= TRACE_LIST_LIMIT:
            out += [
                f"  {assign_text(k)}: {call_text(entry, iv_args)} returns {value_text(intervened_outputs[k])}"
                f"{why_iv(k)}"
                for k in consistent
            ]
        else:
            groups: dict[str, list[int]] = {}
            for k in consistent:
                groups.setdefault(canonical(intervened_outputs[k]), []).append(k)
            for ks in groups.values():
                k = ks[0]
                others = (
                    f" (and {len(ks) - 1} more combination{'s' if len(ks) > 2 else ''} give the same)"
                    if len(ks) > 1
                    else ""
                )
                out.append(
                    f"  {assign_text(k)}: {call_text(entry, iv_args)} returns "
                    f"{value_text(intervened_outputs[k])}{why_iv(k)}{others}"
                )
        out.append(f"The distinct possible outputs are {answer_text(answer)}.")
    out.append(f"<answer>{answer_text(answer)}</answer>")
    return "\n".join(out)


def _iv_step(intervention: dict[str, Any], observations: list[dict[str, Any]]) -> str:
    """ "set x = 10" only for arguments that change; do_internal at low levels keeps x and only forces
    an internal variable, which the step then says ("force b = 7 inside the function, x stays 3")."""
    args = intervention.get("args") or {}
    observed = observations[0]["args"] if len(observations) == 1 else {}
    changed = {k: v for k, v in args.items() if k not in observed or observed[k] != v}
    kept = {k: v for k, v in args.items() if k not in changed}
    parts = []
    if changed:
        parts.append("set " + _assignments(changed))
    if intervention.get("internal"):
        parts.append("force " + _assignments(intervention["internal"]) + " inside the function")
    if kept:
        parts.append(f"{_assignments(kept)} stay{'s' if len(kept) == 1 else ''} as observed")
    return " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _assignments(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {value_text(v)}" for k, v in values.items())


def _domain_text(domain: list[Any]) -> str:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in domain)
    if ints and len(domain) > 3 and list(domain) == list(range(domain[0], domain[0] + len(domain))):
        return f"{domain[0]}..{domain[-1]}"
    return "{" + ", ".join(value_text(v) for v in domain) + "}"


def canonical(value: Any) -> Any:
    """Exact, type-aware comparison key for outputs (True != 1, "1" != 1); fast for ints and strings."""
    kind = type(value)
    if kind is int or kind is str:
        return kind.__name__, value
    return "json", json.dumps(value, sort_keys=True)


TRACE_STYLES = ("full", "compact")
_TABLE_ENDINGS = (" -> fits", " -> does not fit")


def compact_trace(trace: str) -> str:
    """The compact gold-trace style: `gold_trace` without the step-by-step evaluation of each latent
    combination in the abduction table ("  r=1: gives 3 (r >= 5 is False; ...) -> does not fit" becomes
    "  r=1: gives 3 -> does not fit"). Why: a small model on CPU trains and generates about half the
    tokens per counterfactual trace; the prediction lines keep their explanation. Interventional traces
    (no table) are unchanged, and so is every generated problem: this is applied to training rows only.
    """
    return "\n".join(_compact_line(line) for line in trace.split("\n"))


def _compact_line(line: str) -> str:
    if not line.startswith("  "):
        return line
    ending = next((e for e in _TABLE_ENDINGS if line.endswith(e)), None)
    if ending is None:
        return line
    head = line[: -len(ending)]
    if not head.endswith(")"):
        return line
    depth = 0
    for i in range(len(head) - 1, -1, -1):  # the "(...)" group that closes the head
        depth += {")": 1, "(": -1}.get(head[i], 0)
        if depth == 0:
            break
    else:
        return line  # unbalanced: leave the line as it is
    before = head[:i]
    if not before.endswith(" ") or before.endswith("gives "):  # that group is the value itself
        return line
    return before[:-1] + ending
