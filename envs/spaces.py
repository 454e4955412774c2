"""The env's text spaces: gymnasium `Text` with declared lengths that admits any string a model writes.

Why a subclass: `Text` checks membership character by character against its charset, and a charset
holding all of Unicode (1.1M code points) would cost ~200 MB per env. `AnyText` keeps a small,
deliberate charset for `sample()` (printable ASCII, space, newline, tab and some non-ASCII letters,
symbols and an emoji, so random samples exercise the parser) while `contains` admits every `str`
within the length bounds: completions are free text.
"""
from __future__ import annotations

import string
from typing import Any

from gymnasium import spaces

SAMPLE_CHARSET = string.printable + "éüßλπ→≤∑中文한😀<>/"


class AnyText(spaces.Text):
    """`Text(min_length, max_length)` accepting any unicode string; `sample()` draws from SAMPLE_CHARSET."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"
