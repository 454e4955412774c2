"""`cfcode export`: a suite or generated set in the formats other stacks load directly.

    hf       Hugging Face dataset: data/<split>-00000-of-00001.parquet + a dataset card (README.md)
    verl     verl RL parquet: data_source, prompt (chat messages), ability, reward_model, extra_info
    lm_eval  lm-evaluation-harness task folder: one task per suite and mode, one group, scored by
             envs.adapters.lm_eval (the project's own parser and scorer)
    openrlhf OpenRLHF prompt parquet: prompt (chat messages) and a flat `label` (the record as JSON)

Every format carries the record losslessly: nested fields whose types a loader would infer travel as
JSON strings (`datasets`' JSON loader widens mixed fields, 1 -> 1.0, and fails outright on the frozen
suites read together), and the scorers receive the whole record as JSON.
"""
from generators.export.core import FORMATS, ExportReport, export_problems, load_sources

__all__ = ["FORMATS", "ExportReport", "export_problems", "load_sources"]
