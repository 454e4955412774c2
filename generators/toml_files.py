"""The one TOML reader of the project (run configs, experiment configs, `cfcode counterfactualize`
specs), and where a key is set in the file, so that errors name file:line."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generators.errors import InputError, MissingInputError

Locate = Callable[[str], str]


class TomlSyntaxError(InputError):
    """The file is not valid TOML (the message has tomllib's line and column)."""


def read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """The one TOML reader of the project: (data, text); a missing, unreadable or invalid file is an
    InputError of one line (naming the file and, for syntax errors, the line)."""
    path = Path(path)
    if path.is_dir():
        raise MissingInputError(f"expected a TOML config file, got a directory: {path}")
    if not path.is_file():
        raise MissingInputError(f"no config file at {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"expected UTF-8 TOML, got byte {exc.object[exc.start]:#04x} at offset {exc.start}",
                         where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark (Windows editors): tomllib calls it invalid
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise TomlSyntaxError(f"invalid TOML: {exc}", where=str(path)) from None


def toml_locator(path: str | Path, text: str, table: str | None) -> Locate:
    """`locate(key)` -> `path:line: [table]` of the line that sets `key` in `table` (None: top level)."""
    lines: dict[str, int] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\[\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).strip().strip('"')
            if table is None:  # a table header is where a top-level key `current` is set
                lines.setdefault(current.split(".")[0], lineno)
            continue
        match = re.match(r"""^["']?([A-Za-z0-9_.-]+)["']?\s*=""", stripped)
        if match and current == table:
            lines.setdefault(match.group(1), lineno)
    label = f" [{table}]" if table else ""

    def locate(key: str) -> str:
        where = f"{path}:{lines[key]}" if key in lines else str(path)
        return f"{where}:{label}" if label else where

    return locate
