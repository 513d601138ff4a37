"""Command-line mistakes as one line and exit status 2, shared by ``mote_lib.train`` and ``mote_lib.evaluate``.

Standard library only: the command lines check their arguments with it before torch or mteb is
imported, so a mistake is reported in a fraction of a second.

Example:
    >>> from mote_lib.cli import CommandLineError, run_command_line
    >>> def command(argv):
    ...     raise CommandLineError("--steps 0: give at least one step")
    >>> run_command_line(command, [], prog="demo")   # prints "demo: error: --steps 0: ..." on stderr
    2
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

# Set to any value but 0 for full tracebacks of command-line mistakes (as --debug does).
DEBUG_VARIABLE = "MOTE_DEBUG"


class CommandLineError(ValueError):
    """A mistake in a command line or in the inputs it names: one line on stderr, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose mistakes raise ``CommandLineError`` (one line, no usage block)."""

    def error(self, message: str):
        raise CommandLineError(message)


def run_command_line(command, argv: list[str] | None = None, prog: str = "mote_lib") -> int:
    """``command(argv)``, with a ``CommandLineError`` reported as one line and exit status 2.

    ``--debug`` in ``argv`` or ``MOTE_DEBUG=1`` shows its traceback instead; other errors always do.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return command(argv)
    except CommandLineError as err:
        if "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "0") not in ("", "0"):
            raise
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2


# ----------------------------------------------------------------------------- console scripts


def _run_as_main(module: str, argv: list[str] | None) -> int:
    """``python -m <module> *argv`` in this process; its exit status.

    Running the module as ``__main__`` (rather than calling its ``main``) keeps its fast path: the
    command line is checked before torch or mteb is imported, so a mistake costs a fraction of a second.
    """
    saved = sys.argv
    if argv is not None:
        sys.argv = [module, *argv]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = saved
    return 0


def train_command(argv: list[str] | None = None) -> int:
    """The ``mote-train`` console script: ``python -m mote_lib.train``."""
    return _run_as_main("mote_lib.train", argv)


def evaluate_command(argv: list[str] | None = None) -> int:
    """The ``mote-evaluate`` console script: ``python -m mote_lib.evaluate``."""
    return _run_as_main("mote_lib.evaluate", argv)


def report_command(prog: str, description: str, write, argv: list[str] | None = None) -> int:
    """A command that takes no options and (re)writes generated files: ``--help`` shows ``description``;
    ``write()`` returns the path or paths written, printed one per line."""
    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    written = write()
    for path in written if isinstance(written, (list, tuple)) else [written]:
        print(path)
    return 0
