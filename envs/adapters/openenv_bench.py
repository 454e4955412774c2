"""Benchmark of the OpenEnv adapter beside the env's exact path (`cfcode env bench --adapters`, run
where openenv is installed: `.nox/openenv/bin/cfcode env bench --adapters --exec-steps 0`).

Same pool, same completions (`envs.bench.completions_for`), one episode = one reset + one step:
  * env: `CounterfactualCode-v0` itself, episodes per CPU second of this process;
  * adapter: the OpenEnv `CounterfactualEnvironment` in-process (its models, its bookkeeping);
  * server: through `python -m envs.adapters.openenv_env` over its WebSocket session, the server pinned
    to one core; episodes per CPU second of the server process (its one-core throughput) and per wall
    second. Its extra cost is OpenEnv's transport: two JSON messages over a WebSocket per episode.
The adapter must cost at most 2x the env (`adapter_cost_vs_env`).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def bench_openenv(cfg: Any, server_episodes: int = 2_000, core: int = 0) -> dict[str, Any]:
    import httpx

    from envs.adapters.openenv_env import (
        CounterfactualAction,
        CounterfactualEnvClient,
        CounterfactualEnvironment,
    )
    from envs.bench_episodes import completions_for, episodes_per_second
    from envs.code_env import CounterfactualCodeEnv

    kwargs = {"families": cfg.families, "num_problems": cfg.num_problems,
              "sandbox_backend": cfg.generation_sandbox_backend, "generation_seed": cfg.seed}
    env = CounterfactualCodeEnv(**kwargs)
    completions = {it.problem.id: [completions_for(it.problem, k) for k in range(4)]
                   for fam in env.families for it in env.pool(fam)}
    steps = cfg.exact_steps
    episodes_per_second(env, completions, min(2_000, steps))  # warm-up
    _, env_rate = episodes_per_second(env, completions, steps)

    adapter = CounterfactualEnvironment(**kwargs)
    actions = {pid: [CounterfactualAction(completion=c) for c in cs] for pid, cs in completions.items()}
    adapter.reset(seed=0)
    cpu = time.process_time()
    for i in range(steps):
        obs = adapter.reset()
        adapter.step(actions[obs.problem_id][i & 3])
    adapter_rate = steps / max(time.process_time() - cpu, 1e-9)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "envs.adapters.openenv_env", "--port", str(port), "--families",
           ",".join(cfg.families), "--num-problems", str(cfg.num_problems), "--generation-seed", str(cfg.seed),
           "--sandbox-backend", cfg.generation_sandbox_backend, "--max-concurrent-envs", "4"]
    pinned = ["taskset", "-c", str(core)] if shutil.which("taskset") else []
    proc = subprocess.Popen([*pinned, *cmd], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the OpenEnv server did not start")
            time.sleep(0.2)
        n = min(server_episodes, steps)
        with CounterfactualEnvClient(base_url=f"http://127.0.0.1:{port}").sync() as client:
            for i in range(100):  # warm-up
                obs = client.reset().observation
                client.step(actions[obs.problem_id][i & 3])
            cpu0, wall0 = _cpu_seconds(proc.pid), time.perf_counter()
            for i in range(n):
                obs = client.reset().observation
                client.step(actions[obs.problem_id][i & 3])
            wall, server_cpu = time.perf_counter() - wall0, _cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    server_rate = n / max(server_cpu, 1e-9)
    return {"completions": steps, "server_completions": n, "env_steps_per_cpu_s": round(env_rate, 1),
            "openenv_adapter_completions_per_cpu_s": round(adapter_rate, 1),
            "openenv_server_completions_per_server_cpu_s": round(server_rate, 1),
            "openenv_server_completions_per_wall_s": round(n / wall, 1),
            "adapter_cost_vs_env": round(env_rate / adapter_rate, 3),
            "server_cost_vs_env": round(env_rate / server_rate, 3), "target_cost_vs_env": 2.0,
            "meets_target": env_rate / adapter_rate <= 2.0}
