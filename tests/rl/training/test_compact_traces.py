"""The compact gold-trace style for SFT rows: the abduction table without per-combination evaluations."""
from __future__ import annotations

import pytest

from generators.render import compact_trace
from rl.training.data import gold_sft_rows

FULL = """Step 1 - abduction: the hidden values range over r in 0..2 (3 possibilities). Keep those that reproduce f(x=0) = 2.
  r=0: gives 2 (r % 2 != 1 is True; y = 2 - (x - 0) = 2; return y % 4 = 2) -> fits
  r=1: gives (1, 2) (r % 2 != 1 is False; y = (r, 2)) -> does not fit
  r=2: gives (1, 2) -> does not fit
So the observation leaves 1 possibility: r=0.
Step 2 - intervention: set x = 5, keeping the hidden values above.
Step 3 - prediction:
  r=0: f(x=5) returns 1 (r % 2 != 1 is True; y = 2 - x = -3; return y % 4 = 1)
The distinct possible outputs are [1].
<answer>[1]</answer>"""


def test_compact_trace_drops_table_explanations_only():
    lines = compact_trace(FULL).split("\n")
    assert lines[1] == "  r=0: gives 2 -> fits"
    assert lines[2] == "  r=1: gives (1, 2) -> does not fit"  # a tuple value is kept, its explanation not
    assert lines[3] == "  r=2: gives (1, 2) -> does not fit"  # no explanation: the value stays
    assert lines[7] == FULL.split("\n")[7]  # prediction lines keep their explanation
    assert lines[-1] == "<answer>[1]</answer>" and len(lines) == len(FULL.split("\n"))


def test_compact_rows_on_generated_problems(train_problems):
    full = gold_sft_rows(train_problems)
    compact = gold_sft_rows(train_problems, "compact")
    assert [r["prompt"] for r in full] == [r["prompt"] for r in compact]
    for p, row in zip(train_problems, compact):
        text = row["completion"][0]["content"]
        assert row["completion"][0]["role"] == "assistant"
        assert text.split("\n")[-1] == p.gold_trace.split("\n")[-1]  # same answer line
        table = [ln for ln in text.split("\n") if ln.endswith(("-> fits", "-> does not fit"))]
        assert table and all("(" not in ln.split(": gives ")[1] for ln in table), table
    assert sum(len(r["completion"][0]["content"]) for r in compact) < \
        0.8 * sum(len(r["completion"][0]["content"]) for r in full)
    assert [r["completion"][0]["content"] for r in full] == [p.gold_trace for p in train_problems]


def test_unknown_trace_style_is_rejected(train_problems):
    from rl.training.config import SFTRunConfig

    with pytest.raises(ValueError, match="trace style"):
        gold_sft_rows(train_problems, "short")
    with pytest.raises(ValueError, match="trace_style"):
        SFTRunConfig.from_dict({"model": "m", "trace_style": "short"})
    assert SFTRunConfig.from_dict({"model": "m", "trace_style": "compact"}).trace_style == "compact"
