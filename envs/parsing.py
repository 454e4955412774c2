"""Answer parsing: find the one answer a completion commits to and read it as a list of values.

Why hand-written: the parser runs on every rollout (>= 20k/s target) and on adversarial text
(1 MB, unicode, nested braces), so it must be linear-time, never raise, and never evaluate code.
`ast.literal_eval` is neither fast enough nor bounded (deep nesting, huge ints, complex numbers).

Rules (stated to the model by the prompt):
  * the answer is the content of the **last** `<answer>...</answer>` block that lies **outside**
    fenced code blocks (an answer hidden in an unrequested code block does not count);
  * tolerant of form: case and spaces in the tags, surrounding backticks, brackets `[]`, set
    braces `{}`, tuple parens `()`, or none at all, trailing commas, single/double quotes,
    negative numbers, duplicates and order (scoring compares sets);
  * strict on content: unquoted words, unbalanced brackets, a number with a leading zero (`05`, or
    a thousands separator: `2,005` is not `[2, 5]`), or an unclosed last tag are format errors
    (`format_ok=False`), never guesses.
"""
from __future__ import annotations

import bisect
import math
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParserLimits:
    """Bounds that keep parsing cheap and stop 'list everything' answers before they are scored."""

    max_answer_chars: int = 20_000  # content of the answer block
    max_values: int = 1_000  # top-level values in one answer
    max_depth: int = 6  # nesting of containers inside the answer
    max_number_chars: int = 100  # digits of one numeric literal


DEFAULT_LIMITS = ParserLimits()


@dataclass
class ParsedAnswer:
    """What a completion answered. `values` is the list of top-level values (empty when not ok)."""

    values: list[Any] = field(default_factory=list)
    format_ok: bool = False
    error: str | None = None
    container: str = ""  # "list" | "set" | "tuple" | "bare" | "dict": how the values were written
    raw: str | None = None  # text inside the counted answer block (truncated to 200 chars)


_OPEN_TAG = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"<\s*/\s*answer\s*>", re.IGNORECASE)
# A fence line: up to three spaces, then >= 3 backticks or tildes (CommonMark).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$", re.MULTILINE)

# One token per match; alternatives are disjoint so the engine never backtracks more than linearly.
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>[-+]?(?:[0-9][0-9_]*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)
     |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
     |(?P<punct>[\[\]{}(),:])
     |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
     |(?P<other>\S)
    )""",
    re.VERBOSE | re.DOTALL,
)
_BIG = sys.maxsize
_WORDS = {"True": True, "False": False, "None": None, "true": True, "false": False, "null": None}
_CLOSERS = {"[": "]", "{": "}", "(": ")"}
_CONTAINER = {"[": "list", "{": "set", "(": "tuple"}
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\",
                   "'": "'", '"': '"'}
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


class AnswerSyntaxError(ValueError):
    """Raised inside the parser only; `parse_answer` turns it into `format_ok=False`."""


def fenced_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of fenced code blocks; an unclosed fence runs to the end of the text."""
    spans: list[tuple[int, int]] = []
    open_at = -1
    open_fence = ""
    for m in _FENCE.finditer(text):
        fence, rest = m.group(1), m.group(2)
        if open_at < 0:
            open_at, open_fence = m.start(), fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not rest.strip():
            spans.append((open_at, m.end()))
            open_at = -1
    if open_at >= 0:
        spans.append((open_at, len(text)))
    return spans


def in_spans(pos: int, spans: list[tuple[int, int]]) -> bool:
    """Is `pos` inside one of the sorted, disjoint `spans`? (bisect: many fences stay cheap)"""
    i = bisect.bisect_right(spans, (pos, _BIG)) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def extract_answer_block(text: str) -> tuple[str | None, str | None]:
    """(content of the counted answer block, error). The last opening tag outside fences counts."""
    if "```" in text or "~~~" in text:
        spans = fenced_spans(text)
    else:
        spans = []
    last = None
    for m in _OPEN_TAG.finditer(text):
        if not spans or not in_spans(m.start(), spans):
            last = m
    if last is None:
        inside = any(in_spans(m.start(), spans) for m in _OPEN_TAG.finditer(text)) if spans else False
        return None, ("answer only inside a code block" if inside else "no <answer> tag")
    close = _CLOSE_TAG.search(text, last.end())
    if close is None or (spans and in_spans(close.start(), spans)):
        return None, "last <answer> tag is not closed"
    return text[last.end():close.start()], None


def parse_answer(text: Any, limits: ParserLimits = DEFAULT_LIMITS) -> ParsedAnswer:
    """Parse a completion's final answer. Never raises; bad input gives `format_ok=False` + `error`."""
    try:
        if not isinstance(text, str):
            return ParsedAnswer(error=f"completion is {type(text).__name__}, not str")
        text = str.__str__(text)  # a str subclass as its plain characters (its methods could lie)
        content, error = extract_answer_block(text)
        if content is None:
            return ParsedAnswer(error=error)
        return parse_answer_content(content, limits)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"; keep the reason
        return ParsedAnswer(error=f"parser failure: {type(exc).__name__}: {exc}")


def parse_answer_content(content: str, limits: ParserLimits = DEFAULT_LIMITS, fast: bool = True) -> ParsedAnswer:
    """Parse the text inside an answer block (no tags) into top-level values.

    `fast=False` skips the flat-int-list shortcut (tests check both paths agree)."""
    raw = content[:200]
    if len(content) > limits.max_answer_chars:
        return ParsedAnswer(error=f"answer longer than {limits.max_answer_chars} characters", raw=raw)
    body = content.strip().strip("`").strip()
    if not body:
        return ParsedAnswer(error="empty answer", raw=raw)
    shortcut = _fast_int_list(body) if fast else None
    if shortcut is not None:
        return ParsedAnswer(values=shortcut[0], format_ok=True, container=shortcut[1], raw=raw)
    try:
        values, container = _Parser(body, limits).parse_top()
    except AnswerSyntaxError as exc:
        return ParsedAnswer(error=str(exc), raw=raw)
    except RecursionError:
        return ParsedAnswer(error="answer nested too deeply", raw=raw)
    if len(values) > limits.max_values:
        return ParsedAnswer(error=f"more than {limits.max_values} values", raw=raw)
    return ParsedAnswer(values=values, format_ok=True, container=container, raw=raw)


_FAST_INT = r"-?(?:0|[1-9][0-9]{0,17})"  # no leading zero: the parser refuses those (see _number)
_FAST_INTS = re.compile(rf"\s*(?:{_FAST_INT}\s*(?:,\s*{_FAST_INT}\s*)*,?)?\s*")
_FAST_BRACKETS = {"[": ("]", "list"), "{": ("}", "set"), "(": (")", "tuple")}


def _fast_int_list(body: str) -> tuple[list[int], str] | None:
    """The common answer, a flat list of small ints, without the tokenizer (None: use the parser)."""
    if len(body) > 2_000:
        return None
    first = body[0]
    if first in _FAST_BRACKETS:
        closer, container = _FAST_BRACKETS[first]
        if body[-1] != closer:
            return None
        inner = body[1:-1]
    elif first.isdigit() or first == "-":
        inner, container = body, "bare"
    else:
        return None
    if _FAST_INTS.fullmatch(inner) is None:
        return None
    values = [int(part) for part in inner.split(",") if not part.isspace() and part]
    if container == "set" and not values:
        return None  # "{}" is left to the parser (empty dict vs set)
    if container == "bare" and not values:
        return None
    if container == "tuple" and len(values) == 1 and not inner.rstrip().endswith(","):
        container = "bare"  # (5) is 5, as in Python
    return values, container


class _Parser:
    """Recursive descent over `_TOKEN`s: value := scalar | [..] | {..} | (..) | {k: v, ..}."""

    def __init__(self, text: str, limits: ParserLimits) -> None:
        self.text = text
        self.limits = limits
        self.pos = 0
        self.end = len(text)
        self.peeked: tuple[str, str] | None = None
        self.last_raw: tuple[Any, str] | None = None  # (items, container) of the last value, if a container

    def next(self) -> tuple[str, str]:
        if self.peeked is not None:
            tok, self.peeked = self.peeked, None
            return tok
        if self.pos >= self.end:
            return ("end", "")
        m = _TOKEN.match(self.text, self.pos)
        if m is None:  # only trailing whitespace is left
            self.pos = self.end
            return ("end", "")
        self.pos = m.end()
        kind = m.lastgroup or "end"
        return (kind, m.group(kind) if kind != "end" else "")

    def peek(self) -> tuple[str, str]:
        if self.peeked is None:
            self.peeked = self.next()
        return self.peeked

    def parse_top(self) -> tuple[list[Any], str]:
        kind, tok = self.peek()
        if kind == "punct" and tok in _CLOSERS:
            self.next()
            items, container = self._container(tok, depth=1)
            if self.peek()[0] == "end":
                return ([items], "dict" if container == "dict" else "bare") if container in ("dict", "scalar") \
                    else (items, container)
            first = _as_value(items, container)  # e.g. "(1, 2), (3, 4)": bare list of tuples
            self._expect_comma_or_end()
            return self._bare_rest([first]), "bare"
        return self._bare_rest([]), "bare"

    def _bare_rest(self, items: list[Any]) -> list[Any]:
        while self.peek()[0] != "end":
            items.append(self.value(depth=1))
            if len(items) > self.limits.max_values:
                raise AnswerSyntaxError(f"more than {self.limits.max_values} values")
            self._expect_comma_or_end()
        return items

    def _expect_comma_or_end(self) -> None:
        kind, tok = self.next()
        if kind == "end":
            self.peeked = ("end", "")
        elif not (kind == "punct" and tok == ","):
            raise AnswerSyntaxError(f"expected ',' between values, got {tok[:20]!r}")

    def value(self, depth: int) -> Any:
        self.last_raw = None
        kind, tok = self.next()
        if kind == "num":
            return self._number(tok)
        if kind == "str":
            return _unquote(tok)
        if kind == "word":
            if tok in _WORDS:
                return _WORDS[tok]
            raise AnswerSyntaxError(f"unquoted word {tok[:20]!r} (quote strings)")
        if kind == "punct" and tok in _CLOSERS:
            raw = self._container(tok, depth + 1)
            value = _as_value(*raw)
            self.last_raw = raw
            return value
        if kind == "end":
            raise AnswerSyntaxError("answer ends where a value was expected")
        raise AnswerSyntaxError(f"unexpected {tok[:20]!r}")

    def _container(self, opener: str, depth: int) -> tuple[Any, str]:
        if depth > self.limits.max_depth:
            raise AnswerSyntaxError("answer nested too deeply")
        closer = _CLOSERS[opener]
        items: list[Any] = []
        keys: list[Any] = []
        is_dict = False
        commas = 0
        first_raw: tuple[Any, str] | None = None
        while True:
            kind, tok = self.peek()
            if kind == "punct" and tok == closer:
                self.next()
                break
            item = self.value(depth)
            if not items:
                first_raw = self.last_raw
            kind, tok = self.next()
            if opener == "{" and kind == "punct" and tok == ":" and (is_dict or not items):
                is_dict = True
                keys.append(item)
                item = self.value(depth)
                kind, tok = self.next()
            elif is_dict:
                raise AnswerSyntaxError("mixed set and dict syntax")
            items.append(item)
            if len(items) > self.limits.max_values:
                raise AnswerSyntaxError(f"more than {self.limits.max_values} values")
            if kind == "punct" and tok == closer:
                break
            if not (kind == "punct" and tok == ","):
                raise AnswerSyntaxError(f"expected ',' or {closer!r}, got {tok[:20]!r}" if kind != "end"
                                        else f"missing {closer!r}")
            commas += 1
        if opener == "(" and len(items) == 1 and not commas:  # (x) is x, as in Python; (x,) is a tuple
            return first_raw if first_raw is not None else (items[0], "scalar")
        if is_dict:
            try:
                return dict(zip(keys, items)), "dict"
            except TypeError as exc:
                raise AnswerSyntaxError(f"bad dict key: {exc}") from None
        return items, _CONTAINER[opener]

    def _number(self, tok: str) -> int | float:
        if len(tok) > self.limits.max_number_chars:
            raise AnswerSyntaxError("number too long")
        if "__" in tok or tok.endswith("_") or "_." in tok or "._" in tok:
            raise AnswerSyntaxError(f"bad number {tok!r}")
        whole = tok.lstrip("+-")
        if len(whole) > 1 and whole[0] == "0" and whole[1] not in ".eE":
            # 05 is not Python, and "2,005" / "1,000" are thousands separators, not the values [2, 5] / [1, 0]
            raise AnswerSyntaxError(f"leading zero in the number {tok[:20]!r} (no thousands separators)")
        try:
            if not any(c in tok for c in ".eE"):
                return int(tok)
            number = float(tok)
        except ValueError:
            raise AnswerSyntaxError(f"bad number {tok[:20]!r}") from None
        mantissa = tok.lower().split("e")[0]
        if not math.isfinite(number) or (number == 0.0 and any(c in "123456789" for c in mantissa)):
            # inf, or a non-zero literal that underflows to 0.0 (1e-400 is not 0)
            raise AnswerSyntaxError(f"bad number (out of range) {tok[:20]!r}")
        return number


def _as_value(items: Any, container: str) -> Any:
    """A nested container as one JSON-like value: lists and tuples become lists ("scalar": a value in parens)."""
    if container == "set":
        raise AnswerSyntaxError("a set cannot be an answer value")
    return items if container in ("dict", "scalar") else list(items)


def _unquote(tok: str) -> str:
    body = tok[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in _OCTAL:  # \0, \7, \101: up to three octal digits, as in Python
            j = i + 2
            while j < min(n, i + 4) and body[j] in _OCTAL:
                j += 1
            out.append(chr(int(body[i + 1:j], 8)))
            i = j
        elif e == "N":  # \N{BULLET}
            end = body.find("}", i + 3)
            name = body[i + 3:end] if body.startswith("{", i + 2) and end > 0 else ""
            try:
                out.append(unicodedata.lookup(name))
            except KeyError:
                raise AnswerSyntaxError(f"bad escape \\N{{{name[:20]}}}") from None
            i = end + 1
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not _HEX.issuperset(digits):  # int() would take "4 " or "0_41"
                raise AnswerSyntaxError(f"bad escape \\{e}{digits}")
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:  # beyond U+10FFFF
                raise AnswerSyntaxError(f"bad escape \\{e}{digits}") from None
            i += 2 + width
        else:  # unknown escape: keep both characters, as Python does
            out.append(c + e)
            i += 2
    return "".join(out)
