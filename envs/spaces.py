"""The env's text spaces: gymnasium `Text` with declared lengths that admits any string a model writes.

Why a subclass: `Text` checks membership character by character against its charset, and a charset
holding all of Unicode (1.1M code points) would cost ~200 MB per env. `AnyText` keeps a small,
deliberate charset for `sample()` (printable ASCII, space, newline, tab and some non-ASCII letters,
symbols and an emoji, so random samples exercise the parser) while `contains` admits every `str`
within the length bounds: completions are free text.

Why its own flatten and shared memory: gymnasium flattens a `Text` into charset indices, so a
character outside the charset (any prompt with a non-ASCII letter) raises KeyError, and
`AsyncVectorEnv`'s shared memory reads a `Text` batch once, when the vector env is built, into a
tuple of strings that later steps never update: every observation of `gym.make_vec(...,
vectorization_mode="async")` was the same 32,768 zeros. `AnyText` flattens to Unicode code points
(padding: 0x110000, one past the largest), and its shared-memory batch is a live read-only view, so
async vector envs return the observations the envs produced, any character included.
"""
from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.spaces.utils import flatten, flatten_space, unflatten
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

SAMPLE_CHARSET = string.printable + "éüßλπ→≤∑中文한😀<>/"
PAD = 0x110000  # flattened padding after the text: one past the largest code point


class AnyText(spaces.Text):
    """`Text(min_length, max_length)` accepting any unicode string; `sample()` draws from SAMPLE_CHARSET."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"


def _code_points(space: AnyText, text: str) -> np.ndarray:
    if not space.contains(text):
        raise ValueError(f"{space!r} does not contain a {type(text).__name__} of length "
                         f"{len(text) if isinstance(text, str) else '?'}")
    out = np.full(space.max_length, PAD, dtype=np.int32)
    points = np.frombuffer(str(text).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    out[:len(points)] = points
    return out


def _text(points: np.ndarray) -> str:
    points = np.asarray(points)
    end = int(np.argmax(points == PAD)) if (points == PAD).any() else len(points)
    return points[:end].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


@flatten.register(AnyText)
def _flatten_any_text(space: AnyText, x: str) -> np.ndarray:
    return _code_points(space, x)


@unflatten.register(AnyText)
def _unflatten_any_text(space: AnyText, x: np.ndarray) -> str:
    return _text(x)


@flatten_space.register(AnyText)
def _flatten_space_any_text(space: AnyText) -> spaces.Box:
    return spaces.Box(low=0, high=PAD, shape=(space.max_length,), dtype=np.int32)


class SharedTexts(Sequence):
    """A batch of texts in shared memory, read when accessed (a copy or deepcopy is a tuple of str)."""

    def __init__(self, space: AnyText, memory: Any, n: int) -> None:
        self._rows = np.frombuffer(memory.get_obj(), dtype=np.int32).reshape((n, space.max_length))

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(_text(row) for row in self._rows[index])
        return _text(self._rows[index])

    def __iter__(self) -> Iterator[str]:
        return (_text(row) for row in self._rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> tuple[str, ...]:
        return tuple(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"SharedTexts({tuple(self)!r})"


@create_shared_memory.register(AnyText)
def _create_any_text_memory(space: AnyText, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing

    return (ctx or multiprocessing).Array(np.dtype(np.int32).char, n * space.max_length)


@read_from_shared_memory.register(AnyText)
def _read_any_texts(space: AnyText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)


@write_to_shared_memory.register(AnyText)
def _write_any_text(space: AnyText, index: int, values: str, shared_memory: Any) -> None:
    size = space.max_length
    destination = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)
    np.copyto(destination[index * size:(index + 1) * size], _code_points(space, values))
