"""Problem -> what the model reads: plain text or a chat message list, for either question type."""
from __future__ import annotations

from typing import Any

from envs.abduction import abduce_prompt
from envs.abduction_set import abduce_predict_prompt
from generators import Problem

PROMPT_STYLES = ("chat", "plain")


def prompt_text(problem: Problem, question: str = "predict") -> str:
    """The user-facing text. "predict" is the generator's own prompt (it states the answer format)."""
    if question == "predict":
        return problem.prompt
    if question == "abduce":
        return abduce_prompt(problem)
    if question == "abduce_predict":
        return abduce_predict_prompt(problem)
    raise ValueError(f"question must be 'predict', 'abduce' or 'abduce_predict', got {question!r}")


def render_prompt(problem: Problem, style: str = "chat", question: str = "predict") -> list[dict[str, Any]] | str:
    """`style="chat"`: `[{"role": "user", "content": text}]` (TRL conversational); `"plain"`: the text."""
    text = prompt_text(problem, question)
    if style == "chat":
        return [{"role": "user", "content": text}]
    if style == "plain":
        return text
    raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")
