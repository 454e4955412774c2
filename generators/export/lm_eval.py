"""lm-evaluation-harness task folder: one task per (split, family, mode) and a group over them.

    lm_eval --model hf --model_args pretrained=PATH --include_path OUT/lm_eval \
            --tasks counterfactual_code --apply_chat_template --log_samples --output_path runs/lm_eval

The folder is self-contained and relocatable: `utils.py` loads its own `data/*.jsonl` (every field a
string, so no loader type inference touches the record) and scores through
`envs.adapters.lm_eval.process_results`, the same parser and scorer as `cfcode eval`, so the
project must be importable where lm-eval runs. Generation stops only at the model's EOS
(`until: []`): lm-eval cuts the stop sequence off the output, so stopping on `</answer>` would leave
every answer unclosed (a format error).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from generators.schema import Problem

MAX_GEN_TOKS = 1024  # cfcode eval's default max_tokens

UTILS = '''"""lm-eval glue for counterfactual-code tasks (written by `cfcode export --format lm_eval`).

Scoring is the project's own: envs.adapters.lm_eval.process_results (same parser and scorer as
`cfcode eval`). Install the project where lm-eval runs (`pip install -e /path/to/counterfactual-code`).
"""
import json
from pathlib import Path

from envs.adapters.lm_eval import process_results  # noqa: F401  (referenced by the task YAMLs)

DATA = Path(__file__).resolve().parent / "data"


def load_docs(data_file, **kwargs):
    """`custom_dataset`: this folder's data file as a one-split DatasetDict (every column a string)."""
    import datasets

    with (DATA / data_file).open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
'''


def task_name(group: str, split: str, family: str, mode: str) -> str:
    return f"{group}_{family}_{mode}" if split == "test" else f"{group}_{split}_{family}_{mode}"


def doc(problem: Problem) -> dict[str, str]:
    """One lm-eval doc: strings only; `record` is the whole problem for the scorer."""
    return {"id": problem.id, "family": problem.family, "mode": problem.mode, "prompt": problem.prompt,
            "gold_trace": problem.gold_trace, "record": problem.to_json()}


def _task_yaml(name: str, group: str, data_file: str) -> str:
    return "\n".join([
        f"task: {name}",
        f"tag: {group}_tasks",
        "custom_dataset: !function utils.load_docs",
        "dataset_kwargs:",
        f"  data_file: {data_file}",
        "test_split: test",
        "output_type: generate_until",
        'doc_to_text: "{{prompt}}"',
        'doc_to_target: "{{gold_trace}}"',
        "num_fewshot: 0",
        "generation_kwargs:",
        "  until: []          # EOS only: never stop on </answer> (lm-eval cuts the stop string off)",
        f"  max_gen_toks: {MAX_GEN_TOKS}",
        "  do_sample: false",
        "  temperature: 0.0",
        "process_results: !function utils.process_results",
        "metric_list:",
        "  - metric: exact_match",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: f1",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: format_ok",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        "  version: 1.0",
        "",
    ])


def _group_yaml(group: str, tasks: list[str]) -> str:
    return "\n".join([
        f"group: {group}",
        "task:",
        *[f"  - {t}" for t in tasks],
        "aggregate_metric_list:",
        *[line for m in ("exact_match", "f1", "format_ok")
          for line in (f"  - metric: {m}", "    aggregation: mean", "    weight_by_size: true")],
        "metadata:",
        "  version: 1.0",
        "",
    ])


def write(splits: dict[str, list[Problem]], out: Path, name: str, command: str) -> None:
    group = name.replace("-", "_")
    (out / "data").mkdir(parents=True, exist_ok=True)
    by_task: dict[tuple[str, str, str], list[Problem]] = defaultdict(list)
    for split, problems in splits.items():
        for p in problems:
            by_task[(split, p.family, p.mode)].append(p)
    tasks = []
    for (split, family, mode), problems in sorted(by_task.items()):
        task = task_name(group, split, family, mode)
        data_file = f"{split}.{family}.{mode}.jsonl"
        with (out / "data" / data_file).open("w", encoding="utf-8", newline="\n") as fh:
            for p in problems:
                fh.write(json.dumps(doc(p), sort_keys=True, ensure_ascii=False) + "\n")
        (out / f"{task}.yaml").write_text(_task_yaml(task, group, data_file), encoding="utf-8")
        tasks.append(task)
    (out / f"{group}.yaml").write_text(_group_yaml(group, tasks), encoding="utf-8")
    (out / "utils.py").write_text(UTILS, encoding="utf-8")
    (out / "README.md").write_text("\n".join([
        f"# {group}: lm-evaluation-harness tasks", "",
        f"Group `{group}` ({len(tasks)} tasks, one per split, family and mode). Run:", "",
        "```bash",
        "lm_eval --model hf --model_args pretrained=PATH --include_path THIS_FOLDER \\",
        f"        --tasks {group} --apply_chat_template --log_samples --output_path runs/lm_eval",
        "```", "",
        "Metrics per task: `exact_match` (the answer set equals the gold set), `f1` (set F1),",
        "`format_ok` (an `<answer>` block was found and parsed), from counterfactual-code's own scorer",
        "(`envs.adapters.lm_eval.process_results`). Written by:", "", "```bash", command or "cfcode export ...",
        "```", ""]), encoding="utf-8")
