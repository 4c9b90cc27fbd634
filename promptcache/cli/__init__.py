"""The ``promptcache`` command: one module per subcommand, dispatched from here.

Each subcommand module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code). Modules load lazily, so ``promptcache --help`` stays fast
and a subcommand's heavy imports (simulator, matplotlib) cost nothing to the others.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from promptcache.cli._io import USAGE_ERROR, fail
from promptcache.errors import PromptCacheError

__all__ = ["main"]

#: Subcommand name -> module under promptcache.cli.
SUBCOMMANDS: dict[str, str] = {
    "demo": "demo",
    "plan": "plan",
    "simulate": "simulate",
    "diff": "diff",
    "lint": "lint",
    "report": "report",
}


def _version() -> str:
    """``promptcache.__version__``: the package's own, the one a user's code sees."""
    from promptcache import __version__

    return __version__


def _named(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option), if it is one of ours."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in SUBCOMMANDS else None


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported (the others are
    listed without their help), so ``promptcache plan`` does not pay for ``simulate``'s imports."""
    parser = argparse.ArgumentParser(
        prog="promptcache",
        description="Plan, check and simulate LLM prompt caching (Anthropic, OpenAI, Gemini).",
    )
    parser.add_argument("--version", action="version", version=f"promptcache {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        try:
            module = importlib.import_module(f"promptcache.cli.{module_name}")
        except ModuleNotFoundError as e:
            if e.name != f"promptcache.cli.{module_name}":
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promptcache`` console script.

    Exit codes: 0 success, 1 a finding (lint) or a miss (diff), 2 a usage or input error, printed
    as one line on stderr. A reader that closes the pipe early (``promptcache plan --json | head``)
    ends the command quietly with 0: the output was wanted only in part, nothing failed.
    """
    parser = _parser(_named(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    try:
        code: int = args._run(args)
    except PromptCacheError as e:
        return fail(e)
    except RecursionError:
        return fail("the input is nested too deeply to process.")
    except UnicodeError as e:
        return fail(f"the input holds text that cannot be encoded or decoded ({e}).")
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except SystemExit as e:
        # rich handles a closed pipe itself: stdout to /dev/null, then SystemExit(1).
        if isinstance(e.__context__, BrokenPipeError):
            return 0
        raise
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured by a test harness)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
