"""Deadlines: a stalled call fails loudly with StallTimeout, and a call stuck for good ends the process."""
from __future__ import annotations

import threading
import time

import pytest

from rl.inference.timeouts import STALL_EXIT_CODE, StallTimeout, deadline
from tests.rl.conftest import run_python


@pytest.mark.parametrize("block", [lambda: time.sleep(60), lambda: threading.Event().wait()])
def test_stalled_call_raises_with_a_clear_message(block):
    start = time.monotonic()
    with pytest.raises(StallTimeout, match="vLLM rollout stalled: no result after 1 s"):
        with deadline(1.0, "vLLM rollout"):
            block()
    assert time.monotonic() - start < 10


def test_fast_call_and_no_deadline_pass_through():
    with deadline(30, "fast"):
        time.sleep(0.01)
    with deadline(None, "unbounded"):
        pass
    with pytest.raises(KeyboardInterrupt):  # a real Ctrl-C is not mistaken for a stall
        with deadline(30, "interrupted"):
            raise KeyboardInterrupt


def test_call_that_ignores_the_interrupt_ends_the_process(tmp_path):
    script = tmp_path / "stuck.py"
    script.write_text(
        "import time\nfrom rl.inference.timeouts import deadline\n"
        "with deadline(1, 'weight sync to vLLM', grace_s=1):\n"
        "    while True:\n"
        "        try:\n            time.sleep(5)\n"
        "        except KeyboardInterrupt:\n            pass  # like native code that swallows the signal\n")
    proc = run_python([str(script)], timeout=60)
    assert proc.returncode == STALL_EXIT_CODE
    assert "weight sync to vLLM stalled" in proc.stderr and "dumping stacks" in proc.stderr


def test_a_swallowing_sigint_handler_left_by_a_library_does_not_defeat_the_deadline(tmp_path):
    """A server or engine may leave its own SIGINT handler installed (seen: the full test run ended
    with exit 75 because the interrupt was swallowed); the deadline still raises StallTimeout and
    puts the caller's handler back afterwards."""
    script = tmp_path / "swallowed.py"
    script.write_text(
        "import signal, threading\nfrom rl.inference.timeouts import StallTimeout, deadline\n"
        "swallow = lambda *a: None\nsignal.signal(signal.SIGINT, swallow)\n"
        "try:\n    with deadline(1, 'vLLM rollout', grace_s=5):\n        threading.Event().wait(20)\n"
        "except StallTimeout as exc:\n    print('stalled:', exc)\n"
        "assert signal.getsignal(signal.SIGINT) is swallow\nprint('handler restored')\n")
    proc = run_python([str(script)], timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "stalled: vLLM rollout stalled" in proc.stdout and "handler restored" in proc.stdout


def test_infinite_and_nan_deadlines(capfd):
    """inf (TOML's `inf`, 1e400) killed the watchdog thread with an OverflowError traceback; NaN (TOML's `nan`
    through engine_kwargs, which no range check sees) made every call a StallTimeout at once."""
    with deadline(float("inf"), "unbounded"):
        time.sleep(0.05)
    assert "Traceback" not in capfd.readouterr().err
    with pytest.raises(ValueError, match="timeout"):
        with deadline(float("nan"), "nan"):
            pass
