"""One set of eval settings: `cfcode eval` / `cfcode compare` options and the experiment's [eval]
table are EvalConfig's fields (same names, same defaults), so none can drift from the dataclass."""
from __future__ import annotations

import dataclasses

import pytest
import typer
from typer.main import get_command

from cfcode_cli import app
from rl.evaluation import EvalConfig
from rl.experiment import EvalSection

CLI_ONLY = {"out", "reuse"}  # where results go / earlier completions come from: not settings of the evaluation
SECTION_ONLY = {"engine", "baselines"}  # how the experiment serves its checkpoints / which baselines run


def _options(command: str) -> dict[str, object]:
    group = get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    cmd = group.commands[command]
    return {p.name: p.default for p in cmd.params if p.param_type_name == "option"}


def _defaults(cls: type) -> dict[str, object]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


@pytest.mark.parametrize("command", ["eval", "compare"])
def test_every_eval_option_is_an_eval_config_field(command):
    fields = _defaults(EvalConfig) | {"model": None}
    options = _options(command)
    extra = {"metric"} if command == "compare" else set()
    unknown = set(options) - set(fields) - CLI_ONLY - extra
    assert not unknown, f"`cfcode {command}` options that are no EvalConfig field: {sorted(unknown)}"
    for name, default in options.items():
        if name in fields and name not in ("model", "label", "suites", "modes"):  # lists are comma-separated text
            assert default == fields[name], f"--{name.replace('_', '-')}: default {default!r} != EvalConfig's"


def test_the_experiment_eval_table_is_eval_config_fields():
    config, section = _defaults(EvalConfig), _defaults(EvalSection)
    shared = set(section) - SECTION_ONLY
    assert shared <= set(config), sorted(shared - set(config))
    assert {k: section[k] for k in shared} == {k: config[k] for k in shared}
    types = {f.name: f.type for f in dataclasses.fields(EvalConfig)}
    assert all(types[f.name] == f.type for f in dataclasses.fields(EvalSection) if f.name in shared)
