"""Isolation never drops silently: "auto" is decided once per process, said in one warning line, and
refused where untrusted code runs when it would mean the weaker local backend.

Each case runs in a fresh interpreter (the decision is per process); a dead engine is simulated by
pointing DOCKER_HOST at a socket that does not exist. Needs a real Docker engine for the first case.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

DEAD_ENGINE = "unix:///nonexistent/cfcode-no-docker.sock"


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    if "CFCODE_SANDBOX_REQUIRE_DOCKER" not in env:
        full.pop("CFCODE_SANDBOX_REQUIRE_DOCKER", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True,
                          env=full, timeout=120)


@pytest.mark.docker
def test_engine_lost_after_start_never_switches_a_running_job_to_local():
    proc = run(f"""
        import os
        from sandbox import make_sandbox, SandboxUnavailable
        with make_sandbox("auto") as sb:
            assert sb.backend == "docker", sb.backend
        os.environ["DOCKER_HOST"] = "{DEAD_ENGINE}"   # the engine stalls / goes away mid-run
        for _ in range(3):
            try:
                sb = make_sandbox("auto")
            except SandboxUnavailable:
                print("refused")
                continue
            print(sb.backend)
            sb.close()
    """)
    assert proc.returncode == 0, proc.stderr
    assert "local" not in proc.stdout.split(), proc.stdout
    decided = [line for line in proc.stderr.splitlines() if "sandbox backend 'auto' ->" in line]
    assert len(decided) == 1 and "docker" in decided[0], proc.stderr


def test_auto_without_docker_says_so_in_one_line_and_stays_local():
    proc = run("""
        from sandbox import make_sandbox
        for _ in range(3):
            with make_sandbox("auto") as sb:
                print(sb.backend)
    """, DOCKER_HOST=DEAD_ENGINE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["local"] * 3
    decided = [line for line in proc.stderr.splitlines() if "sandbox backend 'auto' ->" in line]
    assert len(decided) == 1, proc.stderr
    assert "local" in decided[0] and "weaker" in decided[0] and "no Docker engine answered" in decided[0]


UNTRUSTED = {
    "env reward (abduce)": """
        from tests.envs.envs_problems import make_problem
        from envs import score_completion
        score_completion(make_problem("x"), "<answer>[4]</answer>", question="abduce")
    """,
    "TRL reward": """
        from tests.envs.envs_problems import make_problem
        from envs import make_reward_fn
        make_reward_fn("f1")(["<answer>[4]</answer>"], problem=[make_problem("x").to_json()], question=["abduce"])
    """,
    "abduce_predict reward": """
        from tests.envs.envs_problems import make_problem
        from envs import score_batch
        score_batch([make_problem("x")], ["<latents>[1, 4]</latents><answer>[2, 5]</answer>"],
                    question="abduce_predict")
    """,
    "shared sandbox": """
        from envs.shared_sandbox import shared_sandbox
        shared_sandbox("auto")
    """,
}


@pytest.mark.parametrize("where", sorted(UNTRUSTED))
def test_untrusted_code_refuses_the_local_fallback(where):
    proc = run(textwrap.dedent(UNTRUSTED[where]) + "\nprint('ran')\n", DOCKER_HOST=DEAD_ENGINE)
    assert proc.returncode != 0 and "ran" not in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("sandbox.factory.LocalFallbackRefused: sandbox backend 'auto' would fall back"), last
    assert "CFCODE_SANDBOX_REQUIRE_DOCKER=0" in last


def test_the_setting_overrides_both_ways():
    code = """
        from sandbox import make_sandbox, LocalFallbackRefused
        from envs.shared_sandbox import shared_sandbox
        for name, build in (("make", lambda: make_sandbox("auto")), ("shared", lambda: shared_sandbox("auto"))):
            try:
                print(name, build().backend)
            except LocalFallbackRefused:
                print(name, "refused")
        print("explicit", make_sandbox("local", allow_local_fallback=False).backend)
    """
    strict = run(code, DOCKER_HOST=DEAD_ENGINE, CFCODE_SANDBOX_REQUIRE_DOCKER="1")
    assert strict.stdout.split("\n")[:3] == ["make refused", "shared refused", "explicit local"], strict.stderr
    lax = run(code, DOCKER_HOST=DEAD_ENGINE, CFCODE_SANDBOX_REQUIRE_DOCKER="0")
    assert lax.stdout.split("\n")[:3] == ["make local", "shared local", "explicit local"], lax.stderr
    bad = run(code, DOCKER_HOST=DEAD_ENGINE, CFCODE_SANDBOX_REQUIRE_DOCKER="maybe")
    assert "CFCODE_SANDBOX_REQUIRE_DOCKER must be 1 or 0" in bad.stderr


def test_cfcode_eval_refuses_in_one_line_and_writes_nothing(tmp_path):
    from pathlib import Path

    out = tmp_path / "eval"
    env = {**os.environ, "DOCKER_HOST": DEAD_ENGINE}
    env.pop("CFCODE_SANDBOX_REQUIRE_DOCKER", None)
    proc = subprocess.run([str(Path(sys.executable).parent / "cfcode"), "eval", "--model", "oracle", "--suites",
                           "if_else", "--limit", "2", "--out", str(out)], check=False, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cfcode: error:")]
    assert len(errors) == 1 and "would fall back to the local backend" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
