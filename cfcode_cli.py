"""The `cfcode` command. Each package contributes its own Typer sub-app; heavy imports stay lazy.

Bad input ends every command the same way: one line `cfcode: error: ...` on stderr and exit code 2.
Commands raise `InputError` (generators.errors) for user mistakes; this is the one place that turns
one escaping a command, or a Click usage error, into that line. Anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

import errno
import sys
from typing import Any

import typer

from envs.cli import register as register_envs
from generators import EXIT_CODE, InputError, print_error
from generators.cli import register as register_generators
from rl.cli import register as register_rl
from sandbox.cli import app as sandbox_app

# Typer vendors Click in recent versions; its exception classes are reached through a public one.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Cfcode(typer.Typer):
    """Typer app whose entry point reports user errors in one line instead of a box or a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("standalone_mode", False)
        try:
            _check_utf8(kwargs.get("args", args[0] if args else sys.argv[1:]))
            rv = super().__call__(*args, **kwargs)
        except InputError as exc:
            print_error(str(exc))
            sys.exit(EXIT_CODE)
        except _ClickException as exc:  # usage errors: unknown option, `--n abc`, missing argument
            if type(exc).__name__ == "NoArgsIsHelpError":  # `cfcode` or `cfcode train` alone: the help
                exc.show()
            else:
                print_error(exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        except OSError as exc:
            if not _stdout_broken(exc):
                raise
            _silence_stdout()  # else Python's exit-time flush prints "Exception ignored ..." lines
            if exc.errno == errno.EPIPE:  # the reader went away (`| head`): nothing to report
                sys.exit(1)
            print_error(f"cannot write to standard output: {exc.strerror or exc}")
            sys.exit(EXIT_CODE)
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else None


def _stdout_broken(exc: OSError) -> bool:
    """The error is standard output's (`> /dev/full`, a closed pipe): the frame that wrote (click's echo)
    wrote to file descriptor 1, or the standard output still fails when flushed."""
    if exc.filename is not None or exc.errno not in (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EFBIG,
                                                     errno.EDQUOT):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    target = tb.tb_frame.f_locals.get("file") if tb is not None else None
    try:
        if target is not None and target.fileno() == sys.__stdout__.fileno():
            return True
    except (AttributeError, OSError, ValueError):
        pass
    try:
        sys.stdout.flush()
    except OSError:
        return True
    return False


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _check_utf8(argv: Any) -> None:
    """Arguments come from bytes; one that is not UTF-8 arrives with lone surrogates, which every writer
    (eval.json, samples, exports) refuses only after all the work. Refused here, before any."""
    import os

    for index, arg in enumerate(argv or (), 1):
        if isinstance(arg, str) and not arg.isascii():
            raw = os.fsencode(arg)
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"expected UTF-8 text, got byte {raw[exc.start]:#04x} at offset "
                                 f"{exc.start} of {raw!r}", field=f"argument {index}") from None


app = _Cfcode(help="counterfactual-code: counterfactual reasoning problems, sandbox, env and RL.",
              no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(sandbox_app, name="sandbox", help="Docker execution sandbox: image, benchmark.")
register_generators(app)
register_envs(app)
register_rl(app)

if __name__ == "__main__":
    sys.exit(app())
