"""Deadlines for blocking calls (rollouts, weight syncs) so a stalled engine fails loudly, never hangs.

A watchdog thread sends SIGINT to the main thread when a deadline passes (a real signal, so blocking
waits wake up), which surfaces as `StallTimeout`; if the stalled call is stuck in native code and does
not return to Python within a grace period, the watchdog dumps every thread's stack and exits the
process with a clear message: a dead run beats a silently hung one.
"""
from __future__ import annotations

import faulthandler
import math
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

STALL_EXIT_CODE = 75


class StallTimeout(TimeoutError):
    """A rollout or weight sync exceeded its deadline."""


@contextmanager
def deadline(seconds: float | None, what: str, grace_s: float = 30.0) -> Iterator[None]:
    """Run the body under a deadline of `seconds` (None, <= 0 or infinite: no deadline; NaN: ValueError).

    In the main thread the body is interrupted with `StallTimeout`; elsewhere (and if interrupting does
    not work within `grace_s`) the process is terminated with exit code `STALL_EXIT_CODE`.
    """
    if seconds is not None and math.isnan(seconds):  # every wait would end at once: a stall at each call
        raise ValueError(f"{what}: timeout must be a number of seconds (or None for none), got nan")
    if not seconds or seconds <= 0 or seconds >= threading.TIMEOUT_MAX:  # inf: Event.wait overflows
        yield
        return
    message = (f"{what} stalled: no result after {seconds:.0f} s. The engine is hung or far too slow; "
               f"raise the timeout if this is expected.")
    in_main = threading.current_thread() is threading.main_thread()
    fired = threading.Event()
    done = threading.Event()

    def watchdog() -> None:
        if done.wait(seconds):
            return
        fired.set()
        print(f"[cfcode] {message}", file=sys.stderr, flush=True)
        if in_main:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            if done.wait(grace_s):
                return
        print(f"[cfcode] {what} did not return after the interrupt; dumping stacks and exiting.",
              file=sys.stderr, flush=True)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        os._exit(STALL_EXIT_CODE)

    # The interrupt must surface as KeyboardInterrupt: a library (a server, an engine) may have left its
    # own SIGINT handler installed, which would swallow it and leave only the hard exit.
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    if previous is not None and previous is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    thread = threading.Thread(target=watchdog, name=f"deadline:{what}", daemon=True)
    thread.start()
    try:
        yield
    except KeyboardInterrupt:
        if fired.is_set():
            raise StallTimeout(message) from None
        raise
    finally:
        done.set()
        if previous is not None and previous is not signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
    if fired.is_set():  # the interrupt landed after the body finished: still report the stall
        raise StallTimeout(message)
