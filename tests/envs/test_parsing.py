"""The answer parser: tolerant of form, strict on content, never raises, linear on adversarial text."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.parsing import ParsedAnswer, parse_answer, parse_answer_content
from envs.values import key_set
from generators.render import answer_text


@pytest.mark.parametrize("text, values, container", [
    ("<answer>[3, 7]</answer>", [3, 7], "list"),
    ("<answer>5</answer>", [5], "bare"),
    ("<ANSWER> {7, 3, 3} </Answer>", [7, 3, 3], "set"),
    ("< answer >( -1 , 'a', \"b\" ,)</ answer >", [-1, "a", "b"], "tuple"),
    ("<answer>\n  [ 2,\n 9 ]\n</answer>", [2, 9], "list"),
    ("<answer>`[1, 2]`</answer>", [1, 2], "list"),
    ("<answer>3, 7,</answer>", [3, 7], "bare"),
    ("<answer>[True, None, 2.5, -0.25, 1e3]</answer>", [True, None, 2.5, -0.25, 1000.0], "list"),
    ("<answer>['it\\'s', \"a\\nb\", '\\u00e9']</answer>", ["it's", "a\nb", "é"], "list"),
    ("<answer>[[1, 2], (3,)]</answer>", [[1, 2], [3]], "list"),
    ("<answer>{'a': 1, 'b': 'x'}</answer>", [{"a": 1, "b": "x"}], "dict"),
    ("<answer>[]</answer>", [], "list"),
    ("<answer>['中文', '😀']</answer>", ["中文", "😀"], "list"),
    ("<answer>[0, -0, 0.5, 0e3, 1_000, 10]</answer>", [0, 0, 0.5, 0.0, 1000, 10], "list"),
    # as Python reads them: (x) is x, (x,) a tuple; octal, \a \b \f \v and \N{...} escapes
    ("<answer>[(3), (1, 2), (4,), ((5))]</answer>", [3, [1, 2], [4], 5], "list"),
    (r"<answer>['\a\b\f\v', '\101\7\0', '\N{BULLET}', '\d']</answer>",
     ["\a\b\f\v", "A\x07\x00", "\u2022", "\\d"], "list"),
])
def test_tolerant_of_form(text, values, container):
    parsed = parse_answer(text)
    assert parsed.format_ok, parsed.error
    assert parsed.values == values
    assert parsed.container == container


@pytest.mark.parametrize("text, error_part", [
    ("no tags at all: 5", "no <answer> tag"),
    ("<answer>[apple, pear]</answer>", "unquoted word"),
    ("<answer>[1, 2</answer>", "missing"),
    ("<answer>[1, 2]", "not closed"),
    ("<answer>[1]</answer> then <answer>[2", "not closed"),  # a truncated last answer is not the earlier one
    ("<answer></answer>", "empty"),
    ("<answer>[1,,2]</answer>", "unexpected"),
    ("<answer>[1 2]</answer>", "expected"),
    ("<answer>[1]]</answer>", "expected"),
    ("<answer>1e400</answer>", "bad number"),
    ("<answer>[-1e-400]</answer>", "out of range"),  # a non-zero literal that would read as 0.0
    ("<answer>3 or 5</answer>", "expected ','"),
    ("<answer>x = 5</answer>", "unquoted word"),
    ("<answer>[1, {2, 3}]</answer>", "set cannot"),
    ("<answer>" + "[" * 50 + "]" * 50 + "</answer>", "nested too deeply"),
    ("<answer>[" + "1," * 1500 + "]</answer>", "more than 1000 values"),
    ("<answer>" + "9" * 200 + "</answer>", "number too long"),
    ("<answer>'abc</answer>", "unexpected"),
    ("<answer>[٣]</answer>", "unexpected"),  # a non-ASCII digit is not a number
    # a leading zero is not Python (05 is a SyntaxError) and is how thousands separators read: "2,005" is not [2, 5]
    ("<answer>[2,005]</answer>", "leading zero"),
    ("<answer>05</answer>", "leading zero"),
    ("<answer>[-07, 1]</answer>", "leading zero"),
    ("<answer>1,000</answer>", "leading zero"),
    ("<answer>[1,000.5]</answer>", "leading zero"),
    ("<answer>[0_1]</answer>", "leading zero"),
    ("<answer>['\\x4 ']</answer>", "bad escape"),  # int(" 4", 16) would read it; Python does not
    ("<answer>['\\u0_41']</answer>", "bad escape"),
])
def test_strict_on_content(text, error_part):
    parsed = parse_answer(text)
    assert not parsed.format_ok
    assert parsed.values == []
    assert error_part in parsed.error


def test_last_answer_counts():
    assert parse_answer("<answer>[1]</answer> no wait <answer>[2]</answer>").values == [2]


def test_answer_only_inside_code_fence_does_not_count():
    fenced = "Here:\n```python\nprint('<answer>[4]</answer>')\n```\n"
    parsed = parse_answer(fenced)
    assert not parsed.format_ok and "code block" in parsed.error
    assert parse_answer("~~~\n<answer>[4]</answer>\n~~~").format_ok is False
    # an unclosed fence runs to the end of the text
    assert parse_answer("```\n<answer>[4]</answer>").format_ok is False
    # a decoy inside a later fence does not replace the real answer before it
    assert parse_answer("<answer>[1]</answer>\n```\n<answer>[9]</answer>\n```").values == [1]
    # after a closed fence, answers count again
    assert parse_answer("```\ncode\n```\n<answer>[3]</answer>").values == [3]
    # a shorter or different fence does not close a fence
    assert parse_answer("````\n```\n<answer>[3]</answer>\n~~~\n").format_ok is False


def test_non_strings_never_raise():
    for bad in (None, 5, b"<answer>[1]</answer>", ["<answer>[1]</answer>"], object()):
        parsed = parse_answer(bad)
        assert isinstance(parsed, ParsedAnswer) and not parsed.format_ok


# -- fuzzing ------------------------------------------------------------------------------------
TRICKY = ["<answer>", "</answer>", "<ANSWER>", "< /answer>", "```", "```python\n", "~~~", "\n", " ", "[", "]",
          "{", "}", "(", ")", ",", ":", "'", '"', "\\", "\\u", "-", "+", ".", "e", "0", "7", "42", "True",
          "None", "é", "😀", "\u2028", "\x00", "_", "1_0", "\t"]


def _check(parsed: ParsedAnswer) -> None:
    assert isinstance(parsed, ParsedAnswer)
    assert isinstance(parsed.format_ok, bool)
    if parsed.format_ok:
        assert isinstance(parsed.values, list) and parsed.error is None
        key_set(parsed.values)  # every parsed value has a comparison key
    else:
        assert parsed.values == [] and isinstance(parsed.error, str)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_fuzz_random_unicode(text):
    _check(parse_answer(text))
    _check(parse_answer(f"<answer>{text}</answer>"))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TRICKY), max_size=60).map("".join))
def test_fuzz_tricky_tokens(text):
    _check(parse_answer(text))
    _check(parse_answer("<answer>" + text + "</answer>"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TRICKY), min_size=1, max_size=8).map("".join), st.integers(1, 1_000_000))
@pytest.mark.timeout(120)
def test_fuzz_one_megabyte_repetitions(unit, repeats):
    text = (unit * repeats)[:1_000_000]
    _check(parse_answer(text))
    _check(parse_answer("<answer>" + text))
    _check(parse_answer("<answer>" + text + "</answer>"))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [
    "<answer>" * 125_000,
    "```\n" * 250_000,
    "```\n<answer>[1]</answer>\n" * 40_000,
    "[" * 1_000_000,
    "<answer>" + "{" * 1_000_000 + "</answer>",
    "<answer>" + "[(" * 9_000 + "</answer>",
    "'" * 1_000_000,
    "<answer>'" + "\\" * 999_980 + "</answer>",
    "< " * 500_000,
    "<answer>[" + "-" * 999_980 + "]</answer>",
    "<answer>" + "😀" * 999_980 + "</answer>",
    "<answer>[" + "1, " * 6000 + "]</answer>",
])
def test_adversarial_megabyte_inputs(text):
    _check(parse_answer(text))


# -- round trips and the fast path ---------------------------------------------------------------
scalars = (st.integers(-10**12, 10**12) | st.text(max_size=8) | st.booleans() | st.none()
           | st.floats(allow_nan=False, allow_infinity=False, width=64))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(values, max_size=8))
def test_round_trip_of_rendered_answers(answer):
    """What the generators render as an answer (Python literal text) parses back to the same set."""
    parsed = parse_answer(f"reasoning...\n<answer>{answer_text(answer)}</answer>")
    assert parsed.format_ok, (answer_text(answer), parsed.error)
    assert key_set(parsed.values) == key_set(answer)


int_lists = st.lists(st.integers(-10**17, 10**17), max_size=12)


@settings(max_examples=400, deadline=None)
@given(int_lists, st.sampled_from(["[{}]", "{{{}}}", "({})", "{}", " [ {} , ] "]), st.sampled_from([",", " , ", ",\n"]))
def test_fast_path_agrees_with_parser(ints, frame, sep):
    body = frame.format(sep.join(str(i) for i in ints))
    fast, slow = parse_answer_content(body), parse_answer_content(body, fast=False)
    assert (fast.format_ok, fast.values, fast.container, fast.error) == (slow.format_ok, slow.values, slow.container, slow.error)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("0123456789-, []{}()")), max_size=20).map("".join))
def test_fast_path_agrees_on_near_misses(body):
    fast, slow = parse_answer_content(body), parse_answer_content(body, fast=False)
    assert (fast.format_ok, fast.values, fast.container) == (slow.format_ok, slow.values, slow.container)
