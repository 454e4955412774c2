"""Run every benchmark once; append one JSON line per benchmark to benchmarks/results.jsonl.

Each benchmark measures its comparisons back to back in one run (the machines are noisy), so compare
the ratios inside a line, not absolute numbers across lines.
    .venv/bin/python benchmarks/run_all.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ["sandbox bench", "suites bench", "env bench", "bench rollout", "bench grpo-step"]


def last_json_object(stdout: str) -> dict:
    """The benchmarks print one JSON object (some indented) after any log lines."""
    return json.loads(stdout[stdout.rfind("\n{") + 1:])


def main() -> None:
    cfcode = str(Path(sys.executable).parent / "cfcode")
    out = ROOT / "benchmarks" / "results.jsonl"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for bench in BENCHES:
        print(f"[bench] cfcode {bench} --json", file=sys.stderr, flush=True)
        proc = subprocess.run([cfcode, *bench.split(), "--json"], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"cfcode {bench} failed:\n{proc.stderr[-3000:]}")
        record = {"bench": bench, "utc": stamp, "result": last_json_object(proc.stdout)}
        with out.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    print(f"appended {len(BENCHES)} lines to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
