"""Benchmark: completions scored per second through the OpenEnv adapter, beside the env's exact path.

Run in the openenv nox venv (`.venv/bin/nox -s openenv --install-only` once):
    .nox/openenv/bin/python benchmarks/bench_openenv.py [--episodes 3000] [--json]

Three rates, each one episode = one reset + one step scoring one completion (the four completion styles
of `envs.bench`: gold trace, wrong, unformatted, hedging), measured back to back:
  * env:      `CounterfactualCode-v0` itself (the exact path; episodes per CPU second of this process);
  * adapter:  the OpenEnv `CounterfactualEnvironment` in-process (pydantic action/observation models);
  * server:   through the server over its WebSocket session, the server pinned to one core; the rate
              per CPU second of the server process (its one-core throughput) and per wall second.
The adapter must cost at most 2x the env: `adapter_over_env` is checked; the server's extra cost is
OpenEnv's transport (JSON over a WebSocket, one round trip per reset and per step), reported as is.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAMILIES = ["if_else"]
SUITE = "frozen:test"


def _completions():
    from envs.bench import completions_for
    from envs.code_env import CounterfactualCodeEnv

    env = CounterfactualCodeEnv(families=FAMILIES, suite=SUITE)
    items = list(env.pool(FAMILIES[0]))
    return env, {it.problem.id: [completions_for(it.problem, k) for k in range(4)] for it in items}


def bench_env(episodes: int) -> float:
    env, completions = _completions()
    env.reset(seed=0)
    cpu = time.process_time()
    for i in range(episodes):
        _, info = env.reset()
        env.step(completions[info["problem_id"]][i & 3])
    return episodes / (time.process_time() - cpu)


def bench_adapter(episodes: int) -> float:
    from envs.adapters.openenv_env import CounterfactualAction, CounterfactualEnvironment

    _, completions = _completions()
    env = CounterfactualEnvironment(families=FAMILIES, suite=SUITE)
    env.reset(seed=0)
    cpu = time.process_time()
    for i in range(episodes):
        obs = env.reset()
        env.step(CounterfactualAction(completion=completions[obs.problem_id][i & 3]))
    return episodes / (time.process_time() - cpu)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def bench_server(episodes: int, core: int) -> dict[str, float]:
    import httpx

    from envs.adapters.openenv_env import CounterfactualAction, CounterfactualEnvClient

    _, completions = _completions()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "envs.adapters.openenv_env", "--port", str(port), "--families", ",".join(FAMILIES),
           "--suite", SUITE, "--max-concurrent-envs", "4"]
    proc = subprocess.Popen(["taskset", "-c", str(core), *cmd], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the OpenEnv server did not start")
            time.sleep(0.2)
        with CounterfactualEnvClient(base_url=f"http://127.0.0.1:{port}").sync() as env:
            for i in range(50):  # warm-up: pools, imports, the session's executor thread
                obs = env.reset().observation
                env.step(CounterfactualAction(completion=completions[obs.problem_id][i & 3]))
            cpu0, wall0 = _cpu_seconds(proc.pid), time.perf_counter()
            for i in range(episodes):
                obs = env.reset().observation
                env.step(CounterfactualAction(completion=completions[obs.problem_id][i & 3]))
            wall = time.perf_counter() - wall0
            cpu = _cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"per_server_cpu_s": episodes / max(cpu, 1e-9), "per_wall_s": episodes / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=3000)
    ap.add_argument("--server-episodes", type=int, default=1000)
    ap.add_argument("--core", type=int, default=0, help="CPU core the server is pinned to")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    env_rate = bench_env(a.episodes)
    adapter_rate = bench_adapter(a.episodes)
    server = bench_server(a.server_episodes, a.core)
    out = {
        "episodes": a.episodes, "server_episodes": a.server_episodes,
        "env_completions_per_cpu_s": round(env_rate, 1),
        "openenv_adapter_completions_per_cpu_s": round(adapter_rate, 1),
        "openenv_server_completions_per_server_cpu_s": round(server["per_server_cpu_s"], 1),
        "openenv_server_completions_per_wall_s": round(server["per_wall_s"], 1),
        "adapter_over_env": round(env_rate / adapter_rate, 2),
        "server_over_env": round(env_rate / server["per_server_cpu_s"], 2),
        "adapter_within_2x": env_rate / adapter_rate <= 2.0,
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:48s} {v}")


if __name__ == "__main__":
    main()
